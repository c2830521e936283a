"""The converter kit (nethub.converters.kit): translation tables and their two mappers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from nethub.converters.kit import JSON, OMIT, Field, Translation, count_unknown, is_missing
from nethub.converters.netpyne_tables import CONN_KEYS, CONNS, POINTER_CONNS
from nethub.errors import FormatError
from nethub.network import CONN_COLUMNS, POINTER_COLUMNS, STIM_COLUMNS
from nethub.table import Categorical, Table, column_equal

#: a SONATA-like edge table: native columns, a unit scale, a lost key, a constant written
EDGES = Translation("connections", native_name="edges", row_name="edges", fields=(
    Field("source_node_id", "pre_gid", null="error"),
    Field("target_node_id", "post_gid", null="error"),
    Field("syn_weight", "weight", unit="nS", scale=1e-3),  # nS -> uS
    Field("delay", "delay", unit="ms"),
    Field("afferent_section_pos", "post_loc"),
    Field("model_template", "syn_mech"),
    Field("dynamics_params", None, lost="per-edge synapse parameters"),
    Field("edge_type_id", None, direction="out", default=100),
    Field(None, "threshold", lost="per-connection threshold (SONATA has none)"),
))


def test_columns_from_records_with_defaults_from_the_model():
    lost: list[str] = []
    cols = EDGES.to_canonical([{"source_node_id": 1, "target_node_id": 2, "syn_weight": 5.0},
                               {"source_node_id": 3, "target_node_id": 4, "delay": 2.5,
                                "model_template": "exp2syn"}], lost)
    assert cols["pre_gid"].dtype == np.int64 and cols["pre_gid"].tolist() == [1, 3]
    assert cols["weight"][0] == 5.0 * 1e-3
    assert cols["weight"][1] == CONN_COLUMNS["weight"].default  # the model's default
    assert cols["delay"].tolist() == [CONN_COLUMNS["delay"].default, 2.5]
    assert cols["post_loc"].tolist() == [0.5, 0.5]
    assert isinstance(cols["syn_mech"], Categorical)
    assert cols["syn_mech"].values().tolist() == [None, "exp2syn"]
    assert lost == []


def test_columns_from_a_dict_of_arrays_and_a_dataframe_are_the_same():
    native = {"source_node_id": np.array([0, 1, 2]), "target_node_id": np.array([5, 5, 6]),
              "syn_weight": np.array([1.0, 2.0, 4.0]), "delay": np.array([1.5, 2.0, 3.0]),
              "edge_group_id": np.zeros(3, dtype=np.int64)}
    lost_a: list[str] = []
    lost_b: list[str] = []
    a = EDGES.to_canonical(native, lost_a)
    b = EDGES.to_canonical(pd.DataFrame(native), lost_b)
    for name in a:
        assert column_equal(a[name], b[name])
    assert a["weight"].tolist() == [1e-3, 2e-3, 4e-3]
    assert lost_a == lost_b == ["edges key 'edge_group_id': not mapped (3 edges)"]


def test_a_lost_native_key_is_reported_with_its_count():
    lost: list[str] = []
    rows = [{"source_node_id": i, "target_node_id": 0, "dynamics_params": "AMPA.json"}
            for i in range(120)] + [{"source_node_id": 9, "target_node_id": 1}]
    EDGES.to_canonical(rows, lost)
    assert lost == ["edges key 'dynamics_params': per-edge synapse parameters (120 edges)"]


def test_wrong_types_name_the_key_path():
    rows = [{"source_node_id": 1, "target_node_id": 2}, {"source_node_id": 1,
                                                         "target_node_id": 2, "delay": "x"}]
    with pytest.raises(FormatError, match=r"edges\[1\]\['delay'\]: expected a number, got 'x'"):
        EDGES.to_canonical(rows, [])
    with pytest.raises(FormatError, match=r"net\['c'\]\['target_node_id'\]: expected an "
                                          "integer, got 2.5"):
        EDGES.to_canonical([{"source_node_id": 1, "target_node_id": 2.5}], [],
                           where=["net['c']"])
    with pytest.raises(FormatError, match="expected a number, got True"):
        EDGES.to_canonical([{"source_node_id": 1, "target_node_id": 2, "delay": True}], [])
    with pytest.raises(FormatError, match=r"\['source_node_id'\]: expected an integer, got "
                                          "None"):
        EDGES.to_canonical([{"source_node_id": None, "target_node_id": 2}], [])


def test_native_columns_from_a_table_scale_back_and_report_what_they_cannot_hold():
    table = Table({"pre_gid": [0, 1], "post_gid": [2, 2], "weight": [0.001, 0.004],
                   "threshold": [math.nan, -20.0], "my_extra": [1.0, math.nan]}, CONN_COLUMNS)
    lost: list[str] = []
    out = EDGES.to_native(table, lost)
    assert out["source_node_id"].tolist() == [0, 1]
    assert out["syn_weight"].tolist() == [1.0, 4.0]
    assert out["edge_type_id"] == [100, 100]
    assert "dynamics_params" not in out
    assert lost == [
        "connections column 'threshold': per-connection threshold (SONATA has none) "
        "(1 edges)",
        "connections column 'my_extra': no place in edges; dropped (1 edges)"]


def test_both_directions_give_back_the_table():
    table = Table({"pre_gid": [4, 5, 6], "post_gid": [1, 1, 2], "weight": [0.5, 1.0, 2.0],
                   "delay": [1.0, 2.0, 3.0], "post_loc": [0.5, 0.3, math.nan],
                   "syn_mech": Categorical.from_values(["AMPA", None, "GABA"])}, CONN_COLUMNS)
    lost: list[str] = []
    back = Table(EDGES.to_canonical(EDGES.to_native(table, lost), lost), CONN_COLUMNS)
    assert back.equals(table)
    assert lost == []


def test_netpyne_conns_round_trip_as_records_with_omitted_keys_and_json():
    records = [
        {"preGid": 3, "sec": "dend", "loc": 0.2, "synMech": "AMPA", "weight": 0.01,
         "delay": 2.0, "preLoc": 0.5, "label": "E->I", "plast": {"mech": "STDP", "x": [1, 2]}},
        {"preGid": 4, "sec": "soma", "loc": None, "synMech": None, "weight": 0.5,
         "delay": 1.0, "preLoc": 0.5, "threshold": -10.0, "weightIndex": 1},
    ]
    lost: list[str] = []
    cols = CONNS.to_canonical(records, lost)
    cols["post_gid"] = np.array([7, 7])
    table = Table(cols, CONN_COLUMNS)
    assert table["plast"].values()[0] == '{"mech": "STDP", "x": [1, 2]}'
    assert math.isnan(table["post_loc"][1]) and math.isnan(table["pre_loc"][0])
    assert table["weight_index"].dtype == np.int32
    written = CONNS.to_native(table, lost, records=True)
    assert written[0] == records[0]
    assert written[1]["loc"] != written[1]["loc"]  # NaN: a point-cell target
    assert {k: v for k, v in written[1].items() if k != "loc"} == {
        k: v for k, v in records[1].items() if k != "loc"}
    assert lost == []


def test_optional_column_only_when_a_value_differs_from_the_default():
    cols = CONNS.to_canonical([{"preGid": 1}], [], defaults={"weight_index": [0]})
    assert "weight_index" not in cols
    cols = CONNS.to_canonical([{"preGid": 1}], [], defaults={"weight_index": [2]})
    assert cols["weight_index"].tolist() == [2]


def test_pointer_conns_nest_native_keys():
    records = [{"preGid": 1, "sec": "soma", "loc": 0.5, "synMech": "gap", "weight": None,
                "preSec": "dend", "preLoc": 0.3, "label": "gj",
                "pointer": {"source": "pre", "sourceVar": "v", "targetVar": "vgap"}}]
    lost: list[str] = []
    cols = POINTER_CONNS.to_canonical(records, lost)
    assert math.isnan(cols["weight"][0])
    assert cols["target_var"].values().tolist() == ["vgap"]
    cols["post_gid"] = np.array([2])
    back = POINTER_CONNS.to_native(Table(cols, POINTER_COLUMNS), lost, records=True)
    assert back == records and lost == []
    # no pointer dict (gapJunction only): the defaults, pre_sec 'soma' for None
    cols = POINTER_CONNS.to_canonical([{"preGid": 1, "preLoc": 0.5, "preSec": None,
                                        "gapJunction": True}], lost)
    assert cols["source_var"].values().tolist() == ["v"]
    assert cols["pre_sec"].values().tolist() == ["soma"]


def test_unknown_keys_and_the_known_set():
    assert CONN_KEYS >= {"preGid", "weight", "pointer", "gapJunction", "hObj"}
    assert count_unknown([{"a": 1, "preGid": 0}, {"a": 2, "b": 3}], CONN_KEYS) == {"a": 2,
                                                                                 "b": 1}


def test_declarations_are_checked():
    with pytest.raises(ValueError, match="not declared by the model"):
        Translation("connections", fields=(Field("w", "no_such_column"),))
    with pytest.raises(ValueError, match="direction"):
        Field("a", "weight", direction="sideways")
    with pytest.raises(ValueError, match="native key, a canonical column"):
        Field(None, None)
    # a format's own column needs a dtype; defaults come from the model where declared
    t = Translation("stim_targets", fields=(Field("amp", "param.amp", dtype="float64",
                                                  default=math.nan, unit="nA"),
                                            Field("loc", "loc")))
    assert t.default(t.fields[1]) == STIM_COLUMNS["loc"].default


def test_json_codec_and_missing_values():
    assert JSON.to_canonical({"b": 1, "a": [1, 2]}) == '{"a": [1, 2], "b": 1}'
    assert JSON.to_canonical({}) is None
    assert is_missing([None, math.nan, 1.0, "x"]).tolist() == [True, True, False, False]
    assert OMIT is not None


def test_a_million_rows_map_without_a_python_loop_per_value():
    n = 1_000_000
    native = {"source_node_id": np.arange(n), "target_node_id": np.arange(n)[::-1].copy(),
              "syn_weight": np.ones(n), "delay": np.full(n, 2.0)}
    cols = EDGES.to_canonical(native, [])
    assert cols["weight"][0] == 1e-3 and len(cols["pre_gid"]) == n


def test_nested_keys_as_columns_round_trip():
    table = Table({"pre_gid": [1, 2], "post_gid": [3, 4], "pre_loc": [0.5, 0.2],
                   "pre_sec": ["soma", "dend"], "source_var": ["v", "v"],
                   "target_var": ["vgap", None]}, POINTER_COLUMNS)
    lost: list[str] = []
    native = POINTER_CONNS.to_native(table, lost)
    assert native["pointer/targetVar"] == ["vgap", None]
    assert native["pointer/source"] == ["pre", "pre"]
    cols = POINTER_CONNS.to_canonical(native, lost)
    cols["post_gid"] = table["post_gid"]  # the converter's: NetPyNE keeps conns per cell
    assert Table(cols, POINTER_COLUMNS).equals(table) and lost == []


def test_spec_rules_come_from_the_face_installed_provider():
    import nethub  # noqa: F401 - the package root installs the builder's services
    from nethub import specrules
    from nethub.builder import services
    from nethub.errors import ConversionError

    assert specrules.spec_rules() is services
    saved = specrules._factory
    try:
        specrules._factory, specrules._rules = None, None
        with pytest.raises(ConversionError, match="no spec provider is installed"):
            specrules.spec_rules()
        specrules.install(lambda: services)
        assert specrules.spec_rules().POP_STRUCTURAL_KEYS >= {"numCells", "cellModel"}
    finally:
        specrules.install(saved)
