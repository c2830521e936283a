"""Node and edge files: BMTK and libsonata layouts, cross-checked against libsonata."""

from __future__ import annotations

import h5py
import libsonata
import numpy as np
import pandas as pd
import pytest

from nethub.errors import FormatError
from nethub.formats.sonata.edges import read_edges
from nethub.formats.sonata.nodes import read_nodes
from nethub.formats.sonata.types import read_types_csv

from .conftest import FIXTURES

LIB = FIXTURES / "libsonata"
NET = FIXTURES / "300_intfire" / "network"


def test_bmtk_nodes_merge_type_csv():
    (pop,) = read_nodes(NET / "v1_nodes.h5", NET / "v1_node_types.csv").values()
    table = pop.table()
    assert pop.name == "v1" and len(pop) == 30
    assert table["node_id"].tolist() == list(range(30))
    inh = table["model_name"] == "LIF_inh"
    assert set(table.loc[inh, "node_type_id"]) == {101}
    assert set(table.loc[~inh, "dynamics_params"]) == {"IntFire1_exc_1.json"}
    assert table["model_template"].unique().tolist() == ["nrn:IntFire1"]


def test_libsonata_nodes_agree_with_libsonata():
    (pop,) = read_nodes(LIB / "nodes1.h5", populations=["nodes-A"]).values()
    ref = libsonata.NodeStorage(str(LIB / "nodes1.h5")).open_population("nodes-A")
    sel = libsonata.Selection(np.arange(ref.size))
    table = pop.table()
    for name in ("attr-X", "attr-Y", "attr-Z", "E-mapping-good"):
        assert table[name].tolist() == list(ref.get_attribute(name, sel)), name
    for name in ("dparam-X", "dparam-Y", "dparam-Z"):
        assert table[f"dynamics_params.{name}"].tolist() == list(
            ref.get_dynamics_attribute(name, sel))
    # what cannot be read is reported, never dropped silently
    assert any("A-enum" in s for s in pop.skipped)
    assert any("E-mapping-bad" in s and "@library" in s for s in pop.skipped)


def test_population_without_datasets_is_empty_and_noted():
    """libsonata's nodes-B (two empty groups, no ids): libsonata lists it but cannot open it
    ("Only single-group populations"); nethub reads it as 0 nodes and says so."""
    pop = read_nodes(LIB / "nodes1.h5")["nodes-B"]
    assert len(pop) == 0 and len(pop.table()) == 0
    assert any("'nodes-B' has no datasets" in s and "0 nodes" in s for s in pop.skipped)
    assert "nodes-B" in libsonata.NodeStorage(str(LIB / "nodes1.h5")).population_names


def _two_group_file(path):
    """A population with two node groups of different attribute sets (libsonata cannot
    open it) and a types CSV whose column the HDF5 overrides for one group only."""
    with h5py.File(path, "w") as f:
        pop = f.create_group("nodes/cells")
        pop["node_type_id"] = np.array([1, 2, 1, 2], np.uint64)
        pop["node_group_id"] = np.array([0, 1, 0, 1], np.uint32)
        pop["node_group_index"] = np.array([0, 0, 1, 1], np.uint64)
        pop["0/x"] = np.array([10.0, 30.0])
        pop["0/model_name"] = np.array([b"hdf_a", b"hdf_c"], dtype=h5py.string_dtype())
        pop["0/dynamics_params/tau"] = np.array([1.5, 2.5])
        pop["1/layer"] = np.array([0, 1], np.int32)
        pop["1/@library/layer"] = np.array(["L4", "L5"], dtype=h5py.string_dtype())
    types = path.with_suffix(".csv")
    types.write_text('node_type_id model_name model_type\n1 csv_one "point process"\n'
                     "2 csv_two NULL\n")
    return types


def test_two_node_groups_merge_vectorized(tmp_path):
    types = _two_group_file(tmp_path / "n.h5")
    with pytest.raises(libsonata.SonataError):
        libsonata.NodeStorage(str(tmp_path / "n.h5")).open_population("cells")
    (pop,) = read_nodes(tmp_path / "n.h5", types).values()
    table = pop.table()
    assert table["x"].tolist()[0::2] == [10.0, 30.0] and table["x"].isna().tolist() == [
        False, True, False, True]
    assert [None if pd.isna(v) else v for v in table["layer"]] == [None, "L4", None, "L5"]
    # HDF5 wins where it has a value; the CSV fills the rest
    assert table["model_name"].tolist() == ["hdf_a", "csv_two", "hdf_c", "csv_two"]
    assert table["model_type"].tolist()[0] == "point process"
    assert pd.isna(table["model_type"].tolist()[1])
    assert table["dynamics_params.tau"].tolist()[0::2] == [1.5, 2.5]


