"""``nethub swap`` makes NetPyNE's HybridTut out of an all-HH variant of it: the variant (both
populations PYR_HH, stimuli selected by population) built by nethub, then ``nethub swap
--pop PYR_Izhi_pop --cell-type PYR_Izhi --from HybridTut`` (the tutorial's cellParams rule and
its izhi2007b.mod), gives the tables nethub builds from HybridTut itself and, run in exact mode,
NetPyNE 1.1.1's spikes for HybridTut (a subprocess, test-only reference). Swapping back gives
the variant's content hash again."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

import nethub
from nethub.cli import main as cli
from nethub.table import Categorical

pytestmark = pytest.mark.neuron

HERE = Path(__file__).parent
TUTORIALS = HERE.parents[1] / "fixtures" / "specs" / "netpyne_tutorials"
HYBRID = TUTORIALS / "HybridTut"
DURATION = 200.0


def _netpyne_pair():
    spec = importlib.util.spec_from_file_location(
        "netpyne_pair_for_swap", HERE.parent / "faithfulness" / "netpyne_pair.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _all_hh() -> nethub.Network:
    net_params, cfg = nethub.load_spec(HYBRID)
    net_params["popParams"]["PYR_Izhi_pop"]["cellType"] = "PYR_HH"
    net_params["stimTargetParams"]["bg->PYR_Izhi"]["conds"] = {"pop": "PYR_Izhi_pop"}
    net_params["stimTargetParams"]["bg->PYR_HH"]["conds"] = {"pop": "PYR_HH_pop"}
    return nethub.build(net_params, cfg)


def _same_tables(a: nethub.Network, b: nethub.Network) -> None:
    a, b = a.canonical(), b.canonical()
    for t in ("cells", "connections", "stim_targets"):
        x, y = getattr(a, t), getattr(b, t)
        assert list(x.columns) == list(y.columns)
        for c in x.columns:
            u, v = x[c], y[c]
            if isinstance(u, Categorical):
                u, v = u.values(), v.values()
            u, v = np.asarray(u), np.asarray(v)
            assert np.array_equal(u, v, equal_nan=u.dtype.kind == "f"), (t, c)


def test_hybrid_tut_by_swapping(tmp_path):
    pair = _netpyne_pair()
    mods = pair.compile_mods(HYBRID / "mod")
    ref_proc = pair.start_netpyne(HYBRID, tmp_path / "netpyne.npz", DURATION, mods)
    try:
        variant = _all_hh()
        assert set(variant.cell_types) == {"PYR_HH"}
        nethub.save(variant, tmp_path / "allhh.h5")
        assert cli(["swap", str(tmp_path / "allhh.h5"), "--pop", "PYR_Izhi_pop", "--cell-type",
                    "PYR_Izhi", "--from", str(HYBRID), "-o", str(tmp_path / "hybrid.h5")]) == 0
        swapped = nethub.load(tmp_path / "hybrid.h5")
        hybrid = nethub.build(*nethub.load_spec(HYBRID))
        _same_tables(swapped, hybrid)
        assert swapped.cell_types["PYR_Izhi"].equals(hybrid.cell_types["PYR_Izhi"])
        assert list(swapped.mod_files) == ["izhi2007b.mod"]
        assert swapped.populations["PYR_Izhi_pop"].cell_type == "PYR_Izhi"
        res = nethub.simulate(tmp_path / "hybrid.h5", {"duration": DURATION,
                                                         "nethubExact": True},
                              output=tmp_path / "run.h5", trusted=True)
    finally:
        ref = pair.finish_netpyne(ref_proc, tmp_path / "netpyne.npz")
    t, g = np.asarray(ref["spkt"], dtype=float), np.asarray(ref["spkid"]).astype(np.int64)
    order = np.lexsort((g, t))
    assert len(res.spike_times) == len(t) > 100
    np.testing.assert_array_equal(res.spike_gids, g[order])
    np.testing.assert_allclose(res.spike_times, t[order], rtol=0, atol=1e-9)
    assert set(res.spike_gids.tolist()) & set(range(50, 100))  # the Izhikevich cells fire

    # swapping back: the variant's content hash
    assert cli(["swap", str(tmp_path / "hybrid.h5"), "--pop", "PYR_Izhi_pop", "--cell-type",
                "PYR_HH", "-o", str(tmp_path / "back.h5")]) == 0
    back = nethub.load(tmp_path / "back.h5")
    assert back.content_hash() == variant.content_hash()
    assert back.provenance == nethub.load(tmp_path / "allhh.h5").provenance
