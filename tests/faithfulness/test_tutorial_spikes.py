"""nethub's simulator against NetPyNE 1.1.1 on NetPyNE's tutorials: the same spikes, the same
traces (issue "Simulator" item 8).

Each model is simulated twice, each time in a subprocess: by real NetPyNE (``sim.createSimulate``
through ``netpyne_simulate.py``, which neutralises the tutorial's own ``sim.*`` calls as
``netpyne_dump.py`` does) and by nethub (``nethub.build`` with the model's .mod files, then
``nethub.simulate``). The subprocesses run two at a time, all started when the first test asks
for a model. The comparison is strict:

- spikes: the same number, the same gids in the same (time, gid) order, ``|dt| <= 1e-9`` ms;
- traces: nethub records exactly the traces NetPyNE records (``recordTraces`` x ``recordCells``
  plus the cells of ``analysis['plotTraces']['include']``, which NetPyNE records too), with the
  same time vector and values, bit for bit;
- on 2 MPI ranks (``nethub.simulate(..., nprocs=2)``, :data:`MPI_MODELS`): NetPyNE's spikes
  again, and bit for bit the traces of the serial run.

The models: the tutorials of ``fixtures/specs/netpyne_tutorials`` (tut1 is HHTut run through
``import HHTut``; tut4 and HybridTut need ``izhi2007b.mod``, tut_gap ``ElectSyn.mod``, tut_artif
NEURON's VecStim) and the models of :data:`EXTRA_MODELS`, which exercise what the tutorials do
not. Durations are the models' own, capped at :data:`DURATION_CAP`. nethub runs them with
synapse merging off (``nethubMergeSynapses=False``): NetPyNE's one synapse per connection, and
on NEURON (``nethubCoreneuron=False``), since traces are compared bit for bit.

A comparison that waits for a fix outside the simulator is marked ``xfail(strict=True)`` naming
the cause (:data:`XFAIL`), so it fails the day the fix lands and the mark is stale.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.neuron

HERE = Path(__file__).parent
TUTORIALS_DIR = HERE.parents[1] / "fixtures" / "specs" / "netpyne_tutorials"
#: NEURON's vecevent.mod as nethub bundles it (NetPyNE needs VecStim compiled for tut_artif)
VECSTIM_MOD = HERE.parents[1] / "hub" / "sim" / "mod" / "vecevent.mod"
DURATION_CAP = 1000.0  # ms; the longest tutorial runs 1000 ms
TOL_MS = 1e-9

#: name -> (model path relative to TUTORIALS_DIR, its mod folder relative to TUTORIALS_DIR)
TUTORIALS: dict[str, tuple[str, str | None]] = {
    "tut1": ("doc_code/tut1.py", None),
    "tut2": ("doc_code/tut2.py", None),
    "tut3": ("doc_code/tut3.py", None),
    "tut4": ("doc_code/tut4.py", "HybridTut/mod"),
    "tut5": ("doc_code/tut5.py", None),
    "tut6": ("doc_code/tut6.py", None),
    "tut7": ("doc_code/tut7.py", None),
    "HHTut": ("HHTut", None),
    "HybridTut": ("HybridTut", "HybridTut/mod"),
    "saving": ("saving", None),
    "tut_artif": ("doc_code/tut_artif.py", None),
    "tut_gap": ("doc_code/tut_gap.py", "doc_code/mod"),
}

_EXTRAS = """\
from netpyne import specs, sim

netParams = specs.NetParams()
netParams.sizeY = 200
netParams.cellParams['PYR'] = {
    'secs': {
        'soma': {'geom': {'diam': 18.8, 'L': 18.8, 'Ra': 123.0},
                 'mechs': {'hh': {'gnabar': 0.12, 'gkbar': 0.036, 'gl': 0.003, 'el': -70}},
                 'threshold': -10, 'vinit': -68},
        'dend': {'geom': {'diam': 2.0, 'L': 150.0, 'Ra': 150.0, 'nseg': 3},
                 'topol': {'parentSec': 'soma', 'parentX': 1.0, 'childX': 0},
                 'mechs': {'pas': {'g': 0.0000357, 'e': -70}}, 'vinit': -72}},
    'globals': {'secondorder': 2}}
