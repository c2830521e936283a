"""Point cells: per-cell parameters and spike trains (``nethub.builder.pointcells``).

Expected values come from a line-by-line transcription of NetPyNE 1.1's ``PointCell.
createNEURONObj`` and ``cell/inputs.py`` onto :class:`nethub.random123.NrnRandom` (the scalar,
NEURON-verified ``h.Random`` emulation), so these tests check the vectorized build against
NetPyNE's own sequence of draws and floating-point operations without running NEURON;
``tests/faithfulness/test_pointcells_netpyne.py`` compares with real NetPyNE.
"""

from __future__ import annotations

import copy
import logging

import numpy as np
import pytest

from nethub.builder import build
from nethub.builder import pointcells as pc
from nethub.errors import SpecError
from nethub.random123 import NrnRandom, netpyne_hash_str
from nethub.random123 import Random123Stream as Stream
from nethub.table import Ragged

STIM_SEED, CELL_SEED = 3, 5
CFG = {"duration": 900, "seeds": {"conn": 1, "stim": STIM_SEED, "loc": 2, "cell": CELL_SEED}}


def _build(pops: dict, cell_params: dict | None = None, cfg: dict | None = None, **net):
    return build({"popParams": pops, "cellParams": cell_params or {}, **net}, cfg or CFG)


def _rows(network, pop: str) -> np.ndarray:
    cells = network.cells
    return np.flatnonzero(cells["pop"].codes == cells["pop"].code_of(pop))


def _col(network, name: str, pop: str) -> np.ndarray:
    return np.asarray(network.cells[name])[_rows(network, pop)]


def _trains(network, pop: str) -> list[np.ndarray]:
    col = network.cells["params.spkTimes"]
    return [col.row(i) for i in _rows(network, pop)]


def _gids(network, pop: str) -> list[int]:
    return _col(network, "gid", pop).tolist()


def _rand(id1, id2=0, id3=0) -> NrnRandom:
    r = NrnRandom()
    r.Random123(id1, id2, id3)
    return r


# --------------------------------------------------------------------------------------------
# NetPyNE's VecStim code (pointCell.py / inputs.py) transcribed onto NrnRandom
# --------------------------------------------------------------------------------------------


def _ref_rhythmic(params, rand):
    start = params["start"]
    stop = params["stop"] if "stop" in params else params["tstop"]
    if start == -1:
        start = rand.uniform(params.get("startMin", 25.0), params.get("startMax", 125.0))
    elif params.get("startStd", -1) > 0.0:
        start = rand.normal(start, params["startStd"])
    freq = params.get("freq", False)
    freq_std = params.get("freqStd", 0)
    epc = params.get("eventsPerCycle", 2)
    if epc > 2 or epc <= 0:
        epc = 2
    if params.get("distribution", "normal") == "normal":
        isi = np.arange(start, stop, 1000.0 / freq)
        if freq_std:
            rep = np.repeat(isi, params["repeats"])
            rand.normal(0, freq_std * freq_std)
            std = rand.setrand(len(rep))
            t = np.array([a + b for a, b in zip(list(std), rep)])
        else:
            t = isi
    else:
        n_inputs = params["repeats"] * freq * (stop - start) / 1000.0
        rand.uniform(start, stop)
        t = np.array(rand.setrand(int(n_inputs)))
    t = np.append(t - 5, t + 5) if epc == 2 else t
    t = t[t > 0]
    t.sort()
    return t


