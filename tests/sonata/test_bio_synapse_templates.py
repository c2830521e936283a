"""BMTK's built-in synapse templates and model processing on import
(nethub.converters.sonata_bio_syn): the mapping is checked against BMTK 1.2's own loader
functions, which are run with a recorder in place of NEURON's ``h`` so that what each sets
on its point process (and in which order) is read from BMTK's code itself."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

import nethub
from nethub.converters.sonata import sonata_to_network
from nethub.converters.sonata_bio import PROCESSING
from nethub.converters.sonata_bio_edges import _one_mech
from nethub.converters.sonata_bio_syn import TEMPLATES, bmtk_synmech, provided_processes
from nethub.errors import ConversionError
from nethub.formats.sonata import read_circuit
from nethub.network import Network

from .conftest import FIXTURES
from .export_nets import export, stored

BIO = FIXTURES / "bio"


class _Made:
    """A point process as BMTK's function sees it: records every assignment in order."""

    def __init__(self, model: str, log: list):
        object.__setattr__(self, "_log", log)
        log.append(("new", model))

    def __setattr__(self, name, value):
        self._log.append((name, value))


class _RecorderH:
    def __init__(self):
        self.log: list = []

    def __getattr__(self, model):
        return lambda x, sec=None: _Made(model, self.log)


def _bmtk_assignments(monkeypatch, template: str, params: dict) -> tuple[list, bool]:
    from bmtk.simulator.bionet.default_setters import synapse_models
    from bmtk.simulator.core.pyfunction_cache import py_modules
    rec = _RecorderH()
    monkeypatch.setattr(synapse_models, "h", rec)
    func = py_modules.synapse_model(template)
    try:
        func(params, 0.5, "sec")  # how bionet calls every template
        return rec.log, False
    except TypeError:
        rec.log.clear()
        func(params, [0.5], ["sec"])  # the loop body of a list-style template
        return rec.log, True


def test_templates_are_bmtks_registered_ones():
    from bmtk.simulator.bionet.default_setters import cell_models, synapse_models  # noqa: F401
    from bmtk.simulator.core.pyfunction_cache import py_modules
    assert set(py_modules.synapse_models) == set(TEMPLATES)
    from nethub.converters.sonata_bio import _BMTK_NOT_DONE
    assert set(py_modules.cell_processors) == set(PROCESSING) | set(_BMTK_NOT_DONE)


@pytest.mark.parametrize("template", sorted(TEMPLATES))
def test_mapping_equals_bmtk(monkeypatch, template):
    keys = ["erev", "tau1", "tau2", "tau_1", "p0", "tau_r0", "tau_FDR", "a_FDR", "a_D", "a_i",
            "a_f", "pbtilde", "tau_rec", "tau_facil", "U", "u0"]
    params = {k: 1.25 + i for i, k in enumerate(keys)}
    log, list_style = _bmtk_assignments(monkeypatch, template, params)
    mech, notes = bmtk_synmech("s", template, params, "x.json")
    assert log[0] == ("new", mech.model)
    assert list(mech.params.items()) == [(k, float(v)) for k, v in log[1:]]
    assert bool(notes) == list_style == TEMPLATES[template].bmtk_list_bug


def test_missing_key_and_missing_mechanism():
    with pytest.raises(ConversionError, match=r"pv.json: key 'tau_FDR' missing.*stp2syn"):
        bmtk_synmech("s", "stp2syn", {"erev": 0, "p0": 0.5, "tau_r0": 1, "tau_1": 2}, "pv.json")
    with pytest.raises(ConversionError, match=r"point process 'stp5syn'.*mechanisms_dir"):
        bmtk_synmech("s", "stp5syn", {}, "a.json", provided_processes({}))
    mod = "NEURON { POINT_PROCESS stp5syn RANGE e }\n"
    assert "stp5syn" in provided_processes({"stp5syn.mod": mod})


@pytest.fixture(scope="module")
def changed_fixture(tmp_path_factory):
    """The bio fixture with expsyn/stp2syn synapses and extra model_processing steps."""
    out = tmp_path_factory.mktemp("biosyn") / "bio"
    shutil.copytree(BIO, out, ignore=shutil.ignore_patterns("output*"))
    et = out / "network" / "inp_bio_edge_types.csv"
    tab = pd.read_csv(et, sep=" ")
    tab.loc[tab.index[0], ["model_template", "dynamics_params"]] = ["expsyn", "fast.json"]
    tab.to_csv(et, sep=" ", index=False, na_rep="NULL")
    fast = {"erev": -5.0, "tau1": 1.5}  # own values
    (out / "components" / "synaptic_models" / "fast.json").write_text(json.dumps(fast))
    nt = out / "network" / "bio_node_types.csv"
    tab = pd.read_csv(nt, sep=" ")
    tab["model_processing"] = "aibs_perisomatic,extracellular,my_own_fix"
    tab.to_csv(nt, sep=" ", index=False, na_rep="NULL")
    return out


@pytest.fixture(scope="module")
def changed_import(changed_fixture):
    return sonata_to_network(read_circuit(changed_fixture / "simulation_config.json"))


def test_import_expsyn_and_processing(changed_fixture, changed_import):
    net, lost = changed_import
    mech = net.syn_mechs["fast.expsyn"]
    exc = json.loads((changed_fixture / "components" / "synaptic_models" / "fast.json").read_text())
    assert (mech.model, mech.params) == ("ExpSyn", {"e": exc["erev"], "tau": exc["tau1"]})
    ct = next(v for v in net.cell_types.values() if v.kind == "compartmental")
    assert all("extracellular" in s.mechs for s in ct.sections.values())
    user = [m for m in lost if "'my_own_fix'" in m]
    assert user and "user code" in user[0] and "@bionet.model_processing" in user[0], lost


def test_stp_without_its_mechanism():
    """The import path of an edge type (its circuit's real mechanisms_dir) names the gap."""
    circuit = read_circuit(BIO / "simulation_config.json")
    with pytest.raises(ConversionError, match="inp_bio: .*stp2syn.*no .mod file"):
        _one_mech("stp2syn", "exc.json", circuit, Network(), "inp_bio", [])


def test_round_trip_keeps_expsyn(changed_import, tmp_path):
    """Export writes BMTK's template and JSON keys back (erev, tau1): same content hash."""
    a = stored(changed_import[0], tmp_path / "A.h5")
    cfg, _ = export(a, tmp_path / "sa")
    doc = json.loads((tmp_path / "sa" / "components" / "synaptic_models"
                      / "fast.json").read_text())
    assert doc == {"erev": -5.0, "tau1": 1.5}
    b = stored(nethub.load(cfg), tmp_path / "B.h5")
    assert a.content_hash() == b.content_hash()


def test_user_synapse_template_is_reported():
    circuit = read_circuit(BIO / "simulation_config.json")
    net, lost = Network(), []
    name = _one_mech("my_syn", "exc.json", circuit, net, "inp_bio", lost)
    assert net.syn_mechs[name].model == "my_syn"
    assert "'my_syn'" in lost[0] and "@bionet.synapse_model" in lost[0] and "user code" in lost[0]
