"""The canonical Network: construction, canonical order, content hash, summary, cell types."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from nethub.celltypes import (
    CompartmentalCell,
    PointCell,
    Population,
    Section,
    StimSource,
    SynMech,
    cell_type_from_dict,
    jsonable,
)
from nethub.network import CELL_COLUMNS, CONN_COLUMNS, Network
from nethub.table import Categorical, Ragged, Table
from nethub.validate import Finding, check_network


def small_net(**changes) -> Network:
    kw = dict(
        cell_types={
            "PYR": CompartmentalCell("PYR", sections={"soma": Section(geom={"L": 10, "nseg": 1})}),
            "stim": PointCell("stim", model="VecStim"),
        },
        syn_mechs={"AMPA": SynMech("AMPA", "Exp2Syn", {"tau1": 0.1})},
        populations={"E": Population("E", "PYR", 3), "S": Population("S", "stim", 1)},
        stim_sources={"bkg": StimSource("bkg", "NetStim", {"rate": 5})},
        cells={"gid": [2, 0, 1, 7], "pop": ["E", "E", "E", "S"],
               "cell_type": ["PYR", "PYR", "PYR", "stim"], "x": [1.0, 2.0, 3.0, 4.0]},
        connections={"pre_gid": [7, 0, 1, 2], "post_gid": [1, 2, 0, 0],
                     "syn_mech": ["AMPA"] * 4, "weight": [0.1, 0.2, 0.3, 0.4]},
        stim_targets={"source": ["bkg", "bkg"], "gid": [2, 0], "syn_mech": ["AMPA", "AMPA"]},
        spec={"netParams": {"popParams": {"E": {"numCells": 3}}}},
        mod_files={"x.mod": "NEURON { SUFFIX x }"},
        params={"celsius": 34},
    )
    kw.update(changes)
    return Network(**kw)


# ----------------------------------------------------------------------------- construction
def test_tables_from_dicts_get_schemas():
    net = small_net()
    assert list(net.cells)[: len(CELL_COLUMNS)] == list(CELL_COLUMNS)
    assert list(net.connections) == list(CONN_COLUMNS)
    assert net.cells["gid"].dtype == np.int64
    assert np.isnan(net.cells["xnorm"]).all()
    assert np.isnan(net.connections["pre_loc"]).all()
    assert net.connections["delay"].tolist() == [1.0] * 4
    assert net.cells["source_id"].tolist() == [-1] * 4
    assert len(net.pointer_conns) == 0 and list(net.pointer_conns)[0] == "pre_gid"
    assert net.n_cells == 4 and net.n_connections == 4


def test_empty_network():
    net = Network()
    assert net.n_cells == 0 and net.n_connections == 0
    assert net.summary()["populations"] == {}
    assert net.canonical() is net
    assert Network().content_hash() == net.content_hash()
    assert "0 cells" in repr(net)


def test_tables_from_dataframes():
    cells = pd.DataFrame({
        "gid": [1, 0], "pop": pd.Categorical(["E", "I"]), "cell_type": ["PYR", None],
        "x": [1, 2], "spk": [[1.0, 2.0], [3.0]], "tag": ["a", None],
    })
    net = Network(cells=cells)
    assert net.cells["x"].dtype == np.float64
    assert net.cells["pop"].values().tolist() == ["E", "I"]
    assert net.cells["cell_type"].values().tolist() == ["PYR", None]
    assert net.cells["tag"].values().tolist() == ["a", None]  # NaN/None is missing, not "nan"
    assert isinstance(net.cells["spk"], Ragged)
    assert net.cells["spk"].tolist() == [[1.0, 2.0], [3.0]]


def test_dataframe_round_trip_through_pandas():
    net = small_net()
    again = Network(cells=net.cells_df(), connections=net.connections_df())
    assert again.cells.equals(net.cells)
    assert again.connections.equals(net.connections)


def test_table_with_other_schema_is_reschemed():
    t = Table({"gid": [1, 2]})
    net = Network(cells=t)
    assert list(net.cells)[: len(CELL_COLUMNS)] == list(CELL_COLUMNS)


def test_bad_column_dtype_raises_naming_column():
    with pytest.raises(TypeError, match="pre_gid"):
        Network(connections={"pre_gid": [0.5]})


# ----------------------------------------------------------------------------- canonical
def test_canonical_sorts_stably():
    net = small_net()
    canon = net.canonical()
    assert canon.gids.tolist() == [0, 1, 2, 7]
    assert canon.cells["x"].tolist() == [2.0, 3.0, 1.0, 4.0]
    assert canon.connections["post_gid"].tolist() == [0, 0, 1, 2]
    assert canon.connections["pre_gid"].tolist() == [1, 2, 7, 0]  # stable within a target
    assert canon.stim_targets["gid"].tolist() == [0, 2]
    assert canon.canonical() is canon
    assert net.gids.tolist() == [2, 0, 1, 7]  # the original is untouched


def test_replace_and_equals():
    net = small_net()
    assert net.equals(small_net())
    assert not net.equals(net.canonical())  # order matters
    assert not net.equals(net.replace(params={"celsius": 35}))
    assert not net.equals(net.replace(mod_files={}))
    assert not net.equals("net")
    other = net.replace(connections=net.connections.take(np.array([0, 1, 2])))
    assert not net.equals(other)
    assert net.replace().equals(net)


# ----------------------------------------------------------------------------- content hash
def test_content_hash_stable():
    a, b = small_net(), small_net()
    assert a.content_hash() == b.content_hash()
    assert len(a.content_hash()) == 64
    # row order, category order and provenance do not matter
    assert a.canonical().content_hash() == a.content_hash()
    shuffled = a.replace(cells=a.cells.take(np.array([3, 1, 0, 2])))
    assert shuffled.content_hash() == a.content_hash()
    pop = a.cells["pop"]
    recoded = Categorical(1 - pop.codes, ["S", "E"])
    assert recoded.equals(pop)
    cells = Table(dict(a.cells.columns), a.cells.schema, n=len(a.cells))
    cells["pop"] = recoded
    assert a.replace(cells=cells).content_hash() == a.content_hash()
    assert a.replace(provenance={"creator": "x"}).content_hash() == a.content_hash()


def test_content_hash_sensitive():
    a = small_net()
    h = a.content_hash()
    w = a.connections["weight"].copy()
    w[2] = np.nextafter(w[2], 1)
    conns = Table(dict(a.connections.columns), a.connections.schema, n=4)
    conns["weight"] = w
    assert a.replace(connections=conns).content_hash() != h
    assert a.replace(params={"celsius": 35}).content_hash() != h
    assert a.replace(mod_files={"x.mod": "changed"}).content_hash() != h
    assert a.replace(spec=None).content_hash() != h
    types = dict(a.cell_types)
    types["PYR"] = CompartmentalCell("PYR", sections={"soma": Section(geom={"L": 11, "nseg": 1})})
    assert a.replace(cell_types=types).content_hash() != h
    extra = Table({**a.cells.columns, "tag": np.zeros(4, dtype=np.int32)}, a.cells.schema)
    assert a.replace(cells=extra).content_hash() != h
    as_int64 = Table({**a.cells.columns, "tag": np.zeros(4, dtype=np.int64)}, a.cells.schema)
    assert as_int64.equals(extra) is False
    assert a.replace(cells=as_int64).content_hash() != a.replace(cells=extra).content_hash()


# ----------------------------------------------------------------------------- views
def test_summary_and_pop_gids():
    net = small_net()
    s = net.summary()
    assert s["populations"] == {"E": {"cells": 3, "cell_type": "PYR"},
                                "S": {"cells": 1, "cell_type": "stim"}}
    assert s["cell_types"] == {"PYR": "compartmental", "stim": "point"}
    assert s["syn_mechs"] == ["AMPA"]
    assert (s["n_cells"], s["n_connections"], s["n_stim_targets"]) == (4, 4, 2)
    assert s["n_pointer_conns"] == 0 and s["n_stim_sources"] == 1
    assert s["mod_files"] == ["x.mod"]
    assert net.pop_gids("E").tolist() == [2, 0, 1]
    assert net.pop_gids("S").tolist() == [7]
    assert net.pop_gids("nope").tolist() == []
    json.dumps(s)


def test_metadata_is_json():
    meta = small_net().metadata()
    assert set(meta) == {"cell_types", "syn_mechs", "populations", "stim_sources", "spec",
                         "params", "provenance", "rxd"}
    json.dumps(meta)


# ----------------------------------------------------------------------------- cell types
def rich_cell() -> CompartmentalCell:
    return CompartmentalCell(
        name="PYR_ü",
        tags={"cellType": "PYR"},
        mod_files=["kdr.mod"],
        provenance={"source": "hoc"},
        sections={
            "soma": Section(geom={"L": 18.8, "diam": 18.8, "nseg": 1},
                            pt3d=np.array([[0, 0, 0, 18.8], [0, 18.8, 0, 18.8]]),
                            mechs={"hh": {"gnabar": np.float64(0.12)}},
                            ions={"na": {"e": 50.0}},
                            point_processes=[{"mod": "IClamp", "loc": 0.5, "amp": 0.1}],
                            spike_gen_loc=0.5, vinit=-65.0),
            "dend": {"geom": {"L": 100.0, "nseg": 3}, "parent": "soma",
                     "mechs": {"pas": {"g": [1e-4, 2e-4, np.nan]}}},
        },
        section_lists={"dends": ["dend"]},
        spike_source=["soma", 0.5],
        threshold=-10.0,
        globals={"celsius": 34},
    )


def test_compartmental_to_from_dict():
    cell = rich_cell()
    assert isinstance(cell.sections["dend"], Section)
    assert cell.spike_source == ("soma", 0.5)
    assert cell.nseg_total == 4
    d = cell.to_dict()
    assert d["kind"] == "compartmental"
    text = json.dumps(d, allow_nan=True)
    back = cell_type_from_dict(json.loads(text))
    assert isinstance(back, CompartmentalCell)
    assert back.equals(cell)
    assert math.isnan(back.sections["dend"].mechs["pas"]["g"][2])
    assert back.sections["soma"].pt3d.shape == (2, 4)
    assert back.sections["dend"].parent == "soma"
    assert not back.equals(PointCell("PYR_ü"))


def test_point_cell_to_from_dict():
    cell = PointCell("izh", model="Izhikevich", params={"a": 0.02, "b": 0.2})
    d = cell.to_dict()
    assert d["kind"] == "point" and d["model"] == "Izhikevich"
    assert cell_type_from_dict(d).equals(cell)


def test_cell_type_from_dict_errors():
    with pytest.raises(ValueError, match="unknown cell type kind"):
        cell_type_from_dict({"name": "x", "kind": "martian"})
    with pytest.raises(ValueError, match="unknown field"):
        cell_type_from_dict({"name": "x", "kind": "point", "color": "red"})


def test_json_equal_distinguishes_int_and_float():
    a = SynMech("A", "Exp2Syn", {"tau": 1})
    assert not a.equals(SynMech("A", "Exp2Syn", {"tau": 1.0}))
    assert a.equals(SynMech.from_dict(a.to_dict()))
    assert StimSource.from_dict(StimSource("s", "IClamp").to_dict()).equals(
        StimSource("s", "IClamp"))
    assert Population.from_dict(Population("E", "PYR", 3).to_dict()).equals(
        Population("E", "PYR", 3))


def test_jsonable():
    out = jsonable({1: (np.int64(2), np.array([1.5])), "k": [np.bool_(True)]})
    assert out == {"1": [2, [1.5]], "k": [True]}
    assert type(out["1"][0]) is int


# ----------------------------------------------------------------------------- check_network
def test_check_network_clean():
    assert check_network(small_net()) == []


def test_check_network_findings():
    net = small_net(
        cells={"gid": [0, 1, 1], "pop": ["E", "E", "Q"], "cell_type": ["PYR", "PYR", "ghost"]},
        connections={"pre_gid": [0, 9], "post_gid": [1, 8], "syn_mech": ["AMPA", "NMDA"]},
        stim_targets={"source": ["nope"], "gid": [0]},
        populations={"E": Population("E", "PYR"), "Z": Population("Z", "missing_type")},
    )
    found = {(f.level, f.path, f.message.split(" ")[0]) for f in check_network(net)}
    paths = {p for _, p, _ in found}
    assert ("error", "cells/gid", "duplicate") in found
    assert {"connections/pre_gid", "connections/post_gid", "connections/syn_mech",
            "cells/pop", "cells/cell_type", "stim_targets/source",
            "model/populations"} <= paths
    msgs = [str(f) for f in check_network(net)]
    assert any(m.startswith("ERROR connections/pre_gid: 1 pre_gid value(s) not in the cells")
               and "9" in m for m in msgs)
    assert any("'NMDA'" in m and "known: AMPA" in m for m in msgs)


def test_check_network_bad_types():
    net = small_net()
    net.cells.columns["x"] = np.zeros(4, dtype=np.int32)  # bypasses coercion
    net.cell_types["PYR"].name = "other"
    found = check_network(net)
    assert Finding("error", "cells/x",
                   "declared column 'x' must be float64, found int32") in found
    assert any(f.level == "warning" and f.path == "model/cell_types" for f in found)


def test_json_equal_is_public():
    from nethub import celltypes

    assert "json_equal" in celltypes.__all__ and not hasattr(celltypes, "_json_equal")
    assert celltypes.json_equal({"a": [1, float("nan")]}, {"a": [1, float("nan")]})
    assert not celltypes.json_equal({"a": 1, "b": 2}, {"b": 2, "a": 1})