def _ref_pattern(p, rand, duration):
    kind = p["type"]
    if kind == "rhythmic":
        return _ref_rhythmic(p, rand)
    if kind in ("evoked", "gauss"):
        mu, sigma = (p["start"], p["startStd"]) if kind == "evoked" else (p["mu"], p["sigma"])
        n = int(p["numspikes"]) if kind == "evoked" else 50
        if sigma:
            rand.normal(mu, sigma)
            vals = np.array(rand.setrand(n))
        else:
            vals = np.array([mu] * n)
        return np.sort(vals[vals > 0])
    t0, stop, lam = p["start"], p["stop"], p["frequency"]
    stop = duration if stop == -1 else stop
    out = np.array([])
    if lam > 0.0:
        t_gen = t0 + (-1000.0 * np.log(1.0 - rand.uniform(0, 1)) / lam)
        while t_gen < stop:
            t_gen += -1000.0 * np.log(1.0 - rand.uniform(0, 1)) / lam
            if t_gen < stop:
                out = np.append(out, t_gen)
    return out


def _ref_regular(interval, noise, start, span, rand):
    fixed = np.full(int((1 + 1.5 * noise) * span / interval), [(1.0 - noise) * interval])
    if noise == 0.0:
        return np.cumsum(fixed) + (start - interval)
    rand.negexp(noise * interval)
    neg = [rand.setrand(1)[0] for _ in range(len(fixed))]
    return np.cumsum(fixed + np.array(neg)) + (start - interval * (1 - noise))


def _ref_pulses(p, gid, seed, spk):
    for i, pulse in enumerate(p.get("pulses", [])):
        pulse = dict(pulse)
        if isinstance(pulse.get("rate"), list):
            pulse["rate"] = _rand(netpyne_hash_str("point_rate_pulse" + str(i)), gid,
                                  STIM_SEED).uniform(*pulse["rate"])
        interval = pulse["interval"] if "interval" in pulse else 1000.0 / pulse["rate"]
        start, end = pulse["start"], pulse["end"]
        t = _ref_regular(interval, pulse.get("noise", 0.0), start, end - start,
                         _rand(i, gid, seed))
        t[t < start] = start
        spk = np.append(spk, t[t <= end])
    return spk


def ref_vecstim(params, gid, duration=900.0):
    """NetPyNE's spike times of the VecStim cell ``gid`` with (pop-level) ``params``."""
    p = copy.deepcopy(params)
    if isinstance(p.get("rate"), list):
        p["rate"] = _rand(netpyne_hash_str("point_rate"), gid, STIM_SEED).uniform(*p["rate"])
    seed = p.get("seed", STIM_SEED)
    if "rate" in p:
        p["interval"] = 1000.0 / p["rate"]
    if "interval" in p:
        spk = _ref_regular(p["interval"], p.get("noise", 0.0), p.get("start", 0.0), duration,
                           _rand(netpyne_hash_str("vecstim_spkt"), gid, seed))
    elif "spikePattern" in p:
        sp = p["spikePattern"]
        ids = (seed,) if sp.get("sync", False) else (gid, seed)
        spk = _ref_pattern(sp, _rand(netpyne_hash_str("vecstim_spikePattern"), *ids), duration)
    else:
        spk = np.array(p["spkTimes"])
    spk = _ref_pulses(p, gid, seed, spk)
    spk[spk < 0] = 0
    spk = np.sort(spk)
    return spk[spk <= duration].astype(np.float64)


def _check_trains(network, pop: str, params: dict, duration=900.0) -> None:
    got = _trains(network, pop)
    for gid, train in zip(_gids(network, pop), got):
        want = ref_vecstim(params, gid, duration)
        assert train.dtype == np.float64
        assert np.array_equal(train, want), (pop, gid, train[:5], want[:5])
    assert sum(len(t) for t in got) > 0


# --------------------------------------------------------------------------------------------
# scalar parameters
# --------------------------------------------------------------------------------------------


def test_netstim_rate_number_and_defaults():
    net = _build({"S": {"cellModel": "NetStim", "numCells": 3, "rate": 8, "noise": 0.5}})
    assert np.array_equal(_col(net, "params.rate", "S"), [8.0] * 3)
    assert np.array_equal(_col(net, "params.interval", "S"), [125.0] * 3)
    assert np.array_equal(_col(net, "params.number", "S"), [1e9] * 3)
    assert np.array_equal(_col(net, "params.seed", "S"), [STIM_SEED] * 3)
    ids = net.cells["params.noise_ids"]
    assert isinstance(ids, Ragged)
    for row, gid in zip(_rows(net, "S"), _gids(net, "S")):
        assert ids.row(row).tolist() == [netpyne_hash_str("NetStim"), gid, STIM_SEED]
    assert "params.spkTimes" not in net.cells  # no VecStim


