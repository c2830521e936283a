"""Exact mode and the honest default (issue 16 item 3) on a chaotic network, against NetPyNE 1.1.

The network: recurrent excitatory/inhibitory HH cells with noisy background, integrated with
CVode. Under CVode a spike time is interpolated, so the round-off by which merged synapses
differ from NetPyNE's one synapse per connection (~1e-12 mV) shows in the first spike times,
and the recurrent network amplifies it until the spike trains part (measured here: 518 spikes
each; the first spike time differing at 2.2 ms by round-off, the first differing by more than
0.1 ms at 5.5 ms; mean CV of the ISIs 0.126 vs 0.122, synchrony chi**2 0.509 vs 0.510). Under the
fixed step the same round-off almost never flips a spike (a flip needs v within ~1e-12 mV of
the threshold at a step: none in 300 HH or Izhikevich cells x 500 ms, measured), so the
chaotic case is the one where the user needs to know.

- exact mode (``nethubExact``) gives NetPyNE's spikes bit for bit, serially and on 2 ranks;
- fast mode (the default) records ``exactness: 'fast'`` and says so once in the log; its
  statistics equal NetPyNE's within bounds stated with :data:`BOUNDS`.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from netpyne_pair import finish_netpyne, start_netpyne
from spike_stats import cv_isi, first_difference, identical, rate, synchrony

pytestmark = pytest.mark.neuron

CHAOS = """\
from netpyne import specs, sim

netParams = specs.NetParams()
hh = {'gnabar': 0.12, 'gkbar': 0.036, 'gl': 0.0003, 'el': -54.3}
netParams.cellParams['HH'] = {'secs': {'soma': {'geom': {'diam': 18.8, 'L': 18.8, 'Ra': 123.0},
                                                'mechs': {'hh': hh}}}}
netParams.popParams['E'] = {'cellType': 'HH', 'numCells': 48}
netParams.popParams['I'] = {'cellType': 'HH', 'numCells': 12}
netParams.synMechParams['exc'] = {'mod': 'Exp2Syn', 'tau1': 0.1, 'tau2': 5.0, 'e': 0}
netParams.synMechParams['inh'] = {'mod': 'Exp2Syn', 'tau1': 0.5, 'tau2': 10.0, 'e': -80}
netParams.stimSourceParams['bkg'] = {'type': 'NetStim', 'rate': 20, 'noise': 1.0}
netParams.stimTargetParams['bkg->all'] = {'source': 'bkg', 'conds': {'cellType': 'HH'},
                                          'weight': 0.005, 'delay': 1, 'synMech': 'exc'}
netParams.connParams['E->all'] = {'preConds': {'pop': 'E'}, 'postConds': {'cellType': 'HH'},
                                  'probability': 0.25, 'weight': 0.012,
                                  'delay': 'uniform(1, 4)', 'synMech': 'exc'}
netParams.connParams['I->all'] = {'preConds': {'pop': 'I'}, 'postConds': {'cellType': 'HH'},
                                  'probability': 0.5, 'weight': 0.016,
                                  'delay': 'uniform(1, 3)', 'synMech': 'inh'}

