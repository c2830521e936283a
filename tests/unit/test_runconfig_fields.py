"""RunConfig's per-trace sampling and selections, MPI options and output-file requests
(``extras['output_files']``), and the NetPyNE simConfig catalogue covered by the run table
plus the declared unmapped keys; no NEURON."""

from __future__ import annotations

import json
import re

import pytest

from nethub.errors import SpecError
from nethub.results import trace_group_name
from nethub.runconfig import COST_MODELS, CellSelection, RunConfig, TraceRequest, check_extras
from nethub.runner import read_run_config, with_mpi_options
from nethub.specs.runmap import (
    NETPYNE_RUN_TABLE,
    NETPYNE_UNMAPPED,
    UNMAPPED_KINDS,
    traces_from_netpyne,
)
from nethub.specs.schema import SIMCONFIG_KEYS


def test_trace_fields_round_trip():
    t = TraceRequest("V", "_ref_v", sec="dend", all_segments=True, step=0.5, start=10.0,
                     end=20.0, cells=CellSelection(populations=("E",), gids=(3,)),
                     conds={"cellType": "PYR"})
    assert t.variable == "v"  # NEURON's pointer spelling is the variable
    rc = RunConfig(traces=(t, TraceRequest("I", "i", syn_mech="AMPA", sec="soma")))
    back = RunConfig.from_dict(json.loads(rc.to_json()))
    assert back == rc and back.traces[0].cells == t.cells
    assert TraceRequest("x", "_ref_ina", mech="hh") == TraceRequest("x", "ina", mech="hh")


def test_trace_sampling_groups():
    rc = RunConfig(record_step=0.1, traces=(
        TraceRequest("a"), TraceRequest("b", step=0.5), TraceRequest("c", step=0.1),
        TraceRequest("d", step=0.5, start=5.0), TraceRequest("e", step=0.5)))
    assert rc.trace_sampling() == [(0.1, None, None), (0.5, None, None), (0.5, 5.0, None)]
    assert trace_group_name(0.5) == "dt_0.5"
    assert trace_group_name(0.5, 5.0, 7.25) == "dt_0.5_from_5.0_to_7.25"


@pytest.mark.parametrize("kw, path", [
    ({"step": 0}, ".step: expected finite positive number"),
    ({"start": -1.0}, ".start: expected finite non-negative number"),
    ({"start": 5.0, "end": 4.0}, ".end: 4.0 is before start 5.0"),
    ({"all_segments": 1}, ".all_segments: expected True or False"),
    ({"cells": {"gids": ["a"]}}, ".cells.gids[0]: expected whole number"),
    ({"all_segments": True, "syn_mech": "AMPA"}, ".all_segments: records a section"),
])
def test_trace_errors_name_the_field(kw, path):
    with pytest.raises(SpecError, match=re.escape("RunConfig.traces[0]" + path)):
        RunConfig.from_dict({"traces": [{"label": "V", **kw}]})


def test_mpi_options():
    rc = RunConfig(nranks=4, timeout=30.0, cost_model="count")
    assert RunConfig.from_dict(rc.to_dict()) == rc
    assert RunConfig().nranks == 1 and RunConfig().timeout is None
    assert RunConfig().cost_model == COST_MODELS[0] == "work"
    for kw, msg in (({"nranks": 0}, "nranks: expected whole number >= 1"),
                    ({"timeout": 0}, "timeout: expected finite positive number"),
                    ({"cost_model": "flops"}, "cost_model: expected one of work, count")):
        with pytest.raises(SpecError, match=f"RunConfig.{msg}"):
            RunConfig.from_dict(kw)
    given = with_mpi_options(rc, nprocs=2)
    assert (given.nranks, given.timeout, given.cost_model) == (2, 30.0, "count")
    assert with_mpi_options(rc) is rc


def test_output_files_shape():
    good = {"output_files": [
        {"path": "v.dat", "kind": "traces", "format": "lems-dat",
         "columns": [{"id": "v0", "trace": "V", "gid": 0, "quantity": "pop/0/cell/v"}]},
        {"path": "spikes.spikes", "kind": "events", "format": "id_t",
         "cells": {"populations": ["E"]}}], "sonata": {"output_dir": "out"}}
    assert RunConfig(extras=good).extras == good
    bad = [({"output_files": {}}, "output_files: expected list"),
           ({"output_files": [{"kind": "traces"}]}, r"output_files\[0\]\.path"),
           ({"output_files": [{"path": "a", "kind": "lines"}]}, r"output_files\[0\]\.kind"),
           ({"output_files": [{"path": "a", "kind": "traces", "columns": [{"id": "c"}]}]},
            r"output_files\[0\]\.columns\[0\]\.trace"),
           ({"output_files": [{"path": "a", "kind": "events", "cells": {"x": 1}}]},
            r"output_files\[0\]\.cells: unknown field")]
    for extras, msg in bad:
        with pytest.raises(SpecError, match=r"RunConfig\.extras\." + msg):
            RunConfig.from_dict({"extras": extras})
    check_extras({"anything": [1, 2]})  # only output_files has a shape


def test_run_config_file_errors_name_file_and_field(tmp_path):
    path = tmp_path / "run.json"
    path.write_text(json.dumps({"duration": 5, "traces": [{"label": "V", "step": -1}]}))
    with pytest.raises(SpecError, match=r"run\.json: RunConfig\.traces\[0\]\.step"):
        read_run_config(path)
    path.write_text("{not json")
    with pytest.raises(SpecError, match=r"run\.json: RunConfig: not JSON"):
        read_run_config(path)
    with pytest.raises(SpecError, match=r"missing\.json: cannot read"):
        read_run_config(tmp_path / "missing.json")
    path.write_text(json.dumps({"duration": 5, "nranks": 2, "bogus": 1}))
    with pytest.raises(SpecError, match=r"run\.json: RunConfig: unknown field\(s\) bogus"):
        read_run_config(path)


def test_simconfig_catalogue_covered_exactly():
    """Every simConfig key NetPyNE knows is mapped by the run table or declared unmapped with
    a kind and a reason, never both."""
    mapped = {row.key.split(".")[0] for row in NETPYNE_RUN_TABLE}
    assert mapped.isdisjoint(NETPYNE_UNMAPPED)
    assert mapped | set(NETPYNE_UNMAPPED) == set(SIMCONFIG_KEYS)
    for key, (kind, reason) in NETPYNE_UNMAPPED.items():
        assert kind in UNMAPPED_KINDS and len(reason) > 10, key


def test_netpyne_traces_ref_prefix_and_synmech():
    traces = traces_from_netpyne({"V": {"sec": "soma", "loc": 0.5, "var": "_ref_v"},
                                  "g": {"sec": "dend", "loc": 0.3, "synMech": "AMPA",
                                        "var": "g"}})
    assert traces[0].variable == "v" and traces[1].recorded_name == "AMPA.g"