netParams.cellParams['IF'] = {'cellModel': 'IntFire2', 'params': {'taum': 8, 'taus': 15, 'ib': 0.2}}
netParams.popParams['E'] = {'cellType': 'PYR', 'numCells': 12}
netParams.popParams['IF'] = {'cellType': 'IF', 'numCells': 5}
netParams.popParams['NS'] = {'cellModel': 'NetStim', 'numCells': 4, 'interval': 'uniform(20, 40)',
                             'noise': 0.7, 'start': 5, 'number': 30,
                             'dynamicRates': {'rates': [20, 60, 0], 'times': [0, 80, 160]}}
netParams.popParams['VS'] = {'cellModel': 'VecStim', 'numCells': 3, 'rate': 30, 'noise': 0.4,
                             'start': 10}
netParams.synMechParams['exc'] = {'mod': 'Exp2Syn', 'tau1': 0.2, 'tau2': '2 + 0.5*post_ynorm',
                                  'e': 0}
netParams.synMechParams['inh'] = {'mod': 'Exp2Syn', 'tau1': 0.5,
                                  'tau2': 'uniform(4, 8) + post_dist_path/100', 'e': -80}
netParams.stimSourceParams['bkg'] = {'type': 'NetStim', 'rate': 37, 'noise': 0.5}
netParams.stimSourceParams['bkg2'] = {'type': 'NetStim', 'interval': 'uniform(15, 45)',
                                      'noise': 0.3, 'start': 'uniform(0, 20)', 'seed': 7}
netParams.stimSourceParams['ic'] = {'type': 'IClamp', 'del': 50, 'dur': 30,
                                    'amp': 'uniform(0.05, 0.2)'}
netParams.stimSourceParams['se'] = {'type': 'SEClamp', 'dur1': 40, 'amp1': -60, 'dur2': 20,
                                    'amp2': -20, 'rs': 1}
netParams.stimSourceParams['alpha'] = {'type': 'AlphaSynapse', 'onset': 'uniform(100, 150)',
                                       'tau': 3, 'gmax': 0.02, 'e': 0}
netParams.stimTargetParams['bkg->E'] = {'source': 'bkg', 'conds': {'pop': 'E'}, 'sec': 'dend',
                                        'loc': 0.8, 'synMech': ['exc', 'inh'],
                                        'weight': 0.02, 'synMechWeightFactor': [1.0, 0.5],
                                        'delay': 'uniform(1, 3)'}
netParams.stimTargetParams['bkg2->E'] = {'source': 'bkg2',
                                         'conds': {'pop': 'E', 'ynorm': [0, 0.6]},
                                         'weight': 0.03, 'delay': 2, 'synMech': 'exc'}
netParams.stimTargetParams['ic->E'] = {'source': 'ic', 'conds': {'pop': 'E', 'cellList': [0, 2, 4]},
                                       'sec': 'soma', 'loc': 0.5}
netParams.stimTargetParams['se->E'] = {'source': 'se', 'conds': {'pop': 'E', 'cellList': [1]},
                                       'sec': 'soma', 'loc': 0.5}
netParams.stimTargetParams['alpha->E'] = {'source': 'alpha', 'conds': {'pop': 'E'},
                                          'sec': 'dend', 'loc': 0.3}
netParams.connParams['E->E'] = {'preConds': {'pop': 'E'}, 'postConds': {'pop': 'E'},
                                'probability': 0.3, 'weight': 'uniform(0.002, 0.006)',
                                'delay': 'dist_3D/100 + 1', 'synMech': 'exc', 'sec': 'dend',
                                'loc': 0.5}
netParams.connParams['NS->E'] = {'preConds': {'pop': 'NS'}, 'postConds': {'pop': 'E'},
                                 'convergence': 2, 'weight': 0.01, 'delay': 3,
                                 'synMech': ['exc', 'inh'], 'synMechWeightFactor': [1.0, 0.3]}
netParams.connParams['VS->IF'] = {'preConds': {'pop': 'VS'}, 'postConds': {'pop': 'IF'},
                                  'probability': 0.6, 'weight': 0.3, 'delay': 2}
