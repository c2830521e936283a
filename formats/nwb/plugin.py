"""The ``nwb`` format plugin: one simulation run as an NWB 2 file (pynwb), and back.

pynwb, hdmf and the converter are imported inside ``read``/``write`` (importing pynwb takes
~1 s); sniffing reads two root attributes with h5py.
"""

from __future__ import annotations

import os
from typing import Any

from .. import base
from ..base import HDF5_MAGIC, Document, Format, has_magic

__all__ = ["NwbFormat"]


class NwbFormat(Format):
    """A simulation run as NWB: spikes in Units, traces as TimeSeries, LFP as an
    ElectricalSeries, nethub's provenance in ``processing/nethub``."""

    name = "nwb"
    description = "NWB 2 file of one simulation run (Units, traces, LFP, provenance); pynwb"
    suffixes = (".nwb",)
    can_read = True
    can_write = True
    extra = "nwb"
    requires = ("pynwb", "hdmf")
    # the network's cells go into the Units table and its hash into the provenance; the rest
    # of the network is referenced, not held (the writer reports it)
    holds_network = True
    holds_results = True
    holds_spec = False
    lossless = False
    read_options = {
        "network": "a store holding the network the run was simulated with (checked by "
                   "content hash); without it only the run is read",
        "run": "name of the run read (default: the name recorded in the file)",
    }
    write_options = {
        "run": "the run to export, by name or position (default -1: the latest)",
        "source": "path or URL of the store the run comes from, recorded in the provenance "
                  "(nethub convert STORE OUT.nwb fills it in)",
        "embed_store": "embed a byte copy of the source store in the file "
                       "(scratch/nethub_source)",
        "metadata": "NWBFile fields, e.g. {\"experimenter\": [\"Doe, J.\"], "
                    "\"institution\": \"...\"}",
        "subject": "Subject fields of the animal the model stands for, e.g. "
                   "{\"species\": \"Mus musculus\", \"age\": \"P56D\"} (DANDI needs a "
                   "species)",
        "compression": "'gzip' for large datasets, or 'none' (default, fastest)",
    }

    def sniff(self, path: str | os.PathLike) -> bool:
        """HDF5 signature and a root attribute ``nwb_version``."""
        if not has_magic(path, HDF5_MAGIC):
            return False
        import h5py

        try:
            with h5py.File(path, "r") as f:
                return "nwb_version" in f.attrs
        except OSError:
            return False

    def read(self, path: str | os.PathLike, results: bool = True, *, network: Any = None,
             run: str | None = None) -> Document:
        """The run of the file, with the network of ``network`` when given."""
        self.check_available()
        from .read import read_nwb

        if not results and network is None:
            raise _needs_network(path)
        res, prov, lost = read_nwb(path)
        if run is not None:
            res.name = str(run)
        net = _network(path, network, res) if network is not None else None
        return Document(network=net, results=[res] if results else [], lost=lost)

    def read_results(self, path: str | os.PathLike, run: int | str = -1, **opts: Any) -> Any:
        """The one run of the file (``run``: -1, 0 or its name)."""
        self.check_options("read", opts)
        self.check_available()
        from .read import read_nwb

        res = read_nwb(path)[0]
        return base.select_run([res], run, path)

    def write(self, doc: Document, path: str | os.PathLike, run: int | str = -1,
              source: str | None = None, embed_store: bool = False,
              compression: str | None = None, metadata: dict | None = None,
              subject: dict | None = None) -> list[str]:
        """Write one run of ``doc`` atomically; returns what was not carried over."""
        self.check_available()
        from nethub.errors import ConversionError

        from .write import write_nwb

        if not doc.results:
            raise ConversionError(f"{path}: an NWB file holds a simulation run; the input "
                                  "has none (run the model first: nethub run STORE)")
        res = base.select_run(doc.results, run, "the input")
        pos = [r is res for r in doc.results].index(True)
        name = res.name or f"run_{pos:04d}"
        lost = []
        if len(doc.results) > 1:
            lost.append(f"{len(doc.results) - 1} other run(s): one run per NWB file (exported "
                        f"{name!r}; choose with --run NAME)")
        try:
            return lost + write_nwb(doc.network, res, path, run=name, source=source,
                                    embed_store=bool(embed_store), compression=compression,
                                    metadata=metadata, subject=subject)
        except ConversionError as exc:
            raise ConversionError(f"{path}: {exc}") from exc

    def info(self, path: str | os.PathLike) -> dict[str, Any]:
        """The run's summary and the provenance nethub recorded."""
        self.check_available()
        from .read import read_nwb

        res, prov, _ = read_nwb(path)
        summary = prov.get("network_summary") or {}
        return {**summary, "file": os.fspath(path), "file_size": os.path.getsize(path),
                "network_hash": res.network_hash, "nethub_version": prov.get("nethub_version"),
                "source": prov.get("source"),
                "runs": [{"name": res.name, "n_spikes": len(res.spike_times),
                          "duration": res.duration, "nranks": res.nranks,
                          "created": prov.get("exported")}]}


    def validate(self, path: str | os.PathLike) -> list[Any]:
        """nwbinspector's findings (CRITICAL, PyNWB validation and check errors as 'error',
        the rest as 'warning') and whether nethub reads the run back."""
        self.check_available()
        from nethub.errors import FormatError, MissingExtraError
        from nethub.validate import Finding

        from .read import read_nwb

        try:
            from nwbinspector import inspect_nwbfile
        except ImportError as exc:
            raise MissingExtraError("validating NWB files", "nwb", "nwbinspector") from exc
        found = []
        for m in inspect_nwbfile(nwbfile_path=os.fspath(path)):
            level = "error" if m.importance.name in _ERRORS else "warning"
            where = m.location or "/"
            found.append(Finding(level, where, f"{m.importance.name} {m.check_function_name}: "
                                               f"{m.message}"))
        try:
            read_nwb(path)
        except FormatError as exc:
            found.append(Finding("error", "/", str(exc)))
        return found


#: nwbinspector importances that make a file invalid for nethub validate.
_ERRORS = ("CRITICAL", "PYNWB_VALIDATION", "ERROR")


def _needs_network(path: Any) -> Exception:
    from nethub.errors import ConversionError

    return ConversionError(
        f"{path} holds the results of a simulation run, not the network it was simulated with "
        "(NWB keeps the network's content hash and, if exported with embed_store, a copy of "
        "the store). Load the network from its store, or read the run with "
        "nethub.load_results / nethub.read(path, network=STORE), or add it to the store with "
        "nethub convert FILE.nwb STORE")


def _network(path: Any, store_path: Any, res: Any) -> Any:
    """The network of ``store_path``, refused when its content hash is not the run's."""
    from nethub import store
    from nethub.errors import ConversionError

    net = store.read_network(store_path)
    have = net.content_hash()
    if res.network_hash and have != res.network_hash:
        raise ConversionError(
            f"{path}: the run was simulated with network {res.network_hash}, but {store_path} "
            f"holds network {have}; refusing to attach the run to another network")
    return net