def test_netstim_given_number_and_seed():
    net = _build({"S": {"cellModel": "NetStim", "numCells": 2, "rate": 8, "number": 5,
                        "seed": 42}})
    assert np.array_equal(_col(net, "params.number", "S"), [5.0, 5.0])
    assert np.array_equal(_col(net, "params.seed", "S"), [42.0, 42.0])
    assert net.cells["params.noise_ids"].row(_rows(net, "S")[1])[2] == 42


def test_rate_range_per_cell_draw():
    pops = {"A": {"cellModel": "NetStim", "numCells": 2, "rate": 1},
            "S": {"cellModel": "NetStim", "numCells": 5, "rate": [5, 15]}}
    net = _build(pops)
    rates = _col(net, "params.rate", "S")
    for gid, rate in zip(_gids(net, "S"), rates):
        assert rate == _rand(netpyne_hash_str("point_rate"), gid, STIM_SEED).uniform(5, 15)
    assert np.array_equal(_col(net, "params.interval", "S"), 1000.0 / rates)
    assert len(set(rates.tolist())) == 5


@pytest.mark.parametrize("order, interval", [(("interval", "rate"), 1000.0 / 30),
                                             (("rate", "interval"), 20.0)])
def test_netstim_interval_is_the_later_of_rate_and_interval(order, interval):
    params = {k: {"interval": 20, "rate": 30}[k] for k in order}
    net = _build({"S": {"cellModel": "NetStim", "numCells": 1, "params": params}})
    assert _col(net, "params.interval", "S")[0] == interval


def test_params_dict_rule_params_and_cell_model():
    rule = {"cellModel": "NetStim", "params": {"rate": 4, "noise": 0.25, "start": 7}}
    pops = {"A": {"cellType": "R", "numCells": 1, "params": {"rate": 9}},
            "B": {"cellType": "R", "cellModel": "NetStim", "numCells": 1, "rate": 9},
            "C": {"cellType": "R", "numCells": 1}}
    net = _build(pops, {"R": rule})
    assert _col(net, "params.rate", "A")[0] == 9  # the population's wins
    assert _col(net, "params.noise", "A")[0] == 0.25  # the rule adds what is missing
    assert np.isnan(_col(net, "params.noise", "B")[0])  # not with a cellModel in popParams
    assert _col(net, "params.start", "C")[0] == 7


def test_intfire_params():
    net = _build({"I": {"cellModel": "IntFire4", "numCells": 2,
                        "params": {"taue": 3, "taui1": 7}}})
    assert np.array_equal(_col(net, "params.taue", "I"), [3.0, 3.0])
    assert np.array_equal(_col(net, "params.taui1", "I"), [7.0, 7.0])
    assert "params.seed" not in net.cells and "params.noise_ids" not in net.cells


def test_string_functions_share_one_stream_per_cell():
    pops = {"S": {"cellModel": "NetStim", "numCells": 4, "rate": "5 + 10*ynorm",
                  "noise": "uniform(0.1, 0.9)", "start": "normal(20, 4)", "number": 3}}
    net = _build(pops)
    ynorm = _col(net, "ynorm", "S")
    assert np.array_equal(_col(net, "params.rate", "S"), 5 + 10 * ynorm)
    for gid, noise, start in zip(_gids(net, "S"), _col(net, "params.noise", "S"),
                                 _col(net, "params.start", "S")):
        r = _rand(netpyne_hash_str("cellParams"), gid, CELL_SEED)
        assert noise == r.uniform(0.1, 0.9)
        assert start == r.normal(20, 4)


