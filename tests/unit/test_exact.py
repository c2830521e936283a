"""Exact mode's settings (nethub.specs.runmap, nethub.sim.exact; no NEURON) and ``nethub run
--exact``'s simConfig."""

from __future__ import annotations

import numpy as np
import pytest

from nethub.cli import CommandLineError
from nethub.errors import SpecError
from nethub.runcli import _exactness, _load_cfg
from nethub.sim.exact import EXACT_NOTE, FAST_NOTE, exactness_meta, round_robin
from nethub.specs.runmap import apply_exact, is_exact


def test_exact_mode_switches_merging_and_coreneuron_off():
    assert apply_exact({"duration": 5}) == {"duration": 5}
    out = apply_exact({"nethubExact": True, "nethubCoreneuron": "auto"})
    assert out["nethubMergeSynapses"] is False and out["nethubCoreneuron"] is False


@pytest.mark.parametrize("clash", [{"nethubMergeSynapses": True}, {"nethubCoreneuron": True},
                                   {"coreneuron": True}])
def test_exact_mode_refuses_contradicting_settings(clash):
    with pytest.raises(SpecError, match="contradicts"):
        apply_exact({"nethubExact": True, **clash})


def test_exact_key_must_be_boolean():
    with pytest.raises(SpecError, match="nethubExact"):
        is_exact({"nethubExact": "yes"})


def test_round_robin_is_netpynes_deal():
    gids = np.arange(7)
    assert [round_robin(gids, r, 3).tolist() for r in range(3)] == [[0, 3, 6], [1, 4], [2, 5]]


def test_meta_says_which_mode_ran(caplog):
    assert exactness_meta(True, None, False)["exactness_note"] == EXACT_NOTE
    same = exactness_meta(False, {"total_saved": 0}, False)
    assert same["exactness"] == "fast" and same["exactness_note"] != FAST_NOTE
    assert not caplog.records
    with caplog.at_level("INFO"):
        fast = exactness_meta(False, {"total_saved": 12}, False)
    assert fast == {"exactness": "fast", "exactness_note": FAST_NOTE}
    assert len(caplog.records) == 1 and "12 synapse object(s)" in caplog.records[0].getMessage()
    assert "--exact" in _exactness(fast) and _exactness({"exactness": "exact"})


def test_cli_exact_sets_the_simconfig(tmp_path):
    cfg = tmp_path / "cfg.json"
    cfg.write_text('{"duration": 20, "nethubMergeSynapses": true}')
    out = _load_cfg(str(cfg), None, exact=True)
    assert out["nethubExact"] is True and out["duration"] == 20
    assert out["nethubMergeSynapses"] is False and out["nethubCoreneuron"] is False
    with pytest.raises(CommandLineError, match="--exact"):
        _load_cfg(None, "coreneuron", exact=True)
