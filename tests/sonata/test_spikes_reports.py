"""Spike files (every layout) and element reports; our files read by libsonata and BMTK."""

from __future__ import annotations

import h5py
import libsonata
import numpy as np
import pytest
from bmtk.utils.reports.compartment import CompartmentReport
from bmtk.utils.reports.spike_trains import SpikeTrains

from nethub.errors import FormatError
from nethub.formats.sonata.reports import ReportPopulation, read_report, write_report
from nethub.formats.sonata.spikes import read_spikes, spikes_frame, write_spikes

from .conftest import FIXTURES


def test_spike_layouts():
    old = read_spikes(FIXTURES / "300_intfire/inputs/lgn_spikes.h5", default_population="lgn")
    assert list(old) == ["lgn"] and old["lgn"].sorting == "by_id" and len(old["lgn"]) > 0
    bmtk = read_spikes(FIXTURES / "300_intfire/output/spikes.h5")
    assert bmtk["v1"].sorting == "by_time" and np.all(np.diff(bmtk["v1"].timestamps) >= 0)
    lib = read_spikes(FIXTURES / "libsonata/spikes.h5")
    ref = libsonata.SpikeReader(str(FIXTURES / "libsonata/spikes.h5"))
    assert sorted(lib) == sorted(ref.get_population_names())
    for name in lib:
        got = list(zip(lib[name].node_ids.tolist(), lib[name].timestamps.tolist()))
        assert got == [(int(i), t) for i, t in ref[name].get()]
        assert lib[name].sorting == ref[name].sorting


@pytest.mark.parametrize("text, sep", [
    ("timestamps population node_ids\n1.5 v1 3\n0.5 lgn 1\n", None),
    ("timestamps\tnode_ids\n1.5\t3\n0.5\t1\n", "\t"),
    ("1.5 3\n0.5 1\n", None),
    ("gid time\n3 1.5\n1 0.5\n", None),
])
def test_csv_spikes(tmp_path, text, sep):
    path = tmp_path / "s.csv"
    path.write_text(text)
    frame = spikes_frame(read_spikes(path, default_population="v1", sep=sep))
    pairs = sorted(zip(frame["node_id"], frame["timestamp"]))
    assert pairs == [(1, 0.5), (3, 1.5)]
    path.write_text("a b\n1 2\n")
    with pytest.raises(FormatError, match="no timestamps column"):
        read_spikes(path)


def test_written_spikes_read_by_libsonata_and_bmtk(tmp_path):
    path = tmp_path / "out.h5"
    ids, times = np.array([3, 1, 2, 1]), np.array([5.0, 1.0, 1.0, 0.5])
    write_spikes(path, {"v1": (ids, times), "lgn": (np.array([0]), np.array([2.0]))})
    lib = libsonata.SpikeReader(str(path))
    assert lib["v1"].sorting == "by_time"
    assert lib["v1"].get() == [(1, 0.5), (1, 1.0), (2, 1.0), (3, 5.0)]
    df = SpikeTrains.load(str(path)).to_dataframe(populations="v1")
    assert sorted(zip(df["node_ids"], df["timestamps"])) == [(1, 0.5), (1, 1.0), (2, 1.0),
                                                             (3, 5.0)]
    back = read_spikes(path)
    assert back["lgn"].node_ids.tolist() == [0] and back["v1"].sorting == "by_time"
    with pytest.raises(FormatError, match="negative node ids"):
        write_spikes(tmp_path / "bad.h5", {"v1": (np.array([-1]), np.array([1.0]))})
    assert not (tmp_path / "bad.h5").exists() and len(list(tmp_path.iterdir())) == 1


def test_reports_both_dialects():
    bmtk = read_report(FIXTURES / "9_cells/output/membrane_potential.h5")["cortex"]
    assert bmtk.data.shape == (200, 9) and bmtk.variable == "v"
    assert bmtk.time == (0.0, 20.0, 0.1) and bmtk.index_pointers.tolist() == list(range(10))
    lib = read_report(FIXTURES / "libsonata/elements.h5")["All"]
    ref = libsonata.ElementReportReader(str(FIXTURES / "libsonata/elements.h5"))["All"]
    frame = ref.get()
    assert lib.units == ref.data_units and lib.time == ref.times
    assert np.array_equal(lib.data, np.asarray(frame.data))
    assert np.array_equal(lib.element_ids, np.asarray(frame.ids)[:, 1])


def test_written_report_read_by_libsonata_and_bmtk(tmp_path):
    data = np.arange(12.0).reshape(4, 3) - 70.0
    pop = ReportPopulation(np.array([2, 0]), np.array([0, 1, 3]), np.array([0, 0, 1]),
                           np.array([0.5, 0.25, 0.75]), (0.0, 1.0, 0.25), data, "v", "mV")
    path = tmp_path / "v.h5"
    write_report(path, {"cortex": pop})
    lib = libsonata.ElementReportReader(str(path))["cortex"]
    frame = lib.get()
    assert lib.get_node_ids() == [2, 0] and lib.times == (0.0, 1.0, 0.25)
    assert np.array_equal(np.asarray(frame.data), data)
    assert np.asarray(frame.ids).tolist() == [[2, 0], [0, 0], [0, 1]]
    rep = CompartmentReport(str(path), mode="r")
    assert np.array_equal(rep.data(node_id=0, population="cortex"), data[:, 1:])
    assert rep.element_pos(node_id=0, population="cortex").tolist() == [0.25, 0.75]
    assert rep.variable(population="cortex") == "v" and rep.dt(population="cortex") == 0.25
    back = read_report(path)["cortex"]
    assert np.array_equal(back.data, data) and back.columns_of(0) == slice(1, 3)


def test_old_bmtk_report_layout_and_bad_names(tmp_path):
    """BMTK's older reports keep data and mapping (gids, element_id, index_pointer) at the
    root; their population is the caller's default."""
    path = tmp_path / "old.h5"
    with h5py.File(path, "w") as f:
        f["data"] = np.ones((5, 2))
        f["mapping/gids"] = np.array([7], np.uint64)
        f["mapping/element_id"] = np.array([0, 1], np.uint64)
        f["mapping/element_pos"] = np.array([0.5, 0.5])
        f["mapping/index_pointer"] = np.array([0, 2], np.uint64)
        f["mapping/time"] = np.array([0.0, 5.0, 1.0])
    (name, pop), = read_report(path, default_population="cortex").items()
    assert name == "cortex" and pop.node_ids.tolist() == [7] and pop.columns_of(7) == slice(0, 2)
    with pytest.raises(FormatError, match="population name 'a/b'"):
        write_report(tmp_path / "x.h5", {"a/b": pop})
    with pytest.raises(FormatError, match="population name ''"):
        write_spikes(tmp_path / "x.h5", {"": (np.array([1]), np.array([1.0]))})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.h5"]