def test_string_functions_come_from_the_cell_type_rule():
    rule = {"cellModel": "NetStim", "params": {"rate": "uniform(5, 10)"}}
    net = _build({"B": {"cellType": "R", "cellModel": "NetStim", "numCells": 2, "rate": 12}},
                 {"R": rule})
    for gid, rate in zip(_gids(net, "B"), _col(net, "params.rate", "B")):
        assert rate == _rand(netpyne_hash_str("cellParams"), gid, CELL_SEED).uniform(5, 10)


def test_population_string_of_a_cell_type_population(caplog):
    rule = {"cellModel": "NetStim", "params": {"rate": 10}}
    with caplog.at_level(logging.WARNING, logger="nethub.builder.pointcells"):
        net = _build({"P": {"cellType": "R", "numCells": 1, "params": {"noise": "x/100"}}},
                     {"R": rule})
    assert "params.noise" not in net.cells
    assert "popParams['P']['params']['noise']" in caplog.text
    with pytest.raises(SpecError, match=r"popParams\['P'\]\['params'\]\['rate'\].*cellParams"):
        _build({"P": {"cellType": "R", "numCells": 1, "params": {"rate": "uniform(1, 2)"}}},
               {"R": rule})


def test_is_netpyne_func():
    assert pc._is_netpyne_func("uniform(1, 2)")
    assert pc._is_netpyne_func("lognormal(1, 2)")
    assert pc._is_netpyne_func("5 + ynorm")
    assert pc._is_netpyne_func("exp(2)")  # 'x' occurs in it: NetPyNE passes x
    assert not pc._is_netpyne_func("10")
    assert not pc._is_netpyne_func("variable")


def test_dynamic_rates():
    pops = {"D2": {"cellModel": "NetStim", "numCells": 2,
                   "dynamicRates": {"rates": [[10, 0], [-1, 4]], "times": [0, 50]}},
            "D1": {"cellModel": "NetStim", "numCells": 2,
                   "dynamicRates": {"rates": [10, 20], "times": [0, 500]}},
            "R": {"cellModel": "DynamicNetStim", "numCells": 1,
                  "params": {"rates": [[25], [0]]}}}
    net = _build(pops)
    iv, t = net.cells["params.dynamicRates.intervals"], net.cells["params.dynamicRates.times"]
    r2, r1, rr = _rows(net, "D2"), _rows(net, "D1"), _rows(net, "R")
    assert iv.row(r2[0]).tolist() == [100.0, 1e10] and iv.row(r2[1]).tolist() == [1e10, 250.0]
    assert iv.row(r1[1]).tolist() == [100.0, 50.0] and t.row(r1[0]).tolist() == [0.0, 500.0]
    assert iv.row(rr[0]).tolist() == [40.0]
    assert np.isnan(_col(net, "params.number", "R")).all()  # NetPyNE's 1e9: only NetStims


# --------------------------------------------------------------------------------------------
# VecStim spike trains
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("params", [
    {"rate": 20, "noise": 0, "start": 10},
    {"rate": [10, 40], "noise": 0.5, "start": 3},
    {"interval": 5, "noise": 0.4, "seed": 11},  # >= 100 spikes: NetPyNE's "method 3"
    {"interval": 30, "rate": 50},  # a rate wins over the interval
])
def test_vecstim_interval_trains(params):
    net = _build({"V": {"cellModel": "VecStim", "numCells": 4, **params}})
    _check_trains(net, "V", params)
    if "rate" in params:
        rate = _col(net, "params.rate", "V")
        assert np.array_equal(_col(net, "params.interval", "V"), 1000.0 / rate)


