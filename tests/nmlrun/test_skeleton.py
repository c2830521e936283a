"""The copy of a ``.nml.h5`` that jNeuroML reads for NMODL keeps the first row of every
projection and input list (a 100,000-connection file exhausted jNeuroML's heap)."""

from __future__ import annotations

import h5py
import numpy as np

from nethub.formats.neuroml.skeleton import skeleton_h5


def test_first_rows_kept_populations_whole(tmp_path):
    path = tmp_path / "n.nml.h5"
    conns = np.arange(15, dtype=np.float64).reshape(5, 3)
    with h5py.File(path, "w") as f:
        net = f.create_group("neuroml").create_group("network")
        net.create_group("population_p").create_dataset("p", data=np.ones((4, 4)))
        ds = net.create_group("projection_pr").create_dataset("pr", data=conns)
        ds.attrs["column_0"] = "id"
        net["projection_pr"].attrs["synapse"] = "syn"
        net.create_group("inputList_i").create_dataset("i", data=np.ones((3, 2)))
    assert skeleton_h5(path) == 4 + 2
    with h5py.File(path, "r") as f:
        net = f["neuroml/network"]
        assert np.array_equal(net["projection_pr/pr"][()], conns[:1])
        assert net["projection_pr/pr"].attrs["column_0"] == "id"
        assert net["projection_pr"].attrs["synapse"] == "syn"
        assert net["inputList_i/i"].shape == (1, 2)
        assert net["population_p/p"].shape == (4, 4)