netParams.connParams['E->IF'] = {'preConds': {'pop': 'E'}, 'postConds': {'pop': 'IF'},
                                 'probability': 0.3, 'weight': 0.2, 'delay': 1.5}
netParams.connParams['IF->E'] = {'preConds': {'pop': 'IF'}, 'postConds': {'pop': 'E'},
                                 'divergence': 3, 'weight': 0.01, 'delay': 2, 'synMech': 'inh',
                                 'sec': 'soma'}

cfg = specs.SimConfig()
cfg.duration = 250
cfg.dt = 0.025
cfg.cvode_active = False
cfg.hParams = {'celsius': 30, 'v_init': -66}
cfg.seeds = {'conn': 11, 'stim': 12, 'loc': 13, 'cell': 14}
cfg.recordCells = [('E', [0, 1, 3]), 'IF']
cfg.recordTraces = {
    'V': {'sec': 'soma', 'loc': 0.5, 'var': 'v'},
    'Vd': {'sec': 'dend', 'loc': 0.8, 'var': 'v'},
    'm': {'sec': 'soma', 'loc': 0.5, 'mech': 'hh', 'var': 'm'},
    'g_inh': {'sec': 'dend', 'loc': 0.8, 'synMech': 'inh', 'var': 'g'},
    'g_exc1': {'sec': 'dend', 'loc': 0.5, 'synMech': 'exc', 'var': 'g', 'index': 1},
    'i_ic': {'sec': 'soma', 'loc': 0.5, 'stim': 'ic->E', 'var': 'i'},
    'i_se': {'sec': 'soma', 'loc': 0.5, 'stim': 'se->E', 'var': 'i'},
    'm_if': {'var': 'm', 'conds': {'pop': 'IF'}}}
cfg.recordStep = 0.05
cfg.analysis['plotTraces'] = {'include': [('E', 5)]}
sim.createSimulateAnalyze(netParams, cfg)
"""

_GAP = """\
from netpyne import specs, sim

netParams = specs.NetParams()
netParams.cellParams['PYR'] = {'secs': {
    'soma': {'geom': {'diam': 18.8, 'L': 18.8, 'Ra': 123.0},
             'mechs': {'hh': {'gnabar': 0.12, 'gkbar': 0.036, 'gl': 0.003, 'el': -70}}},
    'dend': {'geom': {'diam': 2.0, 'L': 200.0, 'Ra': 150.0, 'nseg': 5},
             'topol': {'parentSec': 'soma', 'parentX': 1.0, 'childX': 0},
             'mechs': {'pas': {'g': 0.0000357, 'e': -70}}}}}
netParams.popParams['PYR'] = {'cellType': 'PYR', 'numCells': 6}
netParams.popParams['bg'] = {'cellModel': 'NetStim', 'numCells': 3, 'rate': 15, 'noise': 0.6,
                             'start': 1, 'seed': 5}
netParams.synMechParams['AMPA'] = {'mod': 'Exp2Syn', 'tau1': 0.1, 'tau2': 1.0, 'e': 0}
netParams.synMechParams['gap'] = {'mod': 'ElectSyn', 'g': 0.00005,
                                  'pointerParams': {'target_var': 'vpeer'}}
netParams.synMechParams['gap1'] = {'mod': 'ElectSyn', 'g': 0.0001,
                                   'pointerParams': {'target_var': 'vpeer', 'source_var': 'v',
                                                     'bidirectional': False}}
netParams.connParams['bg->PYR'] = {'preConds': {'pop': 'bg'}, 'postConds': {'pop': 'PYR'},
                                   'probability': 0.5, 'weight': 0.05, 'synMech': 'AMPA',
                                   'delay': 'uniform(1, 5)'}
netParams.connParams['gap'] = {'preConds': {'pop': 'PYR'}, 'postConds': {'pop': 'PYR'},
                               'probability': 0.4, 'weight': 150.0, 'synMech': 'gap',
                               'sec': 'dend', 'loc': 0.7, 'preSec': 'soma', 'preLoc': 0.5}