def test_vecstim_trains_in_small_blocks(monkeypatch):
    params = {"rate": [10, 40], "noise": 0.5, "start": 3,
              "pulses": [{"start": 100, "end": 300, "rate": [20, 50], "noise": 0.3}]}
    whole = _build({"V": {"cellModel": "VecStim", "numCells": 6, **params}})
    monkeypatch.setattr(pc, "_BLOCK", 7)
    blocks = _build({"V": {"cellModel": "VecStim", "numCells": 6, **params}})
    assert whole.cells["params.spkTimes"].equals(blocks.cells["params.spkTimes"])


def test_vecstim_spike_times_and_pulses():
    params = {"spkTimes": [1, 50.5, -3, 950, 20],
              "pulses": [{"start": 100, "end": 300, "rate": [20, 50], "noise": 0.3},
                         {"start": 400, "end": 500, "rate": 100},
                         {"start": 600, "end": 700, "interval": 15, "noise": 0.5}]}
    net = _build({"V": {"cellModel": "VecStim", "numCells": 3, **params}})
    _check_trains(net, "V", params)
    assert _trains(net, "V")[0][0] == 0.0  # -3 -> 0


def test_vecstim_2d_spike_times_and_cells_list():
    pops = {"V": {"cellModel": "VecStim", "numCells": 3, "spkTimes": [[5, 1, 3], [], [2000, 7]]},
            "L": {"cellModel": "VecStim",
                  "cellsList": [{"x": 1, "y": 2, "z": 3, "spkTimes": [3, 1, 2]},
                                {"x": 4, "y": 5, "z": 6, "spkTimes": [9],
                                 "params": {"interval": 50, "start": 5}}]}}
    net = _build(pops)
    assert [t.tolist() for t in _trains(net, "V")] == [[1, 3, 5], [], [7]]
    first, second = _trains(net, "L")
    assert first.tolist() == [1, 2, 3]
    gid = _gids(net, "L")[1]
    assert np.array_equal(second, ref_vecstim({"interval": 50, "start": 5}, gid))
    assert np.isnan(_col(net, "params.interval", "L")[0])


@pytest.mark.parametrize("pattern", [
    {"type": "rhythmic", "start": -1, "stop": 800, "freq": 8, "freqStd": 3, "repeats": 2},
    {"type": "rhythmic", "start": 50, "startStd": 5, "stop": 700, "freq": 10, "repeats": 3,
     "distribution": "uniform", "eventsPerCycle": 1},
    {"type": "rhythmic", "start": 50, "startStd": 9, "stop": 600, "freq": 20, "freqStd": 2,
     "repeats": 1, "eventsPerCycle": 7},
    {"type": "rhythmic", "start": 20, "tstop": 600, "freq": 20},
    {"type": "evoked", "start": 100, "startStd": 20, "numspikes": 5},
    {"type": "evoked", "start": 100, "startStd": 0, "numspikes": 3},
    {"type": "poisson", "start": 50, "stop": -1, "frequency": 30},
    {"type": "gauss", "mu": 200, "sigma": 100},
    {"type": "gauss", "mu": 200, "sigma": 100, "sync": True},
])
def test_vecstim_spike_patterns(pattern):
    params = {"spikePattern": pattern, "seed": 9}
    net = _build({"V": {"cellModel": "VecStim", "numCells": 4, **params}})
    _check_trains(net, "V", params)
    if pattern.get("sync"):
        trains = _trains(net, "V")
        assert all(np.array_equal(t, trains[0]) for t in trains)


def test_vecstim_pattern_from_the_rule():
    rule = {"cellModel": "VecStim",
            "params": {"spikePattern": {"type": "poisson", "start": 0, "stop": 300,
                                        "frequency": 50}, "seed": 9}}
    net = _build({"P": {"cellType": "R", "numCells": 3}}, {"R": rule})
    _check_trains(net, "P", rule["params"])


def test_poisson_fetches_more_draws():
    stream = Stream(netpyne_hash_str("vecstim_spikePattern"), np.array([4, 5]), 1)
    u = stream.uniform01_block(200).reshape(2, 200)
    full = pc._poisson_cell(u[1].tolist(), stream, 1, 0.0, 1000.0, 40.0)
    short = pc._poisson_cell(u[1, :3].tolist(), stream, 1, 0.0, 1000.0, 40.0)
    assert len(full) > 20 and np.array_equal(full, short)


