"""NWB of NeuroML imports: LEMS simulations of abstract cells (fixtures/neuroml/ours) and of
multi-compartment cells (fixtures/neuroml/cells) run by nethub and exported to NWB:
the Units table carries the NeuroML population and instance of every cell, and pynwb reads the
spikes back exactly."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

import nethub

pytestmark = pytest.mark.neuron
pynwb = pytest.importorskip("pynwb")

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "neuroml"


def _check_units(store: Path, nwb: Path) -> int:
    """Units columns carry the cells' NeuroML ids; spikes read back exactly (pynwb: the
    seconds written; nethub: the stored ms). Returns the number of spikes."""
    cells = nethub.load(store).cells.to_pandas().set_index("gid")
    res = nethub.load_results(store)
    with pynwb.NWBHDF5IO(str(nwb), "r") as io:
        units = io.read().units.to_dataframe()
        assert units["nml_population"].tolist() == cells.loc[units.index, "nml.population"].tolist()
        assert units["nml_instance"].tolist() == cells.loc[units.index, "nml.instance"].tolist()
        assert units["source_format"].tolist() == ["neuroml"] * len(units)
        assert units["source_pop"].tolist() == units["nml_population"].tolist()
        assert units["source_id"].tolist() == units["nml_instance"].tolist()
        gids = np.repeat(units.index.to_numpy(), [len(s) for s in units["spike_times"]])
        times = np.concatenate([np.asarray(s) for s in units["spike_times"]])
    order = np.lexsort((gids, times))
    assert np.array_equal(gids[order], res.spike_gids)
    assert np.array_equal(times[order], res.spike_times / 1000.0)  # the seconds written
    back = nethub.load_results(nwb)  # and nethub's reader gives the stored ms exactly
    assert np.array_equal(back.spike_times, res.spike_times)
    assert np.array_equal(back.spike_gids, res.spike_gids)
    return len(times)


def test_lems_run_of_abstract_cells_to_nwb(tmp_path):
    store = tmp_path / "izh.h5"
    nethub.simulate(FIX / "ours" / "LEMS_IzhNet.xml", output=store)
    nethub.convert(store, tmp_path / "izh.nwb")
    assert _check_units(store, tmp_path / "izh.nwb") > 0
    with pynwb.NWBHDF5IO(str(tmp_path / "izh.nwb"), "r") as io:
        pops = set(io.read().units.to_dataframe()["nml_population"])
    assert pops == {"drv", "tgt", "pI", "pR", "pZ"}


def test_lems_run_of_detailed_cells_to_nwb(tmp_path):
    for folder in ("cells", "NeuroML2"):  # MultiSeg.cell.nml includes ../NeuroML2/examples
        shutil.copytree(FIX / folder, tmp_path / folder)
    store = tmp_path / "multiseg.h5"
    nethub.simulate(tmp_path / "cells" / "LEMS_MultiSeg.xml", output=store)
    assert nethub.load(store).cell_types["MultiSeg"].kind == "compartmental"
    nethub.convert(store, tmp_path / "multiseg.nwb")
    assert _check_units(store, tmp_path / "multiseg.nwb") > 0
