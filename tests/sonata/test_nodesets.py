"""Node sets resolved vectorized, cross-checked against libsonata's NodeSets."""

from __future__ import annotations

import json

import libsonata
import numpy as np
import pytest

from nethub.errors import FormatError
from nethub.formats.sonata.nodes import read_nodes
from nethub.formats.sonata.nodesets import load_node_sets, resolve_node_set

from .conftest import FIXTURES

NET = FIXTURES / "300_intfire" / "network"


@pytest.fixture(scope="module")
def pops():
    out = {}
    for p in ("v1", "lgn", "tw"):
        out.update(read_nodes(NET / f"{p}_nodes.h5", NET / f"{p}_node_types.csv"))
    return out


SETS = {
    "inh": {"model_name": "LIF_inh"},
    "by_list": {"model_name": ["LIF_inh", "tON"], "ei": "e"},
    "ids": {"population": "v1", "node_id": [0, 3, 27, 99]},
    "lgn": {"population": "lgn"},
    "both": ["inh", "lgn"],
    "typed": {"node_type_id": 101},
    "regex": {"model_name": {"$regex": "LIF_.*"}, "node_id": [1, 2]},
    "none": {"no_such_property": 1},
}


def test_node_sets_resolve(pops):
    table = pops["v1"].table()
    inh = table.loc[table["model_name"] == "LIF_inh", "node_id"].to_numpy()
    assert resolve_node_set("inh", SETS, pops)["v1"].tolist() == inh.tolist()
    assert list(resolve_node_set("by_list", SETS, pops)) == ["lgn"]
    assert resolve_node_set("ids", SETS, pops) == {"v1": pytest.approx([0, 3, 27])}
    both = resolve_node_set("both", SETS, pops)
    assert both["lgn"].tolist() == list(range(9)) and both["v1"].tolist() == inh.tolist()
    assert resolve_node_set("typed", SETS, pops)["v1"].tolist() == inh.tolist()
    assert resolve_node_set("regex", SETS, pops)["v1"].tolist() == [1, 2]
    assert resolve_node_set("none", SETS, pops) == {}


def test_node_sets_agree_with_libsonata(tmp_path, pops):
    nodes = FIXTURES / "libsonata" / "nodes1.h5"
    (pop,) = read_nodes(nodes, populations=["nodes-A"]).values()
    sets = {"x": {"attr-Y": [21, 25]}, "gt": {"attr-X": {"$gt": 13.5}},
            "z": {"attr-Z": {"$regex": "[a-c]+"}}, "ids": {"node_id": [1, 4]},
            "all": ["x", "gt", "z", "ids"]}
    path = tmp_path / "ns.json"
    path.write_text(json.dumps(sets))
    ref = libsonata.NodeSets.from_file(str(path))
    lib_pop = libsonata.NodeStorage(str(nodes)).open_population("nodes-A")
    for name in sets:
        got = resolve_node_set(name, load_node_sets(path), {"nodes-A": pop})
        want = ref.materialize(name, lib_pop).flatten().tolist()
        assert got.get("nodes-A", np.zeros(0)).tolist() == want, name


def test_node_set_errors(pops):
    with pytest.raises(FormatError, match="unknown node set 'nope' .in 'bad'."):
        resolve_node_set("bad", {"bad": ["nope"]}, pops)
    with pytest.raises(FormatError, match="includes itself"):
        resolve_node_set("a", {"a": ["b"], "b": ["a"]}, pops)
    with pytest.raises(FormatError, match="unknown operator '.gtt'"):
        resolve_node_set("o", {"o": {"ei": {"$gtt": 1}}}, pops)


def test_fixture_node_sets_file():
    sets = load_node_sets(FIXTURES / "9_cells" / "node_sets.json")
    cortex = read_nodes(FIXTURES / "9_cells/network/cortex_nodes.h5",
                        FIXTURES / "9_cells/network/cortex_node_types.csv")
    assert resolve_node_set("biophys_cells", sets, cortex)["cortex"].tolist() == list(range(9))
