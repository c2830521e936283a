"""Store schema version 2 in the model, the store and validation: embedded files, namespaced
and ``param.*`` columns, rotations (and v1's ``rotation_y``), tags/provenance on synaptic
mechanisms and stimulus sources, mixed populations, connections without a synMech."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

import nethub
from nethub.celltypes import CompartmentalCell, PointCell, Population, Section, StimSource, SynMech
from nethub.columns import (
    CELL_COLUMNS,
    ROTATION_COLUMN,
    column_category,
    namespace_of,
    syn_param_column,
    syn_param_name,
)
from nethub.embedded import FILE_ROLES, EmbeddedFile, sha256_hex
from nethub.errors import SchemaVersionError, StoreError
from nethub.network import Network
from nethub.store import SCHEMA_VERSION, read_header, read_network, write_network
from nethub.table import Categorical
from nethub.validate import check_network, validate_store


def small_net(**extra) -> Network:
    types = {"PYR": CompartmentalCell("PYR", sections={"soma": Section(geom={"L": 10.0})}),
             "BAS": CompartmentalCell("BAS", sections={"soma": Section(geom={"L": 8.0})}),
             "IF": PointCell("IF", model="IntFire1")}
    cells = {"gid": np.arange(4), "pop": ["M", "M", "M", "P"],
             "cell_type": ["PYR", "BAS", "PYR", "IF"]}
    conns = {"pre_gid": np.array([3, 0, 1]), "post_gid": np.array([0, 1, 3]),
             "syn_mech": Categorical.from_values(["AMPA", "AMPA", None]),
             "post_sec": Categorical.from_values(["soma", "soma", None]),
             "weight": np.array([0.01, 0.02, 1.5])}
    return Network(cell_types=types, syn_mechs={"AMPA": SynMech("AMPA", "ExpSyn")},
                   populations={"M": Population("M", None, 3), "P": Population("P", "IF", 1)},
                   cells=cells, connections=conns, **extra)


# ------------------------------------------------------------------------------ columns
def test_columns_declared_once_and_reexported():
    import nethub.network as network

    assert network.CELL_COLUMNS is CELL_COLUMNS
    assert ROTATION_COLUMN == "rot_y" and network.ROTATION_COLUMN == "rot_y"
    assert syn_param_column("tau2") == "param.tau2" and syn_param_name("param.tau2") == "tau2"
    assert syn_param_name("param.secs.soma.mechs.hh.gnabar") is None
    with pytest.raises(ValueError):
        syn_param_column("a.b")
    assert namespace_of("sonata.node_type_id") == "sonata"
    assert namespace_of("param.tau2") is None and namespace_of("Sonata.x") is None
    assert column_category("cells", "rot_x") == "optional"
    assert column_category("connections", "nml.segment_id") == "namespaced"
    assert column_category("connections", "param.tau2") == "param"
    assert column_category("cells", "layer") == "other"


# ------------------------------------------------------------------------------ files
def test_embedded_file_checks():
    ef = EmbeddedFile("morphologies/pyr.swc", "morphology", "/disk/pyr.swc", b"1 1 0 0 0 5 -1\n")
    assert ef.sha256 == sha256_hex(ef.data) and ef.size == 15
    assert EmbeddedFile("a.txt", "x-notes", "a.txt", "text ✓").text() == "text ✓"
    for name in ("../up.swc", "/abs.swc", "a//b", "a\\b", ""):
        with pytest.raises(ValueError, match="relative path"):
            EmbeddedFile(name, "morphology", name, b"")
    with pytest.raises(ValueError, match="unknown embedded file role"):
        EmbeddedFile("a", "morph", "a", b"")
    with pytest.raises(ValueError, match="does not match"):
        EmbeddedFile("a", "source", "a", b"x", sha256="0" * 64)
    assert {"mod", "morphology", "template", "params", "neuroml", "lems", "sonata-config",
            "type-table", "spec", "source"} == set(FILE_ROLES)


def test_network_files_helpers():
    net = small_net()
    net.add_file("morph/a.swc", "A", "morphology", "/home/a.swc")
    net.add_file("src/net.json", b"{}", "spec")
    net.add_file("syn.mod", "NEURON { POINT_PROCESS S }", "mod", "mods/syn.mod")
    assert list(net.files) == ["morph/a.swc", "src/net.json"]
    assert net.mod_files == {"syn.mod": "NEURON { POINT_PROCESS S }"}
    assert [f.name for f in net.files_with_role("morphology")] == ["morph/a.swc"]
    assert [f.name for f in net.files_with_role("mod")] == ["syn.mod"]
    assert net.files["src/net.json"].original_name == "src/net.json"
    assert net.summary()["files"] == {"morphology": 1, "spec": 1}
    with pytest.raises(ValueError, match="key must be its name"):
        Network(files={"b": EmbeddedFile("a", "source", "a", b"")})
    with pytest.raises(ValueError, match="mod_files"):
        Network(files={"a.mod": EmbeddedFile("a.mod", "mod", "a.mod", b"")})


def test_files_in_equality_and_hash():
    a, b = small_net(), small_net()
    plain = a.content_hash()
    assert "files" not in a.summary()  # schema-1 summaries unchanged
    a.add_file("m.swc", "x", "morphology")
    assert not a.equals(b) and a.content_hash() != plain
    b.add_file("m.swc", "x", "morphology", "elsewhere/m.swc")
    assert not a.equals(b)  # original name differs
    assert a.content_hash() == b.content_hash()  # ... but simulates the same


def test_files_round_trip_and_corruption(tmp_path):
    net = small_net()
    net.add_file("templates/cell.hoc", "begintemplate C\nendtemplate C\n", "template", "C.hoc")
    net.add_file("blob.bin", bytes(range(256)), "x-blob")
    net.add_file("empty", b"", "source")
    path = write_network(net, tmp_path / "f.h5")
    back = read_network(path)
    assert back.equals(net.canonical())
    assert [f.meta() for f in back.files.values()] == [f.meta() for f in net.files.values()]
    assert validate_store(path) == []
    with h5py.File(path, "r+") as f:
        ds = f["model/files/f1"]
        data = ds[()]
        data[0] ^= 0xFF
        ds[...] = data
    with pytest.raises(StoreError, match=r"f\.h5.*blob\.bin.*sha256"):
        read_network(path)
    found = validate_store(path)
    assert [(x.level, x.path) for x in found] == [("error", "/model/files/f1")]


# ------------------------------------------------------------------------------ versions
def test_writes_version_2_and_refuses_newer(tmp_path):
    path = write_network(small_net(), tmp_path / "v.h5")
    assert SCHEMA_VERSION == 2 and read_header(path)["schema_version"] == 2
    with h5py.File(path, "r+") as f:
        f.attrs["schema_version"] = 3
    with pytest.raises(SchemaVersionError, match="version 3.*reads up to version 2"):
        read_network(path)


def test_v1_rotation_y_reads_as_rot_y(tmp_path):
    net = small_net()
    net.cells[ROTATION_COLUMN] = np.array([0.5, np.nan, -1.0, np.nan])
    path = write_network(net, tmp_path / "v1.h5")
    with h5py.File(path, "r+") as f:  # what schema 1 wrote: rotation_y, no /model/files
        f.attrs["schema_version"] = 1
        g = f["network/cells"]
        meta = json.loads(g.attrs["columns"])
        for m in meta:
            if m["name"] == "rot_y":
                m["name"] = "rotation_y"
        g.attrs["columns"] = json.dumps(meta)
        del f["model/files"]
    back = read_network(path)
    assert "rotation_y" not in back.cells
    np.testing.assert_array_equal(back.cells["rot_y"], [0.5, np.nan, -1.0, np.nan])
    assert back.files == {}
    assert validate_store(path) == []
    with h5py.File(path, "r+") as f:
        f.attrs["schema_version"] = 2  # v2 requires /model/files
    assert [(x.level, x.path) for x in validate_store(path)] == [("error", "/model/files")]


# ------------------------------------------------------------------------------ model docs
def test_tags_and_provenance_on_mechanisms_and_sources(tmp_path):
    syn = SynMech("AMPA", "ExpSyn", tags={"sonata.x": 1}, provenance={"from": "edge_types"})
    src = StimSource("bkg", "NetStim", {"rate": 5.0}, tags={"t": "a"}, provenance={"p": 1})
    assert "tags" not in SynMech("A", "ExpSyn").to_dict()  # v1 documents unchanged
    assert SynMech.from_dict(syn.to_dict()).equals(syn)
    assert not syn.equals(SynMech("AMPA", "ExpSyn", tags={"sonata.x": 2},
                                  provenance={"from": "edge_types"}))
    assert not src.equals(StimSource("bkg", "NetStim", {"rate": 5.0}, tags={"t": "a"}))
    net = small_net(stim_sources={"bkg": src})
    net.syn_mechs["AMPA"] = syn
    back = read_network(write_network(net, tmp_path / "t.h5"))
    assert back.syn_mechs["AMPA"].equals(syn) and back.stim_sources["bkg"].equals(src)
    assert back.equals(net.canonical())


# ------------------------------------------------------------------------------ tables
def test_namespaced_and_param_columns_round_trip(tmp_path):
    net = small_net()
    net.cells["sonata.node_type_id"] = np.array([100, 101, 100, 7])
    net.cells["rot_x"] = np.array([0.1, 0.0, np.nan, np.nan])
    net.connections["nml.segment_id"] = np.array([0, 2, -1], dtype=np.int32)
    net.connections["netpyne.label"] = Categorical.from_values(["a", None, "b"])
    net.connections["param.tau"] = np.array([3.0, np.nan, np.nan])
    assert check_network(net) == []
    path = write_network(net, tmp_path / "c.h5")
    back = read_network(path)
    assert back.equals(net.canonical())
    assert validate_store(path) == []


def test_column_kind_and_namespace_findings():
    net = small_net()
    net.connections["param.tau"] = np.array([1, 2, 3])
    net.cells["rot_z"] = Categorical.from_values(["a", "b", "c", "d"])
    net.cells["Sonata.model"] = np.zeros(4)
    found = {(f.level, f.path) for f in check_network(net)}
    assert ("error", "connections/param.tau") in found
    assert ("error", "cells/rot_z") in found
    assert ("warning", "cells/Sonata.model") in found


# ------------------------------------------------------------------------------ cell types
def test_mixed_population_validates_and_every_cell_needs_a_type(tmp_path):
    net = small_net()
    assert check_network(net) == []
    assert net.summary()["populations"]["M"] == {"cells": 3, "cell_type": None,
                                                 "cell_types": ["PYR", "BAS"]}
    path = write_network(net, tmp_path / "m.h5")
    assert validate_store(path) == []
    assert read_network(path).populations["M"].cell_type is None
    net.cells["cell_type"] = Categorical.from_values(["PYR", None, "PYR", "IF"])
    assert [(f.level, f.path) for f in check_network(net)] == [("error", "cells/cell_type")]


def test_syn_mech_may_be_missing_only_onto_artificial_cells(tmp_path):
    net = small_net()
    net.connections["syn_mech"] = Categorical.from_values(["AMPA", None, None])
    found = check_network(net)
    assert [(f.level, f.path) for f in found] == [("error", "connections/syn_mech")]
    assert "compartmental cell(s) 1" in found[0].message
    path = write_network(net, tmp_path / "s.h5")
    errors = [f for f in validate_store(path) if f.level == "error"]
    assert [f.path for f in errors] == ["/network/connections/c1"]  # syn_mech (no post_gid)


def test_netpyne_population_mixing_two_cell_types(tmp_path):
    """popParams cellsList tags select one of two cellParams rules per cell (conds on cellType);
    NetPyNE's importer and the builder used to name such a population's type 'A+B'."""
    def soma(diam: float) -> dict:
        return {"geom": {"L": diam, "diam": diam, "Ra": 100.0}, "mechs": {"hh": {}}}
    spec = {
        "popParams": {
            "M": {"cellsList": [{"x": 0, "y": 0, "z": 0, "cellType": "PYR"},
                                {"x": 10, "y": 0, "z": 0, "cellType": "BAS"},
                                {"x": 20, "y": 0, "z": 0, "cellType": "PYR"}]},
            "S": {"cellModel": "NetStim", "numCells": 1, "rate": 20, "noise": 0}},
        "cellParams": {"PYRrule": {"conds": {"cellType": "PYR"}, "secs": {"soma": soma(20.0)}},
                       "BASrule": {"conds": {"cellType": "BAS"},
                                   "secs": {"soma": soma(10.0)}}},
        "synMechParams": {"exc": {"mod": "Exp2Syn", "tau1": 0.1, "tau2": 5, "e": 0}},
        "connParams": {"S->M": {"preConds": {"pop": "S"}, "postConds": {"pop": "M"},
                                "synMech": "exc", "weight": 0.01, "delay": 1}},
    }
    built = nethub.build(spec, {"duration": 10})
    assert built.populations["M"].cell_type is None
    assert built.cells["cell_type"].values()[:3].tolist() == ["PYRrule", "BASrule", "PYRrule"]
    assert check_network(built) == []
    nethub.save(built, tmp_path / "mixed.json")  # NetPyNE saved output
    imported = nethub.load(tmp_path / "mixed.json")
    assert imported.populations["M"].cell_type is None
    assert sorted(set(imported.cells["cell_type"].values()[:3])) == ["BASrule", "PYRrule"]
    assert check_network(imported) == []
    path = write_network(imported, tmp_path / "mixed.h5")
    assert validate_store(path) == []