netParams.connParams['gap1'] = {'preConds': {'pop': 'PYR'}, 'postConds': {'pop': 'PYR'},
                                'connList': [[0, 5], [2, 3]], 'weight': 100.0,
                                'synMech': 'gap1', 'sec': 'soma', 'loc': 0.5}

cfg = specs.SimConfig()
cfg.duration = 300
cfg.dt = 0.025
cfg.seeds = {'conn': 3, 'stim': 4, 'loc': 5}
cfg.recordCells = [0, 3, 5]
cfg.recordTraces = {'V': {'sec': 'soma', 'loc': 0.5, 'var': 'v'},
                    'Vd': {'sec': 'dend', 'loc': 0.7, 'var': 'v'},
                    'vpeer': {'sec': 'dend', 'loc': 0.7, 'synMech': 'gap', 'var': 'vpeer'},
                    'igap1': {'sec': 'soma', 'loc': 0.5, 'synMech': 'gap1', 'var': 'i'}}
cfg.recordStep = 0.1
sim.createSimulateAnalyze(netParams, cfg)
"""

_IZHI = """\
from netpyne import specs, sim

netParams = specs.NetParams()
netParams.cellParams['IzhiA'] = {'secs': {'soma': {
    'geom': {'diam': 10, 'L': 10, 'cm': 31.831},
    'pointps': {'Izhi': {'mod': 'Izhi2007a', 'vref': 'V',
                         'synList': ['AMPA', 'NMDA', 'GABAA', 'GABAB'],
                         'C': 1, 'k': 'normal(0.7, 0.02)', 'vr': -60, 'vt': -40, 'vpeak': 35,
                         'a': 0.03, 'b': -2, 'c': -50, 'd': 100, 'celltype': 1}}}}}
netParams.cellParams['HH'] = {'secs': {'soma': {
    'geom': {'diam': 18.8, 'L': 18.8, 'Ra': 123.0},
    'mechs': {'hh': {'gnabar': 0.12, 'gkbar': 0.036, 'gl': 0.003, 'el': -70}}}}}
netParams.popParams['IzA'] = {'cellType': 'IzhiA', 'numCells': 10}
netParams.popParams['HH'] = {'cellType': 'HH', 'numCells': 5}
for name in ('AMPA', 'NMDA', 'GABAA', 'GABAB'):
    netParams.synMechParams[name] = {'mod': 'Exp2Syn', 'tau1': 0.5, 'tau2': 5,
                                     'e': -80 if name.startswith('GABA') else 0}
netParams.stimSourceParams['bkg'] = {'type': 'NetStim', 'rate': 40, 'noise': 0.5}
netParams.stimSourceParams['bkg2'] = {'type': 'NetStim', 'rate': 10, 'noise': 0.8}
netParams.stimTargetParams['bkg->IzA'] = {'source': 'bkg', 'conds': {'pop': 'IzA'},
                                          'weight': 5, 'delay': 'uniform(1, 3)',
                                          'synMech': 'AMPA'}
netParams.stimTargetParams['bkg2->IzA'] = {'source': 'bkg2', 'conds': {'pop': 'IzA'},
                                           'weight': 3, 'delay': 2, 'synMech': 'NMDA'}
netParams.stimTargetParams['bkg->HH'] = {'source': 'bkg', 'conds': {'pop': 'HH'},
                                         'weight': 0.02, 'delay': 1, 'synMech': 'AMPA'}
netParams.connParams['IzA->IzA'] = {'preConds': {'pop': 'IzA'}, 'postConds': {'pop': 'IzA'},
                                    'probability': 0.3, 'weight': 1.5, 'delay': 3,
                                    'synMech': 'AMPA'}
netParams.connParams['HH->IzA'] = {'preConds': {'pop': 'HH'}, 'postConds': {'pop': 'IzA'},
                                   'probability': 0.5, 'weight': 2, 'delay': 2,
                                   'synMech': 'GABAA'}
netParams.connParams['IzA->HH'] = {'preConds': {'pop': 'IzA'}, 'postConds': {'pop': 'HH'},
                                   'probability': 0.3, 'weight': 0.01, 'delay': 2,
                                   'synMech': 'AMPA'}

