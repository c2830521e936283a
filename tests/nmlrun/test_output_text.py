"""The OutputFile text is formatted in one operation over the whole table (benchmark fix):
the same text as jNeuroML's row-by-row ``'%e\\t%e\\t...\\n'``, NaN columns included."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from nethub.formats.neuroml.outputs import write_lems_outputs


def test_whole_table_format_equals_rows(tmp_path):
    rng = np.random.default_rng(3)
    time = np.arange(1000) * 0.025
    values = rng.normal(-60.0, 20.0, 1000) * 10.0 ** rng.integers(-12, 12, 1000)
    traces = SimpleNamespace(time=time, get=lambda label, gid: values)
    spec = [{"id": "f", "path": "v.dat", "kind": "traces",
             "columns": [{"id": "a", "label": "l", "gid": 0, "factor": 1e-3},
                         {"id": "b", "label": None}]}]
    write_lems_outputs(SimpleNamespace(sim_config={"nethubLemsOutputs": spec}, traces=traces,
                                       spike_times=np.zeros(0), spike_gids=np.zeros(0)),
                       tmp_path)
    rows = [f"{t / 1000.0:e}\t{v * 1e-3:e}\tnan\t\n" for t, v in zip(time, values)]
    assert (tmp_path / "v.dat").read_text() == "".join(rows)
