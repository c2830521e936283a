"""Small pieces of the NeuroML run path: quantities, units, LEMS synaptic connections, the
NEURON 9 NMODL fixes, random-stream ids, the output-file writer."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from nethub.converters.neuroml_outputs import parse_quantity, si_factor
from nethub.errors import FormatError, SimulationError
from nethub.formats.neuroml import NeuroMLError, read_lems
from nethub.formats.neuroml.nrn9fix import fix, vpeer_as_range
from nethub.formats.neuroml.outputs import write_lems_outputs
from nethub.sim.randomids import MARKER, random_ids, rewritten_mechanisms, seed_random_sources

_LEMS = """<Lems>
<Target component="sim"/>
<Include file="Cells.xml"/><Include file="Networks.xml"/><Include file="Simulation.xml"/>
<iafCell id="iaf" leakConductance="0.2nS" leakReversal="-70mV" thresh="-55mV" reset="-70mV"
  C="3.2pF"/>
<expOneSynapse id="syn" gbase="1nS" erev="0mV" tauDecay="2ms"/>
<network id="net">
  <population id="a" component="iaf" size="2"/>
  <synapticConnectionWD from="a[0]" to="{to}" synapse="syn" weight="2" delay="3ms"/>
</network>
<Simulation id="sim" length="10ms" step="0.1ms" target="net"/>
</Lems>
"""


def test_quantities():
    assert parse_quantity("pop[3]/v") == ("pop", 3, ["v"])
    assert parse_quantity("pop/2/cell/w") == ("pop", 2, ["w"])
    assert parse_quantity("p[0]/synapses:s:1/g") == ("p", 0, ["synapses:s:1", "g"])
    with pytest.raises(FormatError, match="not 'pop\\[i\\]"):
        parse_quantity("pop/v")


def test_si_factors():
    mod = "ASSIGNED {\n    w (nA)\n    g (uS)\n    x\n    y (furlong)\n}\n"
    assert si_factor(mod, "v") == 1e-3
    assert si_factor(mod, "w") == 1e-9 and si_factor(mod, "g") == 1e-6
    assert si_factor(mod, "x") == 1.0 and si_factor(None, "q") == 1.0
    with pytest.raises(FormatError, match="furlong"):
        si_factor(mod, "y")


def test_lems_synaptic_connection(tmp_path):
    path = tmp_path / "LEMS_s.xml"
    path.write_text(_LEMS.format(to="a[1]"))
    proj = read_lems(path).network.projections["synapticConnection0"]
    assert (proj.pre_population, proj.post_population, proj.synapse) == ("a", "a", "syn")
    assert proj.columns["post_cell"].tolist() == [1]
    assert proj.columns["weight"].tolist() == [2.0] and proj.columns["delay"].tolist() == [3.0]
    path.write_text(_LEMS.format(to="a/1"))
    with pytest.raises(NeuroMLError, match=r"LEMS_s.xml: network 'net'/synapticConnectionWD"):
        read_lems(path)


def test_nrn9_fixes():
    text = ("NEURON {\n    POINT_PROCESS x\n    POINTER vpeer: pointer\n}\n"
            "ASSIGNED {\n    a (mV)\n    S : derived\n}\nSTATE {\n    S : state\n}\n")
    out = fix(text)
    assert "POINTER vpeer" in out  # kept: live pointer connections (nethub.sim.livepointers)
    assert "RANGE vpeer" in vpeer_as_range(out) and "POINTER" not in vpeer_as_range(out)
    assert "    a (mV)\n" in out and out.count("    S ") == 1
    assert fix(out) == out


def test_random_ids_per_cell_and_index():
    assert random_ids(7, 5, 2) == (7, 5, 2)
    with pytest.raises(SimulationError, match="gid -1"):
        random_ids(1, -1, 0)
    seen = []

    class Src:
        def __init__(self, name):
            self.name = name

        def hname(self):
            return f"{self.name}[0]"

        def setRandomIds(self, *ids):  # noqa: N802 (NEURON's name)
            seen.append((self.name, *ids))

    cells = {4: SimpleNamespace(pointps={"g": Src("gen")}, point=None,
                                stims=[("a", Src("pfs")), ("b", object()), ("c", Src("own")),
                                       ("d", Src("pfs"))]),
             9: SimpleNamespace(pointps={}, point=None, stims=[])}
    # 'own' has a setRandomIds of its own but is not a nethub rewrite: left alone
    assert seed_random_sources(cells, 3, {"gen", "pfs"}) == 3
    assert seen == [("gen", 3, 4, 0), ("pfs", 3, 4, 1), ("pfs", 3, 4, 2)]
    assert seed_random_sources(cells, 3, set()) == 0
    mods = {"a.mod": "NEURON {\n    POINT_PROCESS pfs\n}\n: " + MARKER,
            "b.mod": "NEURON {\n    POINT_PROCESS own\n    RANGE x\n}\n"}
    assert rewritten_mechanisms(mods) == {"pfs"}


def test_writer_formats(tmp_path):
    traces = SimpleNamespace(time=np.array([0.0, 0.5]),
                             get=lambda label, gid: np.array([-65.0, -64.5]))
    spec = [{"id": "f", "path": "out/v.dat", "kind": "traces",
             "columns": [{"id": "c", "label": "l", "gid": 0, "factor": 1e-3}]},
            {"id": "e", "path": "out/s.spikes", "kind": "events", "format": "TIME_ID",
             "selections": [{"id": 7, "gid": 0}, {"id": 2, "gid": 1}]}]
    res = SimpleNamespace(sim_config={"nethubLemsOutputs": spec}, traces=traces,
                          spike_times=np.array([3.0, 1.5, 3.0]),
                          spike_gids=np.array([1, 0, 0]))
    paths = write_lems_outputs(res, tmp_path)
    assert [p.name for p in paths] == ["v.dat", "s.spikes"]
    assert (tmp_path / "out" / "v.dat").read_text() == (
        "0.000000e+00\t-6.500000e-02\t\n5.000000e-04\t-6.450000e-02\t\n")
    assert (tmp_path / "out" / "s.spikes").read_text() == "0.0015\t7\n0.003\t7\n0.003\t2\n"


def test_outputs_from_run_config_extras():
    """A run of a stored RunConfig (``Network.run_config``) carries the files in its extras."""
    from nethub.formats.neuroml.outputs import lems_outputs_of

    spec = [{"id": "e", "path": "s.spikes", "kind": "events", "selections": []}]
    assert lems_outputs_of(SimpleNamespace(sim_config={}, run_config={
        "extras": {"nethubLemsOutputs": spec}})) == spec
    assert lems_outputs_of(SimpleNamespace(sim_config={}, run_config={})) == []
