"""HDF5 morphologies (H5 v1) give exactly the sections of the same morphology in NeuroLucida
or SWC (MorphIO's test data, fixtures/sonata/morphio), through NEURON's Import3d."""

from __future__ import annotations

import json
import shutil

import h5py
import numpy as np
import pandas as pd
import pytest

from nethub.converters.sonata import sonata_to_network
from nethub.converters.sonata_bio import read_morphology
from nethub.converters.sonata_bio_nml import nml_operations
from nethub.errors import ConversionError
from nethub.formats.sonata import read_circuit
from nethub.sim.morphh5 import h5_to_text

from .conftest import FIXTURES

MIO = FIXTURES / "morphio"


def _same(a, b, soma_atol: float = 0.0) -> None:
    sa, sb = a.cell_type.sections, b.cell_type.sections
    assert list(sa) == list(sb)
    for name in sa:
        x, y = sa[name], sb[name]
        assert (x.parent, x.parent_x, x.child_x) == (y.parent, y.parent_x, y.child_x), name
        assert x.geom["nseg"] == y.geom["nseg"], name
        if name.startswith("soma") and soma_atol:
            np.testing.assert_allclose(x.pt3d, y.pt3d, rtol=0, atol=soma_atol)
            assert x.geom["L"] == pytest.approx(y.geom["L"], abs=soma_atol)
        else:
            np.testing.assert_array_equal(x.pt3d, y.pt3d, err_msg=name)
            assert x.geom == y.geom, name
    assert a.cell_type.section_lists == b.cell_type.section_lists
    if soma_atol == 0.0:
        for k in a.segments:
            np.testing.assert_array_equal(a.segments[k], b.segments[k], err_msg=k)


@pytest.mark.parametrize("h5, twin, names", [
    ("simple.h5", "simple.asc", "bmtk"),
    ("simple-single-point-soma.h5", "simple.swc", "bmtk"),
    ("simple-single-point-soma.h5", "simple.swc", "netpyne"),
])
def test_h5_equals_its_text_twin(h5, twin, names):
    _same(read_morphology(MIO / h5, names=names, dL=2.0),
          read_morphology(MIO / twin, names=names, dL=2.0))


def test_h5_equals_morphios_own_neurolucida_export(tmp_path):
    """A real 85-section neuron against MorphIO's NeuroLucida export of the same file
    (MorphIO writes 9 decimals: the soma contour, which Import3d turns into a cylinder in
    double precision, agrees to 1e-6 µm; every other section exactly)."""
    import morphio.mut

    asc = tmp_path / "Neuron.asc"
    morphio.mut.Morphology(str(MIO / "Neuron.h5")).write(str(asc))
    _same(read_morphology(MIO / "Neuron.h5", dL=5.0), read_morphology(asc, dL=5.0),
          soma_atol=1e-6)


def test_h5_text_keeps_the_source_branch_points(tmp_path):
    kind, text = h5_to_text(MIO / "simple.h5")
    assert kind == ".asc" and "(-5 5 0 3)" in text and text.count("(0 5 0") == 1
    kind, text = h5_to_text(MIO / "simple-single-point-soma.h5")
    assert kind == ".swc"
    rows = [r.split() for r in text.splitlines() if not r.startswith("#")]
    assert [r[2:5] for r in rows[:3]] == [["0", "0", "0"], ["0", "0", "0"], ["0", "5", "0"]]
    assert len(rows) == 9  # simple.swc's 9 points


def test_bad_h5_files_are_named(tmp_path):
    bad = tmp_path / "v2.h5"
    with h5py.File(bad, "w") as f:
        f.create_group("neuron1")
    with pytest.raises(ConversionError, match="v2.h5.*H5 v2"):
        read_morphology(bad)
    with h5py.File(bad, "w") as f:
        f["points"] = np.zeros((3, 4))
        f["structure"] = np.array([[0, 1, -1], [2, 3, 5]])
    with pytest.raises(ValueError, match="v2.h5: /structure parents must precede"):
        h5_to_text(bad)


def test_sonata_node_with_an_h5_morphology(tmp_path):
    """A SONATA node type naming an .h5 morphology (here with an nml: template) imports to
    the cell its NeuroLucida twin gives; the .h5 travels in the store."""
    src = FIXTURES / "bio_nml"
    root = tmp_path / "c"
    shutil.copytree(src, root, ignore=shutil.ignore_patterns("output", "inputs"))
    shutil.copy(MIO / "simple.h5", root / "components" / "morphologies")
    cfg = json.loads((root / "simulation_config.json").read_text())
    cfg["networks"]["edges"], cfg["inputs"], cfg["reports"] = [], {}, {}
    (root / "simulation_config.json").write_text(json.dumps(cfg))
    types = root / "network" / "bio_node_types.csv"
    tab = pd.read_csv(types, sep=" ")
    tab = tab[tab["node_type_id"] == 100].assign(morphology="simple.h5")
    tab.to_csv(types, sep=" ", index=False)
    with h5py.File(root / "network" / "bio_nodes.h5", "r+") as f:
        f["nodes/bio/node_type_id"][...] = 100
    net, _ = sonata_to_network(read_circuit(root / "simulation_config.json"))
    bio = [v for v in net.cell_types.values() if v.kind == "compartmental"]
    assert len(bio) == 1 and net.files["morphologies/simple.h5"].role == "morphology"
    nml = root / "components" / "biophysical_neuron_templates" / "nml" / "cell_b.cell.nml"
    twin = read_morphology(MIO / "simple.asc", template="nml:nml/cell_b.cell.nml",
                           processing=["aibs_perisomatic"], dL=20.0,
                           nml=nml_operations(nml)[0], mod_files=net.mod_files)
    got = bio[0].sections
    assert list(got) == list(twin.cell_type.sections)
    for name, sec in twin.cell_type.sections.items():
        np.testing.assert_array_equal(got[name].pt3d, sec.pt3d)
        assert got[name].mechs == sec.mechs and got[name].geom == sec.geom
