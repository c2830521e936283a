"""Write a run's LEMS ``OutputFile`` / ``EventOutputFile`` files as jNeuroML's NEURON export
writes them.

The files a LEMS Simulation asks for are described in the run's simConfig
(``nethubLemsOutputs``, :mod:`nethub.converters.neuroml_outputs`); their traces and spikes are
in the run's :class:`~nethub.results.Results`. Paths are relative to the LEMS file's folder
(jNeuroML runs there); missing folders are made.

* ``OutputFile``: one row per recorded step, time (s) then each column in SI units, every value
  as ``%e`` followed by a tab (jNeuroML's ``'%e\\t%e\\t...\\n'``). nethub records steps
  ``0 .. length - step`` (NetPyNE's convention): one row fewer than jNeuroML, which also keeps
  the sample at ``t = length``.
* ``EventOutputFile``: one line per spike, ``ID<tab>TIME`` (``TIME<tab>ID`` for format
  ``TIME_ID``), the time in seconds as Python's ``str`` of ``t/1000`` (jNeuroML's ``%s``),
  ordered by time (ties: by selection order).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ._common import NeuroMLError, atomic_write

__all__ = ["OUTPUTS_KEY", "write_lems_outputs", "lems_outputs_of"]

#: the simConfig key describing the output files (see nethub.converters.neuroml_outputs)
OUTPUTS_KEY = "nethubLemsOutputs"


def write_lems_outputs(results: Any, folder: str | os.PathLike) -> list[Path]:
    """Write the LEMS output files of a run under ``folder`` (the LEMS file's folder).

    Parameters
    ----------
    results : nethub.results.Results
        A run of a model imported from a LEMS Simulation.
    folder : path
        Where relative file names are resolved.

    Returns
    -------
    list of Path
        The files written (none when the run has no LEMS output files).
    """
    outputs = lems_outputs_of(results)
    written = []
    for spec in outputs:
        path = Path(folder) / spec["path"]
        if spec["kind"] == "traces":
            text = _trace_text(results, spec)
        else:
            text = _event_text(results, spec)
        atomic_write(path, lambda tmp, text=text: Path(tmp).write_text(text, encoding="utf-8"))
        written.append(path)
    return written


def lems_outputs_of(results: Any) -> list[dict]:
    """The LEMS output files a run describes: its simConfig's ``nethubLemsOutputs``, else its
    RunConfig's ``extras['nethubLemsOutputs']`` (a run of ``Network.run_config``)."""
    found = (getattr(results, "sim_config", None) or {}).get(OUTPUTS_KEY)
    if not found:
        extras = (getattr(results, "run_config", None) or {}).get("extras") or {}
        found = extras.get(OUTPUTS_KEY)
    return list(found or [])


def _trace_text(results: Any, spec: dict) -> str:
    traces = results.traces
    time = np.asarray(traces.time, dtype=np.float64)
    cols = [time / 1000.0]
    for col in spec["columns"]:
        if col.get("label") is None:
            cols.append(np.full(len(time), np.nan))
            continue
        try:
            values = traces.get(col["label"], int(col["gid"]))
        except KeyError as exc:
            raise NeuroMLError(f"OutputFile {spec['id']!r} column {col['id']!r}: {exc}"
                               ) from None
        cols.append(np.asarray(values, dtype=np.float64) * float(col["factor"]))
    table = np.column_stack(cols) if len(time) else np.zeros((0, len(cols)))
    # one %-format over the whole table: no Python step per row (3 million rows for 60
    # OutputFiles of 500 ms at 0.01 ms), same text as formatting row by row
    return ("%e\t" * len(cols) + "\n") * len(table) % tuple(table.ravel().tolist())


def _event_text(results: Any, spec: dict) -> str:
    times = np.asarray(results.spike_times, dtype=np.float64)
    gids = np.asarray(results.spike_gids, dtype=np.int64)
    ts, ids, order = [], [], []
    for k, sel in enumerate(spec["selections"]):
        t = np.sort(times[gids == int(sel["gid"])])
        ts.append(t)
        ids.append(np.full(len(t), int(sel["id"])))
        order.append(np.full(len(t), k))
    if not ts:
        return ""
    t, i, k = np.concatenate(ts), np.concatenate(ids), np.concatenate(order)
    idx = np.lexsort((k, t))
    if spec.get("format", "ID_TIME").upper() == "TIME_ID":
        return "".join(f"{tt / 1000.0}\t{ii}\n" for tt, ii in zip(t[idx].tolist(),
                                                                   i[idx].tolist()))
    return "".join(f"{ii}\t{tt / 1000.0}\n" for tt, ii in zip(t[idx].tolist(), i[idx].tolist()))
