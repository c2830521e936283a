"""The canonical nethub store (one HDF5 file) as a format plugin; wraps :mod:`nethub.store`."""

from __future__ import annotations

import os
from typing import Any

from .base import HDF5_MAGIC, Document, Format, OptionError, has_magic

__all__ = ["StoreFormat"]


def _ensure_filters() -> None:
    """Register the Blosc filter with HDF5 before reading compressed datasets."""
    import hdf5plugin  # noqa: F401 - importing registers the HDF5 filters


class StoreFormat(Format):
    """The canonical store: network, spec, mod files and every run, without loss."""

    name = "store"
    description = "nethub canonical HDF5 store (network, spec, .mod files, results)"
    suffixes = (".h5", ".nethub", ".nh5")
    can_read = True
    can_write = True
    extra = None
    requires = ("h5py", "hdf5plugin")
    holds_network = True
    holds_results = True
    holds_spec = True
    lossless = True
    read_options = {
        "gids": "read only these cells and their incoming connections and stimuli",
        "runs": "which runs to read: 'all' (default), 'none', or a list of names/positions",
    }
    write_options = {
        "compression": "'blosc-lz4' (default, fastest), 'gzip' (portable) or 'none'",
    }

    def sniff(self, path: str | os.PathLike) -> bool:
        """HDF5 signature, then the root attribute ``format == 'nethub-store'``."""
        if not has_magic(path, HDF5_MAGIC):
            return False
        import h5py

        from nethub.store import FORMAT_NAME

        try:
            with h5py.File(path, "r") as f:
                fmt = f.attrs.get("format")
        except OSError:
            return False
        if isinstance(fmt, bytes):
            fmt = fmt.decode(errors="replace")
        return fmt == FORMAT_NAME

    def read(self, path: str | os.PathLike, results: bool = True, *, gids: Any = None,
             runs: Any = "all") -> Document:
        """Read the network and (unless ``results`` is False) the runs selected by ``runs``."""
        from nethub import store

        _ensure_filters()
        net = store.read_network(path, gids=gids)
        doc = Document(network=net)
        if results and runs not in (None, "none"):
            names = [r["name"] for r in store.list_runs(path)]
            wanted = names if runs == "all" else ([runs] if isinstance(runs, (str, int))
                                                  else list(runs))
            doc.results = [store.read_results(path, r) for r in wanted]
        return doc

    def read_results(self, path: str | os.PathLike, run: int | str = -1, **opts: Any) -> Any:
        """Read one run alone (by name or position, ``-1`` = the latest)."""
        from nethub import store

        self.check_options("read", opts)
        _ensure_filters()
        return store.read_results(path, run)

    def write(self, doc: Document, path: str | os.PathLike,
              compression: str = "blosc-lz4") -> list[str]:
        """Write a new store atomically; nothing is lost."""
        from nethub import store
        from nethub.h5table import COMPRESSIONS
        from nethub.network import Network

        if compression not in COMPRESSIONS:
            raise OptionError(
                f"unknown compression {compression!r} (valid: {', '.join(COMPRESSIONS)})"
            )
        net = doc.network if doc.network is not None else Network()
        store.write_network(net, path, results=doc.results, compression=compression)
        return []

    def info(self, path: str | os.PathLike) -> dict[str, Any]:
        """Header, network summary, runs and file size of a store."""
        from nethub import store

        _ensure_filters()
        return store.info(path)

    def validate(self, path: str | os.PathLike) -> list[Any]:
        """Findings of :func:`nethub.validate.validate_store`."""
        from nethub.validate import validate_store

        _ensure_filters()
        return list(validate_store(path))
