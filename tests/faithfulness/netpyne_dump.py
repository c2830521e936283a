"""Build a NetPyNE model with real NetPyNE (``sim.create``) and dump its cells as JSON.

Run as a subprocess by ``tests/faithfulness/conftest.py`` (NetPyNE prints, keeps global state
and changes the working directory, so it never runs inside the test process)::

    python netpyne_dump.py MODEL [MOD_DIR]

``MODEL`` is a Python model file (the tutorials: it is run as ``python MODEL`` would run it,
with ``netpyne.sim`` replaced by a recorder, so nothing is created, simulated or plotted; the
netParams/simConfig are the ones passed to ``sim`` or, failing that, defined by the file)
or a NetPyNE index file / folder (read with ``sim.loadFromIndexFile``). ``MOD_DIR`` is a folder
with compiled mechanisms (``nrnivmodl`` output) to load first.

The last line of stdout is a JSON list with one entry per cell, in gid order::

    {"gid": 0, "tags": {...}, "conns": [{...}, ...], "stims": [{...}, ...]}

holding every JSON-representable scalar (or list of scalars) of the cell's tags, conns and
stims (NEURON objects are left out).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import runpy
import sys
from numbers import Number

_SCALAR = (str, Number, bool, type(None))


def _item(value):
    """numpy scalars (NetPyNE stores some, e.g. grid positions) as Python numbers."""
    return value.item()


def _plain(d) -> dict:
    out = {}
    for k, v in dict(d).items():
        if isinstance(v, _SCALAR):
            out[k] = v
        elif isinstance(v, (list, tuple)) and all(isinstance(x, _SCALAR) for x in v):
            out[k] = list(v)
    return out


class _Recorder:
    """Stands in for ``netpyne.sim`` while a model file runs: every attribute is a recorder and
    every call is recorded (so ``sim.createSimulateAnalyze``, ``sim.net.createPops()``,
    ``sim.analysis.plotData()`` ... create, simulate and plot nothing)."""

    def __init__(self, calls: list) -> None:
        self._calls = calls

    def __getattr__(self, name: str):
        return self

    def __call__(self, *args, **kwargs):
        self._calls.append((args, kwargs))
        return self


def _load(model: str):
    """(netParams, simConfig) of a model file or index file."""
    import netpyne
    from netpyne import sim, specs

    if model.endswith(".npjson") or os.path.isdir(model):
        cfg, net_params = sim.loadFromIndexFile(model)
        return net_params, cfg
    calls: list = []
    sys.modules["netpyne.sim"] = netpyne.sim = _Recorder(calls)
    sys.path.insert(0, os.path.dirname(model))
    try:
        ns = runpy.run_path(model, run_name="__main__")
    finally:
        sys.modules["netpyne.sim"] = netpyne.sim = sim
    found = {}
    for args, kwargs in calls:
        for value in (*args, *kwargs.values()):
            for cls in (specs.NetParams, specs.SimConfig):
                if isinstance(value, cls):
                    found.setdefault(cls, value)
    for value in ns.values():
        for cls in (specs.NetParams, specs.SimConfig):
            if isinstance(value, cls):
                found.setdefault(cls, value)
    return found[specs.NetParams], found[specs.SimConfig]


def main(argv: list[str]) -> None:
    model = os.path.abspath(argv[1])
    mod_dir = argv[2] if len(argv) > 2 else None
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        if mod_dir:
            import neuron

            neuron.load_mechanisms(os.path.abspath(mod_dir))
        from netpyne import sim

        net_params, cfg = _load(model)
        cfg.createNEURONObj = True
        cfg.createPyStruct = True
        sim.create(netParams=net_params, simConfig=cfg)
    cells = []
    for c in sim.net.cells:
        cells.append({"gid": c.gid, "tags": _plain(c.tags),
                      "conns": [_plain(x) for x in c.conns],
                      "stims": [_plain(x) for x in c.stims]})
    sys.stdout.write(json.dumps(cells, default=_item) + "\n")


if __name__ == "__main__":
    main(sys.argv)