def test_vecstim_duration_clips():
    params = {"rate": 50, "noise": 0.2}
    net = _build({"V": {"cellModel": "VecStim", "numCells": 2, **params}},
                 cfg={**CFG, "duration": 300})
    _check_trains(net, "V", params, duration=300.0)
    assert max(t.max() for t in _trains(net, "V")) <= 300


def test_point_rows_only():
    pops = {"E": {"cellType": "PYR", "numCells": 2},
            "V": {"cellModel": "VecStim", "numCells": 2, "spkTimes": [1, 2]}}
    cell_params = {"PYR": {"secs": {"soma": {"geom": {"L": 10, "diam": 10}}}}}
    net = _build(pops, cell_params)
    assert all(len(t) == 0 for t in _trains(net, "E"))
    assert np.isnan(_col(net, "params.seed", "E")).all()
    assert [t.tolist() for t in _trains(net, "V")] == [[1, 2], [1, 2]]


def test_ignored_inputs_warn(caplog):
    pops = {"N": {"cellModel": "NetStim", "numCells": 1, "rate": 5,
                  "pulses": [{"start": 1, "end": 2, "rate": 10}]},
            "V": {"cellModel": "VecStim", "numCells": 2},
            "D": {"cellModel": "VecStim", "density": 1e4, "spkTimes": [1, 2]}}
    with caplog.at_level(logging.WARNING, logger="nethub.builder.pointcells"):
        net = _build(pops)
    assert all(len(t) == 0 for t in _trains(net, "N") + _trains(net, "V") + _trains(net, "D"))
    assert "popParams['V']: a VecStim needs" in caplog.text
    assert "popParams['D']['spkTimes']: NetPyNE only copies it" in caplog.text


def test_pops_without_cells_and_scale():
    net = _build({"Z": {"cellModel": "NetStim", "numCells": 0, "rate": 5},
                  "S": {"cellModel": "NetStim", "numCells": 2, "rate": [1, 2]}})
    assert len(_col(net, "params.rate", "S")) == 2


