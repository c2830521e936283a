"""CoreNEURON through ``nethub.simulate``: chosen by default when the model allows it, giving
NEURON's spikes; traces recorded every step and thinned to NEURON's ``recordStep`` samples;
the fallback to NEURON with its reason; forcing either simulator; 2 MPI ranks; and NetPyNE's
``recordTraces`` synMech entry without ``sec``.

Traces under CoreNEURON are not bit-identical to NEURON's: CoreNEURON's NMODL-generated ``hh``
rounds differently (about 1e-11 mV; passive sections, Exp2Syn and IClamp are identical), so
they are compared with :data:`TRACE_ATOL`; spikes and time vectors are compared exactly.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import nethub
from nethub.builder import read_mod_dir, spec_dicts
from nethub.errors import SimulationError, SpecError
from nethub.runner import simulate
from nethub.sim.record import step_samples

from .conftest import serial_env

pytestmark = pytest.mark.neuron

REPO = Path(__file__).resolve().parents[2]
TUTORIALS = REPO / "fixtures" / "specs" / "netpyne_tutorials"
TRACE_ATOL = 1e-7  # mV; measured: at most 6e-11 on the example, 500 ms


def _store(tmp: Path, model: str, mods: str | None = None, **cfg_changes) -> Path:
    net_params, cfg = spec_dicts(*nethub.load_spec(TUTORIALS / model))
    cfg.update(cfg_changes)
    mod_files = read_mod_dir(TUTORIALS / mods) if mods else None
    path = tmp / f"{Path(model).stem}.h5"
    nethub.save(nethub.build(net_params, cfg, mod_files=mod_files), path)
    return path


def _run(store: Path, tmp: Path, engine, nprocs: int = 1, **cfg):
    """In this process (CoreNEURON keeps the mechanism library of its first run)."""
    out = tmp / f"{store.stem}.{engine}.{nprocs}.h5"
    return simulate(store, {"nethubCoreneuron": engine, **cfg}, nprocs=nprocs, output=out)


def _fresh_run(store: Path, tmp: Path, engine: str, nprocs: int = 1, **cfg):
    """``nethub run STORE --engine ENGINE`` in a new process; the results, or the error text."""
    out = tmp / f"{store.stem}.{engine}.{nprocs}.fresh.h5"
    cfg_path = tmp / f"{store.stem}.{engine}.cfg.json"
    cfg_path.write_text(json.dumps(cfg))
    cmd = [sys.executable, "-m", "nethub", "run", str(store), "-o", str(out), "--engine",
           engine, "--np", str(nprocs), "--cfg", str(cfg_path), "--trust"]  # izhi2007b.mod
    proc = subprocess.run(cmd, capture_output=True, text=True, env=serial_env(), check=False)
    if proc.returncode != 0:
        return proc.stdout + proc.stderr
    assert f"of {'CoreNEURON' if engine == 'coreneuron' else 'NEURON'}" in proc.stdout or \
        engine == "auto", proc.stdout
    return nethub.load_results(out)


def assert_same_run(core, nrn, at_least: int = 50) -> None:
    """Spikes and time exactly equal, traces equal up to CoreNEURON's rounding."""
    assert core.meta["engine"] == "coreneuron" and nrn.meta["engine"] == "neuron"
    assert len(nrn.spike_times) >= at_least
    np.testing.assert_array_equal(core.spike_gids, nrn.spike_gids)
    np.testing.assert_array_equal(core.spike_times, nrn.spike_times)
    assert core.traces.index.equals(nrn.traces.index)
    np.testing.assert_array_equal(core.traces.time, nrn.traces.time)
    np.testing.assert_allclose(core.traces.data, nrn.traces.data, rtol=0, atol=TRACE_ATOL)


def by_cell(res) -> np.ndarray:
    """Trace data ordered by (gid, label, sec, loc): the rows' order follows the ranks."""
    idx = res.traces.index
    keys = [np.asarray(idx["loc"]), idx["sec"].values().astype(str),
            idx["label"].values().astype(str), np.asarray(idx["gid"])]
    return res.traces.data[np.lexsort(keys)]


