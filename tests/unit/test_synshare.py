"""NetPyNE's ``oneSynPerNetcon = False``: one synapse per (cell, synMech, section, exact loc),
linear or not, in exact mode and for the rows merging leaves apart (no NEURON)."""

from __future__ import annotations

from test_merge import conn_table, make_net

from nethub.runconfig import RunConfig
from nethub.sim.merge import plan_merge
from nethub.specs.runmap import merged_simconfig, runconfig_from_netpyne

ROWS = [
    (10, "NMDA", "dend", 0.1),   # nonlinear (no source): NetPyNE shares it all the same
    (10, "NMDA", "dend", 0.1),
    (10, "NMDA", "dend", 0.15),  # another loc: its own
    (11, "NMDA", "dend", 0.1),   # another cell
    (10, "AMPA", "dend", 0.1),
    (10, "AMPA", "dend", 0.15),  # same segment as 0.1: merged by default, apart in NetPyNE
    (10, "AMPA", "dend", 0.1),
]


def _shares(cfg: dict) -> bool:
    return runconfig_from_netpyne(merged_simconfig(None, cfg)).share_synapses


def test_shares_only_when_false():
    assert not _shares({}) and not _shares({"oneSynPerNetcon": True}) and _shares(
        {"oneSynPerNetcon": False})


def test_exact_mode_shares_exactly_as_netpyne():
    cfg = RunConfig(merge_synapses=False, share_synapses=True)
    plan = plan_merge(make_net(conn_table(ROWS)), cfg)
    assert plan.syn_index.tolist() == [0, 0, 1, 2, 3, 4, 3]


def test_default_mode_adds_netpynes_sharing_to_merging():
    plan = plan_merge(make_net(conn_table(ROWS)), RunConfig(share_synapses=True))
    assert plan.syn_index.tolist() == [0, 0, 1, 2, 3, 3, 3]
    assert plan_merge(make_net(conn_table(ROWS))).syn_index.tolist() == [0, 1, 2, 3, 4, 4, 4]