cfg = specs.SimConfig()
cfg.duration = 300
cfg.dt = 0.025
cfg.seeds = {'conn': 21, 'stim': 22, 'loc': 23, 'cell': 24}
cfg.recordCells = [0, 1, 10]
cfg.recordTraces = {'V': {'sec': 'soma', 'pointp': 'Izhi', 'var': 'V'},
                    'gNMDA': {'sec': 'soma', 'pointp': 'Izhi', 'var': 'gNMDA'},
                    'v': {'sec': 'soma', 'loc': 0.5, 'var': 'v'}}
cfg.recordStep = 0.1
sim.createSimulateAnalyze(netParams, cfg)
"""

#: Model files (as text, with their mod folder) for what the tutorials do not exercise:
#: ``extras`` (and ``extras_cvode``, the same under CVode): cellParams ``globals``, per-section
#: ``vinit`` and ``threshold``, ``hParams``, a VecStim / a NetStim population with string
#: interval and dynamicRates / IntFire2 cells, NetStim stims with ``interval`` (NetPyNE's
#: ``rate**-1*1e3``), synMech lists and weight factors, IClamp / SEClamp / AlphaSynapse with
#: string parameters, synMechParams string functions (``post_ynorm``, ``uniform``,
#: ``post_dist_path``), ``recordStep`` and traces of sections, mechanisms, synMechs (with
#: ``index``), stims and point cells; ``gap``: gap junctions (``ElectSyn``, bidirectional and
#: one-way) between sections of different cells; ``izhi``: ``Izhi2007a`` cells whose voltage
#: lives in the point process (``vref``), connections and NetStims onto it by ``synList``
#: (NetCon weight index), a string parameter of the point process.
EXTRA_MODELS: dict[str, tuple[str, str | None]] = {
    "extras": (_EXTRAS, None),
    "extras_cvode": (_EXTRAS.replace("cfg.cvode_active = False",
                                     "cfg.cvode_active = True\ncfg.cvode_atol = 1e-6"), None),
    "gap": (_GAP, "doc_code/mod"),
    "izhi": (_IZHI, "doc_code/mod"),
}

#: (model, test name) -> what the comparison waits for (strict xfails)
XFAIL: dict[tuple[str, str], str] = {
}

#: models also simulated on 2 MPI ranks
MPI_MODELS = ("HybridTut", "gap")

_MPI_VARS = ("PMI_RANK", "PMI_SIZE", "PMI_FD", "PMI_PORT", "PMI_ID", "HYDRA_CONTROL_FD",
             "MPI_LOCALNRANKS", "MPI_LOCALRANKID", "OMPI_COMM_WORLD_SIZE")


def _serial_env() -> dict[str, str]:
    """This environment without what would make a child process an MPI rank."""
    env = {k: v for k, v in os.environ.items() if k not in _MPI_VARS and not k.startswith("PMI")}
    env["OMP_NUM_THREADS"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # the tutorials import each other: no __pycache__ there
    return env


def _run(cmd: list[str], cwd: Path | None = None) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, env=_serial_env(), cwd=cwd,
                          check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{(proc.stdout + proc.stderr)[-4000:]}")


class _Runs:
    """The simulations of the session: NetPyNE's and nethub's run of each model, in
    subprocesses two at a time, each started once."""

    def __init__(self, tmp_factory) -> None:
        self._tmp = tmp_factory.mktemp("spikes")
        self._pool = ThreadPoolExecutor(max_workers=max(1, min(2, os.cpu_count() or 1)))
        self._futures: dict[tuple[str, str], Future] = {}
        self._compiler = ThreadPoolExecutor(max_workers=1)
        self._mods: Future | None = None
        self.stores: dict[str, Path] = {}
        self.paths: dict[str, tuple[Path, str | None]] = {
            name: (TUTORIALS_DIR / rel, mods) for name, (rel, mods) in TUTORIALS.items()}
        for name, (text, mods) in EXTRA_MODELS.items():
            (self._tmp / f"{name}.py").write_text(text)
            self.paths[name] = (self._tmp / f"{name}.py", mods)

    def start(self, names: list[str]) -> None:
        """NetPyNE's runs first (they take longest), then nethub's."""
        for name in names:
            self._submit_netpyne(name)
        for name in names:
            self._submit_nethub(name)

    def _netpyne_mods(self) -> Future:
        """NetPyNE's compiled mechanisms (every mod folder of the models, and VecStim),
        compiled in a thread of its own while nethub builds its stores."""
        if self._mods is None:
            folder = self._tmp / "mods"
            folder.mkdir()
            mod_dirs = {m for _, m in self.paths.values() if m}
            for mod in [VECSTIM_MOD, *(p for d in sorted(mod_dirs)
                                       for p in (TUTORIALS_DIR / d).glob("*.mod"))]:
                shutil.copy(mod, folder)
            nrnivmodl = shutil.which("nrnivmodl") or str(Path(sys.executable).parent
                                                          / "nrnivmodl")
            self._mods = self._compiler.submit(lambda: (_run([nrnivmodl, "."], folder),
                                                        folder)[1])
        return self._mods

    def _submit_netpyne(self, name: str) -> Future:
        key = (name, "netpyne")
        if key not in self._futures:
            model, _ = self.paths[name]
            out = self._tmp / f"{name}.netpyne.npz"
            cmd = [sys.executable, str(HERE / "netpyne_simulate.py"), str(model), str(out),
                   str(DURATION_CAP)]
            cwd = model.parent if model.is_file() else model
            mods = self._netpyne_mods()
            self._futures[key] = self._pool.submit(
                lambda: (_run([*cmd, str(mods.result())], cwd), out)[1])
        return self._futures[key]

    def _submit_nethub(self, name: str) -> Future:
        key = (name, "nethub")
        if key not in self._futures:
            store = self.store(name)
            out = self._tmp / f"{name}.nethub.h5"
            code = ("import sys, nethub; "  # trusted: the tutorials' own izhi*.mod (VERBATIM)
                    "nethub.simulate(sys.argv[1], output=sys.argv[2], trusted=True)")
            cmd = [sys.executable, "-c", code, str(store), str(out)]
            self._futures[key] = self._pool.submit(lambda: (_run(cmd), out)[1])
        return self._futures[key]

    def store(self, name: str) -> Path:
        """nethub's build of the model (duration capped), with its .mod files, saved."""
        if name not in self.stores:
            import nethub
            from nethub.builder import read_mod_dir, spec_dicts

            model, mods = self.paths[name]
            net_params, cfg = spec_dicts(*nethub.load_spec(model))
            cfg["duration"] = min(float(cfg.get("duration", 1000.0)), DURATION_CAP)
            # NetPyNE's one synapse object per connection, compared bit for bit; synapse
            # merging (nethub's default) moves traces by round-off: test_merge_engine.py
            cfg["nethubMergeSynapses"] = False
            # and NEURON: CoreNEURON's compiled hh rounds differently (traces ~1e-10 mV apart,
            # spikes identical: tests/simulation/test_coreneuron_engine.py)
            cfg["nethubCoreneuron"] = False
            mod_files = read_mod_dir(TUTORIALS_DIR / mods) if mods else None
            path = self._tmp / f"{name}.h5"
            nethub.save(nethub.build(net_params, cfg, mod_files=mod_files), path)
            self.stores[name] = path
        return self.stores[name]

    def netpyne(self, name: str) -> dict[str, np.ndarray]:
        """NetPyNE's ``netpyne_simulate.py`` output."""
        with np.load(self._submit_netpyne(name).result()) as data:
            return {k: data[k] for k in data.files}

    def nethub(self, name: str):
        """nethub's :class:`~nethub.results.Results`."""
        import nethub

        return nethub.load_results(self._submit_nethub(name).result())

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._compiler.shutdown(wait=True)