# ---------------------------------------------------------------------------- by default
@pytest.fixture(scope="module")
def example_runs(example_store, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("engines")
    cfg = {"recordTraces": {
        "V": {"sec": "soma", "loc": 0.5, "var": "v"},
        "Vd": {"sec": "dend", "loc": 0.5, "var": "v"},
        "m": {"sec": "soma", "loc": 0.5, "mech": "hh", "var": "m"},
        "g_exc": {"sec": "dend", "loc": 0.5, "synMech": "exc", "var": "g"},
        "g_all": {"synMech": "exc", "var": "g"},
        "i_pulse": {"sec": "soma", "loc": 0.5, "stim": "pulse->E0", "var": "i"}},
        "recordCells": [0, 1, 40]}
    auto = simulate(example_store, cfg, output=tmp / "auto.h5")
    nrn = _run(example_store, tmp, False, **cfg)
    return auto, nrn


def test_example_runs_on_coreneuron_by_default(example_runs):
    auto, nrn = example_runs
    assert auto.meta["engine_mode"] == "auto" and "eligible" in auto.meta["engine_reason"]
    assert nrn.meta["engine_mode"] == "neuron"
    assert_same_run(auto, nrn)
    labels = set(auto.traces.index["label"].values().tolist())
    assert labels == {"V", "Vd", "m", "g_exc", "g_all", "i_pulse"}


def test_which_traces_are_bit_identical(example_runs):
    """Exp2Syn conductances and IClamp currents: bit for bit; voltages and gating variables
    of the HH cells (and of their passive dendrites) within CoreNEURON's rounding."""
    auto, nrn = example_runs
    labels = auto.traces.index["label"].values()
    for label in ("g_exc", "g_all", "i_pulse"):
        rows = labels == label
        np.testing.assert_array_equal(auto.traces.data[rows], nrn.traces.data[rows])
    for label in ("V", "Vd", "m"):
        rows = labels == label
        diff = np.max(np.abs(auto.traces.data[rows] - nrn.traces.data[rows]))
        assert diff < TRACE_ATOL, label


PROGRESS = r"""
import json, sys
from nethub.runner import store_run_config
from nethub.sim import run_store


class Tty:  # stderr that says it is a terminal, so that the progress bar is drawn
    def __init__(self, f):
        self.f = f

    def isatty(self):
        return True

    def __getattr__(self, name):
        return getattr(self.f, name)


sys.stderr = Tty(sys.stderr)
res = run_store(sys.argv[1], store_run_config(sys.argv[1], {"progressBar": 2, "duration": 200.0}),
                sys.argv[2])
print(json.dumps({"t": res.spike_times.tolist(), "g": res.spike_gids.tolist(),
                  "engine": res.meta["engine"], "data": res.traces.data.tolist()}))
"""


def test_progress_bar_chunks_give_one_run(example_store, tmp_path):
    """psolve in chunks on CoreNEURON (each transfers the model again) continues exactly."""
    proc = subprocess.run([sys.executable, "-c", PROGRESS, str(example_store),
                           str(tmp_path / "bar.h5")], capture_output=True, text=True,
                          env=serial_env(), check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "simulate" in proc.stderr  # tqdm drew
    chunked = json.loads(proc.stdout.strip().splitlines()[-1])
    assert chunked["engine"] == "coreneuron"
    one = simulate(example_store, {"duration": 200.0}, output=tmp_path / "one.h5")
    assert one.meta["engine"] == "coreneuron"
    np.testing.assert_array_equal(chunked["t"], one.spike_times)
    np.testing.assert_array_equal(chunked["g"], one.spike_gids)
    np.testing.assert_array_equal(chunked["data"], one.traces.data)


THINNING = r"""
import json, sys
import numpy as np
from neuron import h
from nethub.sim.record import step_samples
h.load_file("stdrun.hoc")
pc = h.ParallelContext()
soma = h.Section(name="soma")
soma.L = soma.diam = 18.8
soma.insert("hh")
ic = h.IClamp(soma(0.5))
setattr(ic, "del", 1)
ic.dur, ic.amp = 1e9, 0.2
out = []
for tstop, step, dt in json.loads(sys.argv[1]):
    h.dt = dt
    every, tv = h.Vector(), h.Vector()
    every.record(soma(0.5)._ref_v)
    tv.record(h._ref_t)
    ref, ref_t = h.Vector(), h.Vector()
    ref.record(soma(0.5)._ref_v, step)
    ref_t.record(h._ref_t, step)
    h.finitialize(-65)
    pc.set_maxstep(10)
    pc.psolve(tstop)
    idx, times = step_samples(tv.as_numpy(), dt, step)
    out.append([len(ref), bool(np.array_equal(times, ref_t.as_numpy())),
                bool(np.array_equal(every.as_numpy()[idx], ref.as_numpy()))])
print(json.dumps(out))
"""


def test_thinning_gives_neuron_record_step_samples():
    """Every-step recording thinned by ``step_samples`` equals NEURON's ``record(ref, step)``
    bit for bit (values, times, count), for durations and steps that do not divide evenly."""
    cases = [(200.0, 0.1, 0.025), (101.3, 0.1, 0.025), (50.0, 0.025, 0.025), (99.99, 1.0, 0.025),
             (30.0, 0.05, 0.01), (7.0, 0.3, 0.1)]
    proc = subprocess.run([sys.executable, "-c", THINNING, json.dumps(cases)],
                          capture_output=True, text=True, env=serial_env(), check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    for case, (n, same_t, same_v) in zip(cases, got):
        assert n > 1 and same_t and same_v, case


def test_step_samples_edge_cases():
    idx, times = step_samples(np.array([0.0]), 0.025, 0.1)
    assert len(idx) == len(times) == 0
    idx, times = step_samples(np.arange(8) * 0.025, 0.025, 0.1)
    np.testing.assert_array_equal(idx, [0, 4])
    idx, times = step_samples(np.array([0.0, 0.05, 0.1]), 0.05, 0.1)  # t_k == last t: kept
    np.testing.assert_array_equal(idx, [0, 2])
    np.testing.assert_array_equal(times, [0.0, 0.1])


# ---------------------------------------------------------------------------- tutorials
@pytest.fixture(scope="module")
def gap_store(tmp_path_factory) -> Path:
    """tut_gap: ElectSyn gap junctions (a user .mod file; the unused izhi2007a.mod of the same
    folder is left out of the CoreNEURON build, NMODL cannot translate it) and a NetStim
    population with noise."""
    return _store(tmp_path_factory.mktemp("gap"), "doc_code/tut_gap.py", "doc_code/mod",
                  duration=500.0, recordCells=[0, 1], recordTraces={
                      "V": {"sec": "soma", "loc": 0.5, "var": "v"},
                      "i_gap": {"synMech": "esyn", "var": "i"}})


def test_tutorial_with_user_mod_files(gap_store, tmp_path):
    auto = _fresh_run(gap_store, tmp_path, "auto")
    assert_same_run(auto, _fresh_run(gap_store, tmp_path, "neuron"), at_least=20)
    assert len(auto.traces) >= 3  # V of both cells and their gap junction currents


def test_one_mechanism_library_per_process(example_runs, gap_store, tmp_path):
    """This process ran CoreNEURON with its built-in mechanisms (``example_runs``): a model
    needing a compiled library falls back to NEURON here, and cannot be forced."""
    res = _run(gap_store, tmp_path, "auto")
    assert res.meta["engine"] == "neuron"
    assert "one mechanism library per process" in res.meta["engine_reason"]
    with pytest.raises(SimulationError, match="new process"):
        _run(gap_store, tmp_path, True)


def test_tutorial_with_netstim_noise(tmp_path):
    store = _store(tmp_path, "doc_code/tut2.py", duration=500.0, recordCells=[0, 5])
    assert_same_run(_run(store, tmp_path, "auto"), _run(store, tmp_path, False))


# ---------------------------------------------------------------------------- fallback
def test_cvode_falls_back_with_the_reason_logged(example_store, tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="nethub.sim"):
        res = _run(example_store, tmp_path, "auto", cvode_active=True, duration=100.0)
    assert res.meta["engine"] == "neuron" and res.meta["engine_mode"] == "auto"
    assert "fixed-step" in res.meta["engine_reason"]
    lines = [r.getMessage() for r in caplog.records if r.name == "nethub.sim"]
    assert [m for m in lines if "not CoreNEURON" in m and "fixed-step" in m]


def test_section_variable_trace_falls_back(example_store, tmp_path):
    """A trace of ``diam`` (not a RANGE variable: CoreNEURON ignores its recording) makes the
    model ineligible, so 'auto' records it on NEURON instead of storing NaN; forcing fails."""
    traces = {"recordCells": [0], "duration": 20.0,
              "recordTraces": {"d": {"sec": "soma", "loc": 0.5, "var": "diam"},
                               "cm": {"sec": "soma", "loc": 0.5, "var": "cm"}}}
    res = _run(example_store, tmp_path, "auto", **traces)
    assert res.meta["engine"] == "neuron"
    assert "recordTraces['d'] records 'diam'" in res.meta["engine_reason"]
    assert not np.isnan(res.traces.data).any() and (res.traces.data > 0).all()
    with pytest.raises(SimulationError, match="not a RANGE variable"):
        _run(example_store, tmp_path, True, **traces)


def test_refused_at_hand_over_falls_back(example_runs, example_store, tmp_path):
    """NEURON objects left in the process (here a spike detector without a gid) make
    CoreNEURON's hand-over fail before any step: 'auto' runs NEURON instead, forcing fails."""
    from neuron import h

    _, nrn = example_runs
    left = h.Section(name="left_over")
    detector = h.NetCon(left(0.5)._ref_v, h.ExpSyn(left(0.5)), sec=left)
    cfg = {k: nrn.sim_config[k] for k in ("recordTraces", "recordCells")}
    res = _run(example_store, tmp_path, "auto", **cfg)
    assert res.meta["engine"] == "neuron" and "has no gid" in res.meta["engine_reason"]
    np.testing.assert_array_equal(res.spike_times, nrn.spike_times)
    np.testing.assert_array_equal(res.traces.data, nrn.traces.data)
    with pytest.raises(SimulationError, match="CoreNEURON refused the model"):
        _run(example_store, tmp_path, True)
    del detector, left


def test_artificial_cells_fall_back_and_cannot_be_forced(tmp_path):
    store = _store(tmp_path, "doc_code/tut_artif.py", duration=300.0)
    res = _run(store, tmp_path, "auto")
    assert res.meta["engine"] == "neuron" and "'IntFire2'" in res.meta["engine_reason"]
    assert len(res.spike_times) > 100
    with pytest.raises(SimulationError, match="CoreNEURON was requested.*IntFire2"):
        _run(store, tmp_path, True)
    with pytest.raises(SimulationError, match="IntFire4"):
        simulate(store, {"coreneuron": True}, output=tmp_path / "netpyne_key.h5")


def test_mod_file_coreneuron_refuses_falls_back(tmp_path):
    """HybridTut's izhi2007b.mod: its NET_RECEIVE block resets v, which CoreNEURON 9 ignores,
    so the check of the .mod text keeps it on NEURON before any compiling (its transfer would
    also abort the process: the probe finds that, test_coreneuron.py)."""
    store = _store(tmp_path, "HybridTut", "HybridTut/mod", duration=100.0)
    res = _fresh_run(store, tmp_path, "auto")
    assert res.meta["engine"] == "neuron"
    assert "izhi2007b.mod: NET_RECEIVE sets the membrane potential v" in res.meta["engine_reason"]
    error = _fresh_run(store, tmp_path, "coreneuron")
    assert isinstance(error, str) and "CoreNEURON was requested" in error
    assert "izhi2007b.mod" in error


def test_forcing_and_bad_values(example_store, tmp_path):
    with pytest.raises(SimulationError, match="fixed-step"):
        _run(example_store, tmp_path, True, cvode_active=True)
    res = simulate(example_store, {"coreneuron": True, "duration": 50.0},
                   output=tmp_path / "c.h5")
    assert res.meta["engine"] == "coreneuron" and res.meta["engine_mode"] == "coreneuron"
    with pytest.raises(SpecError, match="nethubCoreneuron"):
        _run(example_store, tmp_path, "yes")


def test_two_ranks_compile_once_and_equal_one_rank(gap_store, tmp_path, monkeypatch):
    """2 ranks on CoreNEURON (rank 0 compiles ElectSyn for CoreNEURON into an empty cache, the
    other waits) give the 1-rank run's spikes and traces."""
    one = _fresh_run(gap_store, tmp_path, "coreneuron")
    monkeypatch.setenv("NETHUB_CACHE", str(tmp_path / "cache"))
    two = _fresh_run(gap_store, tmp_path, "auto", nprocs=2)
    assert two.nranks == 2 and two.meta["engine"] == "coreneuron"
    assert len(list((tmp_path / "cache" / "mech").glob("*-core"))) == 1
    np.testing.assert_array_equal(two.spike_times, one.spike_times)
    np.testing.assert_array_equal(two.spike_gids, one.spike_gids)
    assert len(two.traces) == len(one.traces) >= 3
    np.testing.assert_array_equal(by_cell(two), by_cell(one))


def test_example_two_ranks_equal_one_rank(example_runs, example_store, tmp_path):
    auto, _ = example_runs
    cfg = dict(auto.sim_config)
    two = simulate(example_store, {k: cfg[k] for k in ("recordTraces", "recordCells")},
                   nprocs=2, output=tmp_path / "two.h5")
    assert two.nranks == 2 and two.meta["engine"] == "coreneuron"
    np.testing.assert_array_equal(two.spike_times, auto.spike_times)
    np.testing.assert_array_equal(two.spike_gids, auto.spike_gids)
    assert len(two.traces) == len(auto.traces)
    np.testing.assert_array_equal(by_cell(two), by_cell(auto))


# ---------------------------------------------------------------------------- synMech, no sec
SYN_SPEC = """
from netpyne import specs
netParams = specs.NetParams()
netParams.cellParams['P'] = {'secs': {
    'soma': {'geom': {'diam': 18.8, 'L': 18.8, 'Ra': 123.0}, 'mechs': {'hh': {}}},
    'dend': {'geom': {'diam': 2.0, 'L': 200.0, 'Ra': 150.0, 'nseg': 3},
             'topol': {'parentSec': 'soma', 'parentX': 1.0, 'childX': 0},
             'mechs': {'pas': {'g': 0.0000357, 'e': -70}}}}}
netParams.popParams['P'] = {'cellType': 'P', 'numCells': 3}
netParams.popParams['S'] = {'cellModel': 'NetStim', 'numCells': 4, 'rate': 40, 'noise': 0.6,
                            'start': 2}
netParams.synMechParams['exc'] = {'mod': 'Exp2Syn', 'tau1': 0.2, 'tau2': 3, 'e': 0}
netParams.synMechParams['inh'] = {'mod': 'Exp2Syn', 'tau1': 0.5, 'tau2': 8, 'e': -80}
netParams.connParams['S->P dend'] = {'preConds': {'pop': 'S'}, 'postConds': {'pop': 'P'},
    'probability': 0.7, 'weight': 0.01, 'delay': 2, 'synMech': 'exc', 'sec': 'dend',
    'loc': 0.3}
netParams.connParams['S->P soma'] = {'preConds': {'pop': 'S'}, 'postConds': {'pop': 'P'},
    'convergence': 2, 'weight': 0.004, 'delay': 1, 'synMech': ['exc', 'inh'],
    'sec': 'soma', 'loc': 0.5}
netParams.connParams['P->P'] = {'preConds': {'pop': 'P'}, 'postConds': {'pop': 'P'},
    'probability': 0.8, 'weight': 0.005, 'delay': 3, 'synMech': 'exc', 'sec': 'dend',
    'loc': 0.8}
netParams.stimSourceParams['bkg'] = {'type': 'NetStim', 'rate': 20, 'noise': 0.5}
netParams.stimTargetParams['bkg->P'] = {'source': 'bkg', 'conds': {'pop': 'P'},
    'weight': 0.01, 'delay': 1, 'synMech': 'exc', 'sec': 'dend', 'loc': 0.3}
cfg = specs.SimConfig()
cfg.duration = 150
cfg.seeds = {'conn': 5, 'stim': 6, 'loc': 7, 'cell': 8}
cfg.recordCells = [('P', [0, 1, 2])]
cfg.recordTraces = {'g_exc': {'synMech': 'exc', 'var': 'g'},
                    'i_inh': {'synMech': 'inh', 'var': 'i'},
                    'V': {'sec': 'soma', 'loc': 0.5, 'var': 'v'}}
cfg.recordStep = 0.1
"""

NETPYNE_TRACES = r"""
import contextlib, io, json, runpy, sys
from netpyne import sim
buf = io.StringIO()
with contextlib.redirect_stdout(buf):
    ns = runpy.run_path(sys.argv[1], run_name="model")
    sim.createSimulate(netParams=ns["netParams"], simConfig=ns["cfg"])
out = {}
for label in ns["cfg"].recordTraces:
    for cell, val in sim.allSimData[label].items():
        if isinstance(val, dict):
            out[f"{label}:{cell[len('cell_'):]}"] = {k: list(v) for k, v in val.items()}
print(json.dumps(out))
"""


def test_synmech_trace_without_sec_is_netpynes(tmp_path):
    """NetPyNE records every synapse of the label on the cell, keyed '<sec>_<loc>' (a later
    synapse at the same key replaces an earlier one); nethub gives the same traces, one row
    per key with its section and loc."""
    model = tmp_path / "syn_model.py"
    model.write_text(SYN_SPEC)
    proc = subprocess.run([sys.executable, "-c", NETPYNE_TRACES, str(model)],
                          capture_output=True, text=True, env=serial_env(), check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ref = json.loads(proc.stdout.strip().splitlines()[-1])
    net_params, cfg = nethub.load_spec(model)
    store = tmp_path / "syn.h5"
    nethub.save(nethub.build(net_params, cfg), store)
    for engine in (False, "auto"):
        res = _run(store, tmp_path, engine)
        idx = res.traces.index
        ours: dict[str, dict[str, np.ndarray]] = {}
        for i, (lab, gid, sec, loc) in enumerate(zip(idx["label"].values(), idx["gid"],
                                                     idx["sec"].values(), idx["loc"])):
            if lab != "V":
                ours.setdefault(f"{lab}:{gid}", {})[f"{sec}_{loc}"] = res.traces.data[i]
        assert {k: list(v) for k, v in ours.items()} == {k: list(v) for k, v in ref.items()}
        assert sum(len(v) for v in ref.values()) >= 9
        for key, traces in ref.items():
            for sec_loc, trace in traces.items():
                if engine is False:
                    np.testing.assert_array_equal(ours[key][sec_loc], trace)
                else:
                    np.testing.assert_allclose(ours[key][sec_loc], trace, rtol=0,
                                               atol=TRACE_ATOL)