# --------------------------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("pop, match", [
    ({"cellModel": "NetStim", "rate": -5}, r"popParams\['P'\]\['rate'\]: must be > 0"),
    ({"cellModel": "NetStim", "rate": 0}, r"\['rate'\]: must be > 0"),
    ({"cellModel": "NetStim", "rate": [1, 2, 3]}, r"\['rate'\]: a rate range must be"),
    ({"cellModel": "NetStim", "rate": ["a", 2]}, r"\['rate'\]: a rate range must be"),
    ({"cellModel": "NetStim", "rate": [-1, 2]}, r"\['rate'\]: rate range bounds"),
    ({"cellModel": "NetStim", "rate": "variable"}, r"\['rate'\]: NetPyNE does not evaluate"),
    ({"cellModel": "NetStim", "params": {"noise": 1.5}},
     r"popParams\['P'\]\['params'\]\['noise'\]: must be in \[0, 1\]"),
    ({"cellModel": "NetStim", "rate": 5, "seed": -1}, r"\['seed'\]: must be in"),
    ({"cellModel": "NetStim", "rate": 5, "seed": "x"}, r"\['seed'\]: must be a number"),
    ({"cellModel": "VecStim", "interval": 0}, r"\['interval'\]: must be > 0"),
    ({"cellModel": "VecStim", "rate": "uniform(1, 5)"},
     r"\['rate'\]: a VecStim's rate must be a number"),
    ({"cellModel": "VecStim", "spikePattern": {"type": "burst"}},
     r"\['spikePattern'\]\['type'\]: unknown spikePattern type 'burst' \(valid: rhythmic"),
    ({"cellModel": "VecStim", "spikePattern": {"start": 1}}, r"unknown spikePattern type None"),
    ({"cellModel": "VecStim", "spikePattern": {"type": "rhythmic", "start": 1, "stop": 50,
                                               "freq": 5, "distribution": "beta"}},
     r"\['distribution'\]: unknown distribution 'beta'"),
    ({"cellModel": "VecStim", "spikePattern": {"type": "evoked", "start": 1}},
     r"\['spikePattern'\]\['startStd'\]: this spikePattern needs a number"),
    ({"cellModel": "VecStim", "spikePattern": {"type": "rhythmic", "start": 1, "stop": 500,
                                               "freq": 5, "freqStd": 1}},
     r"\['spikePattern'\]\['repeats'\]"),
    ({"cellModel": "VecStim", "spkTimes": [[1, 2], [3]]},
     r"popParams\['P'\]\['spkTimes'\]: 2 rows for 3 cells"),
    ({"cellModel": "VecStim", "spkTimes": [1, "a"]}, r"\['spkTimes'\]: must be a list of num"),
    ({"cellModel": "VecStim", "params": {"spkTimes": 5}}, r"\['spkTimes'\]: must be a list"),
    ({"cellModel": "VecStim", "spkTimes": [1], "pulses": [{"start": 1, "rate": 5}]},
     r"\['pulses'\]\[0\]\['end'\]: a pulse needs a number"),
    ({"cellModel": "VecStim", "spkTimes": [1], "pulses": [{"start": 1, "end": 5}]},
     r"\['pulses'\]\[0\]: a pulse needs 'rate' or 'interval'"),
    ({"cellModel": "VecStim", "spkTimes": [1], "pulses": [{"start": 1, "end": 5,
                                                            "rate": [1, 2, 3]}]},
     r"\['pulses'\]\[0\]\['rate'\]: a rate range"),
    ({"cellModel": "VecStim", "interval": 1, "noise": 0.5, "seed": 1},
     r"\['interval'\]: more than 9999 noisy VecStim spikes"),
    ({"cellModel": "NetStim", "dynamicRates": {"rates": [[1], [2]], "times": [0]}},
     r"popParams\['P'\]\['dynamicRates'\]\['rates'\]: 2 rows for 3 cells"),
    ({"cellModel": "VecStim", "spkTimes": [1], "dynamicRates": {"rates": [1], "times": [0]}},
     r"\['dynamicRates'\]: dynamic rates are played into 'interval'"),
])
def test_errors(pop, match):
    with pytest.raises(SpecError, match=match):
        _build({"P": {"numCells": 3, **pop}}, cfg={**CFG, "duration": 20000})


def test_cells_list_vecstim_needs_spike_times():
    entries = [{"x": 1, "spkTimes": [1]}, {"x": 2}]
    with pytest.raises(SpecError, match=r"\['cellsList'\]\[1\]: a VecStim cell needs"):
        pc._cells_list_groups("L", entries, "VecStim", {}, {}, None)


def test_other_rows_of_existing_columns_are_kept():
    """cellsList tags already in the cells table (``params.spkTimes``, ``params.rate``) keep
    their values on the rows that are not point cells."""
    entries = [{"x": 1, "spkTimes": [4, 2], "params": {"rate": 3}},
               {"x": 2, "spkTimes": [], "params": {"rate": 4}}]
    pops = {"C": {"cellType": "PYR", "cellsList": entries},
            "V": {"cellModel": "VecStim", "numCells": 2, "spkTimes": [1, 2], "rate": [40, 50]}}
    cell_params = {"PYR": {"secs": {"soma": {"geom": {"L": 10, "diam": 10}}}}}
    net = _build(pops, cell_params)
    assert [t.tolist() for t in _trains(net, "C")] == [[4, 2], []]
    assert _col(net, "params.rate", "C").tolist() == [3.0, 4.0]
    assert _trains(net, "V")[0].size > 2 and not np.isnan(_col(net, "params.rate", "V")).any()