def _params(names, test: str) -> list:
    out = []
    for name in names:
        reason = XFAIL.get((name, test))
        marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
        out.append(pytest.param(name, marks=marks, id=name))
    return out


ALL_MODELS = [*TUTORIALS, *EXTRA_MODELS]


@pytest.fixture(scope="module")
def runs(request, tmp_path_factory):
    """:class:`_Runs`, started on the models the selected tests of this module ask for."""
    pytest.importorskip("netpyne", reason="the faithfulness tests compare against NetPyNE")
    pytest.importorskip("neuron", reason="simulating needs NEURON")
    names = []
    for item in request.session.items:
        callspec = getattr(item, "callspec", None)
        name = callspec.params.get("name") if callspec else None
        if item.module is request.module and name and name not in names:
            names.append(name)
    runs = _Runs(tmp_path_factory)
    runs.start(names)
    yield runs
    runs.close()


# ----------------------------------------------------------------------------- comparisons


def _ref_spikes(ref: dict) -> tuple[np.ndarray, np.ndarray]:
    t, g = ref["spkt"], ref["spkid"].astype(np.int64)
    order = np.lexsort((g, t))
    return t[order], g[order]


def _assert_same_spikes(t_ours, g_ours, t_ref, g_ref, what: str) -> None:
    assert len(t_ref) > 0, f"{what}: NetPyNE gave no spikes, nothing to compare"
    n = min(len(t_ours), len(t_ref))
    bad = np.flatnonzero((g_ours[:n] != g_ref[:n]) | (np.abs(t_ours[:n] - t_ref[:n]) > TOL_MS))
    if len(bad) or len(t_ours) != len(t_ref):
        i = int(bad[0]) if len(bad) else n
        ours = list(zip(t_ours[i:i + 3].tolist(), g_ours[i:i + 3].tolist()))
        theirs = list(zip(t_ref[i:i + 3].tolist(), g_ref[i:i + 3].tolist()))
        pytest.fail(f"{what}: nethub {len(t_ours)} spikes, NetPyNE {len(t_ref)}; first "
                    f"difference at spike {i} (time, gid):\n  nethub  {ours}\n  NetPyNE {theirs}")


