"""BMTK's synapse placement draws and weight functions, vectorized (checked against BMTK 1.2's
own functions, the test-only reference)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nethub.converters.sonata_bio_edges import _as_list, _weights, draw_segments, find_segments


def _segments(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    length = rng.uniform(1.0, 30.0, n)
    return {"type": rng.integers(1, 5, n), "length": length,
            "dist": np.cumsum(length) - length / 2 + rng.uniform(0, 5, n),
            "x": rng.uniform(0, 1, n), "sec_id": np.arange(n)}


class _Props:
    def __init__(self, segs):
        self.dist0 = segs["dist"] - segs["length"] / 2.0
        self.dist1 = segs["dist"] + segs["length"] / 2.0
        self.length = segs["length"]
        self.type = segs["type"]

    def get(self):
        return self


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_find_segments_is_bmtks(seed):
    from bmtk.simulator.bionet.morphology import Morphology

    rng = np.random.default_rng(seed)
    segs = _segments(rng, 60)
    morph = Morphology(hobj=None)
    morph._seg_props = _Props(segs)
    for names, rng_d in ((["basal", "apical"], (20.0, 200.0)), (["soma"], (0.0, 1e20)),
                         (["axon", "dend"], (50.0, 51.0))):
        want = morph.find_sections(names, list(rng_d), cache=False)
        got = find_segments(segs, names, rng_d)
        assert np.array_equal(got[0], want[0])
        assert np.array_equal(got[1], want[1])


def test_draws_are_randomstate_choice_call_after_call():
    rng = np.random.default_rng(5)
    cands = []
    for k in (5, 0, 1, 12, 7):
        tar = np.sort(rng.choice(100, k, replace=False))
        p = rng.uniform(0.1, 1.0, k)
        cands.append((tar, p / p.sum()))
    counts = np.array([3, 2, 4, 0, 6])
    got = draw_segments(42, cands, counts)
    prng = np.random.RandomState(42)
    want = []
    for (tar, p), n in zip(cands, counts, strict=True):
        if len(tar) == 0:
            want.extend([-1] * n)  # BMTK returns before drawing
            continue
        want.extend(prng.choice(tar, n, p=p).tolist())
    assert got.tolist() == want


def test_gaussianll_is_bmtks():
    from bmtk.simulator.bionet.default_setters.synaptic_weights import gaussianLL

    rng = np.random.default_rng(3)
    n = 50
    src, trg = rng.uniform(-400, 400, n), rng.uniform(0, 360, n)
    tab = pd.DataFrame({"syn_weight": rng.uniform(0, 1, n), "weight_sigma": rng.uniform(5, 90, n),
                        "weight_function": ["gaussianLL"] * (n - 2) + ["wmax", None]})
    lost: list[str] = []
    got = _weights(tab, src, trg, "edges e", lost)
    want = [gaussianLL(tab.iloc[i], {"tuning_angle": src[i]}, {"tuning_angle": trg[i]})
            for i in range(n - 2)] + list(tab["syn_weight"].iloc[-2:])
    assert np.allclose(got, want, rtol=1e-15, atol=0) and lost == []
    tab.loc[0, "weight_function"] = "mine"
    _weights(tab, src, trg, "edges e", lost)
    assert lost and "mine" in lost[0]


def test_type_table_text_values():
    assert _as_list("['basal', 'apical']") == ["basal", "apical"]
    assert _as_list("[20.0, 200.0]") == [20.0, 200.0]
    assert _as_list("150") == [0.0, 150.0]
    assert _as_list(np.array([1.0, 2.0])) == [1.0, 2.0]
    assert _as_list(float("nan")) is None and _as_list("not a list") is None