def test_edges_both_index_spellings_and_none():
    (bmtk,) = read_edges(NET / "v1_v1_edges.h5", NET / "v1_v1_edge_types.csv").values()
    assert bmtk.index_spelling == "node_id_to_range"
    assert (bmtk.source_population, bmtk.target_population) == ("v1", "v1")
    table = bmtk.table()
    assert set(table["weight_function"]) == {"wmax"} and table["nsyns"].dtype.kind == "u"
    lib = read_edges(LIB / "edges1.h5", populations=["edges-AB"])["edges-AB"]
    assert lib.index_spelling == "node_id_to_ranges"
    none = read_edges(LIB / "edges-no-index.h5", populations=["edges-AB"])["edges-AB"]
    assert none.index_spelling is None


def test_edges_agree_with_libsonata():
    pop = read_edges(LIB / "edges1.h5", populations=["edges-AB"])["edges-AB"]
    ref = libsonata.EdgeStorage(str(LIB / "edges1.h5")).open_population("edges-AB")
    sel = libsonata.Selection(np.arange(ref.size))
    assert pop.source_node_ids.tolist() == list(ref.source_nodes(sel))
    assert pop.target_node_ids.tolist() == list(ref.target_nodes(sel))
    for name in ("attr-X", "attr-Y", "attr-Z"):
        assert pop.table()[name].tolist() == list(ref.get_attribute(name, sel))


def test_type_csv_quotes_blanks_and_errors(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text('edge_type_id  target_query\tdelay\n100 "ei==\'e\' & x" 2.0\n'
                    "101 * NULL\n")
    df = read_types_csv(path, "edge_type_id")
    assert df.loc[100, "target_query"] == "ei=='e' & x"
    assert np.isnan(df.loc[101, "delay"])
    with pytest.raises(FormatError, match="'node_type_id' is missing"):
        read_types_csv(path, "node_type_id")
    path.write_text("node_type_id a\n1 x\n1 y\n")
    with pytest.raises(FormatError, match="more than once"):
        read_types_csv(path, "node_type_id")


def test_foreign_files_are_located_errors(tmp_path):
    with h5py.File(tmp_path / "x.h5", "w") as f:
        f["edges/e/source_node_id"] = np.zeros(3, np.uint64)
        f["edges/e/target_node_id"] = np.zeros(2, np.uint64)
    with pytest.raises(FormatError, match="no /nodes group"):
        read_nodes(tmp_path / "x.h5")
    with pytest.raises(FormatError, match="target_node_id has 2 values, expected 3"):
        read_edges(tmp_path / "x.h5")
    with pytest.raises(FormatError, match="does not exist"):
        read_nodes(tmp_path / "missing.h5")


def test_bmtk_files_agree_with_libsonata_where_it_reads_them():
    """libsonata reads BMTK's nodes and edge rows (not its index spelling): same values."""
    (pop,) = read_edges(NET / "lgn_v1_edges.h5").values()
    ref = libsonata.EdgeStorage(str(NET / "lgn_v1_edges.h5")).open_population("lgn_to_v1")
    sel = libsonata.Selection(np.arange(ref.size))
    assert np.array_equal(ref.source_nodes(sel), pop.source_node_ids)
    assert np.array_equal(ref.target_nodes(sel), pop.target_node_ids)
    assert np.array_equal(ref.get_attribute("nsyns", sel), pop.attributes["nsyns"])
    (nodes,) = read_nodes(NET / "lgn_nodes.h5").values()
    ref = libsonata.NodeStorage(str(NET / "lgn_nodes.h5")).open_population("lgn")
    assert np.array_equal(ref.get_attribute("x", libsonata.Selection(np.arange(ref.size))),
                          nodes.attributes["x"])


def test_nine_cells_biophysical_edges():
    net = FIXTURES / "9_cells" / "network"
    (pop,) = read_edges(net / "excvirt_cortex_edges.h5",
                        net / "excvirt_cortex_edge_types.csv").values()
    table = pop.table()
    assert (pop.source_population, pop.target_population) == ("excvirt", "cortex")
    assert table["sec_id"].dtype == np.int32 and table["sec_x"].between(0, 1).all()
    assert set(table["model_template"]) == {"Exp2Syn"} and set(table["delay"]) == {2.0}
    (cortex,) = read_nodes(net / "cortex_nodes.h5", net / "cortex_node_types.csv").values()
    assert cortex.table()["model_template"].str.startswith("nml:").all()
    assert cortex.table()["dynamics_params"].isna().all()  # "NONE" in the CSV