def _our_traces(res) -> dict[str, np.ndarray]:
    index = res.traces.index
    labels = index["label"].values().tolist()
    gids = np.asarray(index["gid"]).tolist()
    return {f"trace:{lab}:{gid}": res.traces.data[i] for i, (lab, gid) in
            enumerate(zip(labels, gids))}


@pytest.mark.parametrize("name", _params(ALL_MODELS, "test_spikes"))
def test_spikes(name, runs):
    """The same spikes: count, gids and times (|dt| <= 1e-9 ms)."""
    res = runs.nethub(name)
    t_ref, g_ref = _ref_spikes(runs.netpyne(name))
    _assert_same_spikes(res.spike_times, res.spike_gids, t_ref, g_ref, name)


@pytest.mark.parametrize("name", _params(ALL_MODELS, "test_traces"))
def test_traces(name, runs):
    """The same traces (cells x recordTraces entries NetPyNE records): time and values bit
    for bit."""
    ref = runs.netpyne(name)
    ours = _our_traces(runs.nethub(name))
    theirs = {k: v for k, v in ref.items() if k.startswith("trace:")}
    assert sorted(ours) == sorted(theirs)
    if not theirs:
        return
    np.testing.assert_array_equal(runs.nethub(name).traces.time, ref["t"])
    bad = [k for k in sorted(theirs) if not np.array_equal(ours[k], theirs[k])]
    if bad:
        diff = {k: float(np.max(np.abs(ours[k] - theirs[k]))) for k in bad}
        pytest.fail(f"{len(bad)} of {len(theirs)} traces differ (max |nethub - NetPyNE|): "
                    f"{diff}")


@pytest.mark.parametrize("name", _params(MPI_MODELS, "test_two_ranks"))
def test_two_ranks(name, runs, tmp_path):
    """On 2 MPI ranks: NetPyNE's spikes, and the serial run's traces bit for bit."""
    import nethub

    res = nethub.simulate(runs.store(name), nprocs=2, output=tmp_path / "mpi.h5")
    assert res.nranks == 2
    t_ref, g_ref = _ref_spikes(runs.netpyne(name))
    _assert_same_spikes(res.spike_times, res.spike_gids, t_ref, g_ref, f"{name} on 2 ranks")
    serial = runs.nethub(name)
    assert res.traces.index.equals(serial.traces.index)
    np.testing.assert_array_equal(res.traces.data, serial.traces.data)
