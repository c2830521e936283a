"""``Morphology.locations`` (vectorized, used for every connection and input) gives exactly
the per-point ``Morphology.location`` jNeuroML's mapping is checked with."""

from __future__ import annotations

import numpy as np
import pytest

from nethub.converters.nml_morph import Morphology


@pytest.mark.parametrize("per_group", [True, False])
def test_locations_equal_location(per_group):
    morph = Morphology(seg_section={0: "soma", 1: "dend", 2: "dend", 3: "dend", 7: "axon"},
                       seg_range={0: (0.0, 0.0, 0.0), 1: (0.0, 50.0, 110.3),
                                  2: (50.0, 30.0, 110.3), 3: (80.0, 30.3, 110.3),
                                  7: (0.0, 0.0, 0.0)}, per_group=per_group)
    rng = np.random.default_rng(5)
    segs = rng.choice([0, 1, 2, 3, 7], 3000)
    fracs = np.concatenate([rng.random(2990), [0.0, 1.0, 0.5, 0.1, 0.3, 1e-9, 0.999999,
                                                 0.25, 0.75, 0.123456789]])
    names, xs = morph.locations(segs, fracs)
    want = [morph.location(s, f) for s, f in zip(segs.tolist(), fracs.tolist())]
    assert names == [w[0] for w in want]
    assert np.array_equal(xs, np.array([w[1] for w in want]))
    assert morph.locations(np.zeros(0), np.zeros(0))[0] == []
    with pytest.raises(KeyError):
        morph.locations(np.array([0, 5]), np.array([0.5, 0.5]))
