"""RunConfig (nethub.runconfig): validation naming the field path, exact JSON round trip, and
NetPyNE's simConfig mapped onto it through the declared table (nethub.specs.runmap); no NEURON."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

from nethub.errors import SpecError
from nethub.runconfig import CellSelection, LfpRequest, RunConfig, TraceRequest
from nethub.specs.runmap import (
    NETPYNE_HPARAMS,
    NETPYNE_RUN_TABLE,
    NETPYNE_SEEDS,
    merged_simconfig,
    runconfig_from_netpyne,
    selection_from_netpyne,
)
from nethub.specs.schema import SIMCONFIG_KEYS


def _full() -> RunConfig:
    return RunConfig(
        duration=12.5, dt=0.05, temperature=34.0, v_init=-70.0,
        neuron_globals={"clamp_resist": 0.002, "my_global": 3}, seeds={"stim": 4, "cell": 7},
        spike_threshold=-20.0, record_spikes=CellSelection(populations=("E",)),
        traces=(TraceRequest("V", "v", sec="soma", loc=0.5),
                TraceRequest("g", "g", syn_mech="AMPA", index=1, conds={"pop": ["E", "I"]})),
        trace_cells=CellSelection(gids=(0, 3), pop_cells=(("I", (0, 2)),)), record_step=0.2,
        lfp=LfpRequest(electrodes=((0.0, 100.0, 0.0),), dipole=True, method="point",
                       lfp_pops=CellSelection(all=True)),
        engine="neuron", exact=True, merge_synapses=False, share_synapses=True,
        cvode_atol=1e-4, random123_global_index=5, run_meta={"not_simulated": ["x: y"]},
        native={"duration": 12.5, "analysis": {"plotRaster": True}}, extras={"sonata": 1})


def test_round_trip_is_exact_and_json():
    rc = _full()
    data = json.loads(json.dumps(rc.to_dict()))
    back = RunConfig.from_dict(data)
    assert back == rc and back.to_dict() == rc.to_dict()
    assert RunConfig.from_json(rc.to_json()) == rc
    assert RunConfig.from_dict({}) == RunConfig()


@pytest.mark.parametrize("kw,path", [
    ({"dt": 0}, "RunConfig.dt"),
    ({"duration": -1}, "RunConfig.duration"),
    ({"duration": math.nan}, "RunConfig.duration"),
    ({"record_step": math.inf}, "RunConfig.record_step"),
    ({"temperature": "hot"}, "RunConfig.temperature"),
    ({"engine": "gpu"}, "RunConfig.engine"),
    ({"merge_synapses": 1}, "RunConfig.merge_synapses"),
    ({"seeds": {"stim": "x"}}, "RunConfig.seeds.stim"),
    ({"neuron_globals": {"celsius": 30}}, "RunConfig.neuron_globals.celsius"),
    ({"traces": [{"label": "V", "loc": 2}]}, "RunConfig.traces[0].loc"),
    ({"traces": [{"label": "V"}, {"label": "V"}]}, "RunConfig.traces[1].label"),
    ({"trace_cells": {"gids": [1.5]}}, "RunConfig.trace_cells.gids[0]"),
    ({"lfp": {"electrodes": [[0, 1]]}}, "RunConfig.lfp.electrodes[0]"),
    ({"lfp": {"sigma": 0}}, "RunConfig.lfp.sigma"),
    ({"exact": True}, "RunConfig.exact"),
    ({"native": {"f": object()}}, "RunConfig.native"),
])
def test_errors_name_the_field(kw, path):
    with pytest.raises(SpecError, match=r"^" + path.replace("[", r"\[").replace(".", r"\.")):
        RunConfig.from_dict(kw)


def test_unknown_fields_refused():
    with pytest.raises(SpecError, match="RunConfig: unknown field.*tstop"):
        RunConfig.from_dict({"tstop": 5})
    with pytest.raises(SpecError, match=r"RunConfig.traces\[0\]: unknown field.*var"):
        RunConfig.from_dict({"traces": [{"label": "V", "var": "v"}]})


def test_trace_names_and_lfp_wanted():
    t = TraceRequest("x", "i", syn_mech="AMPA")
    assert t.recorded_name == "AMPA.i" and TraceRequest("v").recorded_name == "v"
    assert not LfpRequest().wanted()
    assert LfpRequest(imembrane_cells=CellSelection(gids=(1,))).wanted()


def test_model_layer_only():
    """nethub.runconfig imports no spec, builder, simulator or format module."""
    code = ("import sys, nethub; before = set(sys.modules); import nethub.runconfig; "
            "print(sorted(m for m in set(sys.modules) - before if m.startswith('nethub.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    mods = json.loads(out.replace("'", '"'))  # beyond what the package's __init__ imports
    assert set(mods) <= {"nethub.errors", "nethub.runconfig", "nethub.version"}, mods


# ------------------------------------------------------------------------------ NetPyNE
def test_defaults_declared_once():
    assert NETPYNE_SEEDS == SIMCONFIG_KEYS["seeds"].default
    assert NETPYNE_HPARAMS == SIMCONFIG_KEYS["hParams"].default
    from nethub.builder.context import DEFAULT_SEEDS

    assert DEFAULT_SEEDS is NETPYNE_SEEDS


def test_table_rows_name_real_fields():
    names = set(RunConfig.__dataclass_fields__) | {
        f"lfp.{n}" for n in LfpRequest.__dataclass_fields__}
    assert {row.field for row in NETPYNE_RUN_TABLE} <= names
    keys = [row.key for row in NETPYNE_RUN_TABLE]
    assert len(keys) == len(set(keys))
    assert all(k.split(".")[0] in SIMCONFIG_KEYS or k.startswith("nethub") for k in keys)


def test_empty_simconfig_gives_the_defaults():
    rc = runconfig_from_netpyne(merged_simconfig(None, None))
    assert rc.duration == 1000.0 and rc.dt == 0.025 and rc.temperature == 6.3
    assert rc.v_init == -65.0 and rc.neuron_globals == {"clamp_resist": 0.001}
    assert rc.record_spikes is None and rc.engine == "auto" and rc.merge_synapses
    assert rc.native["hParams"] == NETPYNE_HPARAMS and rc.seeds == {}


def test_netpyne_keys_mapped():
    stored = {"duration": 50, "dt": 0.1, "hParams": {"celsius": 37, "foo": 2},
              "seeds": {"stim": 3}, "recordCells": ["E", 4, ("I", [0, 1])],
              "analysis": {"plotTraces": {"include": ["allCells"]}},
              "recordTraces": {"V": {"sec": "soma", "loc": 0.3, "var": "v"},
                               "g": {"synMech": "AMPA", "var": "g", "conds": {"pop": "E"}}},
              "recordCellsSpikes": ["E"], "recordStep": 0.5, "recordLFP": [[1, 2, 3]],
              "saveLFPPops": True, "saveIMembrane": ["E"], "nethubCoreneuron": False,
              "oneSynPerNetcon": False, "rand123GlobalIndex": 9, "random123": True,
              "invertedYCoord": False, "myUserKey": [1, 2]}
    rc = runconfig_from_netpyne(merged_simconfig(stored, {"duration": 20}))
    assert rc.duration == 20.0 and rc.dt == 0.1 and rc.temperature == 37.0
    assert rc.neuron_globals == {"clamp_resist": 0.001, "foo": 2} and rc.seed("stim") == 3
    assert rc.seed("cell") == 1
    assert rc.trace_cells == CellSelection(all=True, gids=(4,), populations=("E",),
                                           pop_cells=(("I", (0, 1)),))
    assert rc.traces[0] == TraceRequest("V", "v", sec="soma", loc=0.3)
    assert rc.traces[1].syn_mech == "AMPA" and rc.traces[1].conds == {"pop": "E"}
    assert rc.record_spikes == CellSelection(populations=("E",)) and rc.record_step == 0.5
    assert rc.lfp.electrodes == ((1.0, 2.0, 3.0),) and rc.lfp.lfp_pops.all
    assert rc.lfp.imembrane_cells.populations == ("E",) and rc.lfp.wanted()
    assert rc.engine == "neuron" and rc.share_synapses and rc.random123_global_index == 9
    assert rc.netstim_random123 and not rc.invert_y
    assert rc.native["myUserKey"] == [1, 2] and rc.native["duration"] == 20


def test_exact_mode_and_engines():
    rc = runconfig_from_netpyne(merged_simconfig({"nethubExact": True}, None))
    assert rc.exact and not rc.merge_synapses and rc.engine == "neuron"
    assert runconfig_from_netpyne(merged_simconfig({"coreneuron": True}, None)
                                  ).engine == "coreneuron"
    with pytest.raises(SpecError, match="nethubCoreneuron"):
        runconfig_from_netpyne(merged_simconfig({"nethubCoreneuron": "yes"}, None))


def test_selections():
    assert selection_from_netpyne(None).is_empty() and selection_from_netpyne([]).is_empty()
    assert selection_from_netpyne("all").all and selection_from_netpyne(["allCells"]).all
    assert selection_from_netpyne(("E", 2)) == CellSelection(pop_cells=(("E", (2,)),))
    assert selection_from_netpyne(7) == CellSelection(gids=(7,))