cfg = specs.SimConfig()
cfg.duration = 250
cfg.dt = 0.025
cfg.cvode_active = True
cfg.cvode_atol = 1e-3
cfg.seeds = {'conn': 1, 'stim': 2, 'loc': 3, 'cell': 4}
sim.createSimulateAnalyze(netParams, cfg)
"""
N_CELLS, DURATION = 60, 250.0

#: fast mode against NetPyNE, once the spike trains have parted. Rates: 3 standard deviations
#: of a Poisson count of NetPyNE's spikes (relative 3/sqrt(n)): two runs of the same network
#: that differ only in their spike times are two samples of one process. CV of the ISIs: 0.1
#: absolute (the cells fire ~6 spikes each here, so one cell's CV moves by ~0.1 when one
#: interval changes; the mean over 60 cells moves less). Synchrony (Golomb's chi**2, 5 ms
#: bins): within 25 % relative (chi**2 of 60 cells is a ratio of variances estimated from 50
#: bins, whose relative standard error is ~sqrt(2/50) = 20 %).
BOUNDS = {"rate_rel_sigmas": 3.0, "cv_abs": 0.1, "sync_rel": 0.25}


def _start_netpyne(model: Path, out: Path):
    return start_netpyne(model, out, DURATION)


def _finish_netpyne(proc, out: Path) -> tuple[np.ndarray, np.ndarray]:
    ref = finish_netpyne(proc, out)
    return ref["spkt"], ref["spkid"]


@pytest.fixture(scope="module")
def chaos(tmp_path_factory):
    """The model file, NetPyNE's spikes (a subprocess started first) and nethub's store; and
    the same under the fixed step (``fixed_*``), for the 2-rank run: under CVode the ranks'
    steps are not the serial run's, in NetPyNE as in nethub."""
    import nethub

    tmp = tmp_path_factory.mktemp("chaos")
    runs = {}
    for name, text in (("chaos", CHAOS), ("fixed", CHAOS.replace("cfg.cvode_active = True",
                                                                 "cfg.cvode_active = False"))):
        model = tmp / f"{name}.py"
        model.write_text(text)
        runs[name] = (model, _start_netpyne(model, tmp / f"{name}.npz"))
    out = {"tmp": tmp}
    for name, (model, proc) in runs.items():
        store = tmp / f"{name}.h5"
        nethub.save(nethub.build(*nethub.load_spec(model)), store)
        out[name] = {"store": store, "netpyne": _finish_netpyne(proc, tmp / f"{name}.npz")}
    return out


def _spikes(res) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(res.spike_times), np.asarray(res.spike_gids)


def test_exact_mode_gives_netpyne_spikes_bit_for_bit(chaos):
    import nethub

    res = nethub.simulate(chaos["chaos"]["store"], {"nethubExact": True},
                          output=chaos["tmp"] / "exact.h5")
    assert identical(_spikes(res), chaos["chaos"]["netpyne"])
    assert res.meta["exactness"] == "exact"
    assert res.meta["engine"] == "neuron"
    assert res.meta["synapse_objects"]["saved_by_merging"] == 0


def test_fast_mode_statistics_equal_netpynes_within_bounds(chaos, caplog):
    import nethub
    from nethub.sim.exact import FAST_NOTE

    with caplog.at_level(logging.INFO, logger="nethub.sim.exact"):
        res = nethub.simulate(chaos["chaos"]["store"], output=chaos["tmp"] / "fast.h5")
    notes = [r for r in caplog.records if r.name == "nethub.sim.exact"]
    assert len(notes) == 1 and "--exact" in notes[0].getMessage()
    assert res.meta["exactness"] == "fast" and res.meta["exactness_note"] == FAST_NOTE
    assert res.meta["synapse_objects"]["saved_by_merging"] > 0
    fast, ref = _spikes(res), chaos["chaos"]["netpyne"]
    # the point of the test: the trains have parted (by more than round-off)
    parted = first_difference(fast, ref, tol=0.1)
    assert parted is not None and parted < DURATION
    n_ref = len(ref[0])
    r_fast, r_ref = rate(*fast, N_CELLS, DURATION), rate(*ref, N_CELLS, DURATION)
    assert abs(r_fast - r_ref) / r_ref <= BOUNDS["rate_rel_sigmas"] / np.sqrt(n_ref)
    assert abs(cv_isi(*fast) - cv_isi(*ref)) <= BOUNDS["cv_abs"]
    gids = np.arange(N_CELLS)
    s_fast, s_ref = synchrony(*fast, gids, DURATION), synchrony(*ref, gids, DURATION)
    assert abs(s_fast - s_ref) / s_ref <= BOUNDS["sync_rel"]


def test_exact_mode_on_two_ranks_deals_as_netpyne_and_gives_its_spikes(chaos):
    import nethub

    res = nethub.simulate(chaos["fixed"]["store"], {"nethubExact": True}, nprocs=2,
                          output=chaos["tmp"] / "exact2.h5")
    assert res.nranks == 2 and res.meta["exactness"] == "exact"
    assert identical(_spikes(res), chaos["fixed"]["netpyne"])


def test_cli_run_exact_gives_netpynes_spikes(chaos, capsys):
    import nethub
    from nethub.cli import main

    out = chaos["tmp"] / "cli_exact.h5"
    assert main(["run", str(chaos["fixed"]["store"]), "--exact", "-o", str(out)]) == 0
    assert "(exact mode)" in capsys.readouterr().out
    res = nethub.load_results(out)
    assert res.meta["exactness"] == "exact"
    assert identical(_spikes(res), chaos["fixed"]["netpyne"])
