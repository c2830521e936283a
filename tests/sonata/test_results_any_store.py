"""Any run of any store as SONATA results: a NetPyNE-built store's spikes and traces written as
``spikes.h5`` and element reports (``nethub sonata-results``), read back by libsonata and BMTK,
and results keyed by (population, node_id)."""

from __future__ import annotations

import subprocess
import sys

import libsonata
import numpy as np
import pytest

import nethub
from nethub.errors import FormatError
from nethub.formats.sonata import cell_keys, read_report, read_spikes, write_run_outputs


@pytest.fixture(scope="module")
def netpyne_run(tmp_path_factory):
    from nethub.examples import example_path

    net_params, cfg = nethub.load_spec(example_path())
    path = tmp_path_factory.mktemp("anystore") / "example.h5"
    nethub.save(nethub.build(net_params, cfg), path)
    res = nethub.simulate(path, {"duration": 100.0, "recordCells": [0, 1, 45]})
    return path, res


def test_keys_of_a_netpyne_store(netpyne_run):
    path, res = netpyne_run
    keys = cell_keys(path)
    net = nethub.load(path)
    cells = net.cells_df()
    assert keys["gid"].tolist() == cells["gid"].tolist()
    for pop in net.populations:  # node ids: position in the population, in gid order
        mine = keys[keys["population"] == pop]
        assert mine["node_id"].tolist() == list(range(len(mine)))
    spikes = nethub.spikes_by_node(path)
    assert len(spikes) == len(res.spike_times) > 0
    first = keys.set_index("gid").loc[res.spike_gids[0]]
    assert (spikes["population"][0], spikes["node_id"][0]) == (first["population"],
                                                               first["node_id"])


def test_written_files_read_by_libsonata_and_bmtk(netpyne_run, tmp_path):
    path, res = netpyne_run
    proc = subprocess.run([sys.executable, "-m", "nethub", "sonata-results", str(path),
                           "-o", str(tmp_path / "out"), "--sort", "id"],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    spath = tmp_path / "out" / "spikes.h5"
    mine = nethub.spikes_by_node(path)
    back = read_spikes(spath)
    assert sorted(back) == sorted(set(mine["population"]))
    for pop, sp in back.items():
        want = mine[mine["population"] == pop]
        assert sp.sorting == "by_id" and np.all(np.diff(sp.node_ids) >= 0)
        assert sorted(zip(sp.node_ids, sp.timestamps)) == sorted(zip(want["node_id"],
                                                                     want["timestamp"]))
        lib = libsonata.SpikeReader(str(spath))[pop].get()
        assert len(lib) == len(want)
    from bmtk.utils.reports.spike_trains import SpikeTrains

    assert len(SpikeTrains.load(str(spath)).to_dataframe()) == len(mine)
    # the trace V_soma of gids 0, 1, 45 as an element report, one element per cell
    rpath = tmp_path / "out" / "V_soma.h5"
    rep = read_report(rpath)
    keys = cell_keys(path).set_index("gid")
    for gid in (0, 1, 45):
        pop, node = keys.loc[gid, "population"], int(keys.loc[gid, "node_id"])
        col = rep[pop].columns_of(node)
        np.testing.assert_allclose(rep[pop].data[:, col][:, 0],
                                   res.traces.get("V_soma", gid).astype(np.float32))
        lib = libsonata.ElementReportReader(str(rpath))[pop]
        frame = lib.get(node_ids=[node])
        np.testing.assert_allclose(np.asarray(frame.data)[:, 0], rep[pop].data[:, col][:, 0])
    t0, t1, dt = rep[pop].time
    assert (t0, dt) == (0.0, 0.1) and np.isclose(t1, len(res.traces.time) * 0.1)
    from bmtk.utils.reports.compartment import CompartmentReport

    bm = CompartmentReport(str(rpath), mode="r", default_population=pop)
    assert np.allclose(bm.data(node_id=node)[:, 0], rep[pop].data[:, col][:, 0])


def test_no_folder_for_a_run_without_sonata_output(netpyne_run):
    path, _ = netpyne_run
    with pytest.raises(FormatError, match="no SONATA output folder"):
        write_run_outputs(path)


def test_all_segment_report_numbers_sections(netpyne_run, tmp_path):
    from nethub.runconfig import CellSelection, RunConfig, TraceRequest
    from nethub.runner import store_run_config

    path, _ = netpyne_run
    out = tmp_path / "seg.h5"
    base = store_run_config(path, {"duration": 20.0}).to_dict()
    base["traces"] = [TraceRequest(label="v_all", variable="v", all_segments=True,
                                   cells=CellSelection(gids=(0, 45))).to_dict()]
    res = nethub.simulate(path, RunConfig.from_dict(base), output=out)
    written = write_run_outputs(out, out_dir=tmp_path / "o")
    rep = read_report(written["v_all"])
    idx = res.traces.index.to_pandas()
    keys = cell_keys(out).set_index("gid")
    for gid in (0, 45):  # a PYR cell (soma, dend) and a BAS cell (soma)
        pop, node = keys.loc[gid, "population"], int(keys.loc[gid, "node_id"])
        mine = idx[idx["gid"] == gid]
        cols = rep[pop].columns_of(node)
        ids = rep[pop].element_ids[cols]
        # one element per recorded segment; element id = the section's position in the cell
        # type (the one writer of SONATA results, the export's too)
        secs = list(nethub.load(out).cell_types[
            str(nethub.load(out).cells_df().set_index("gid").loc[gid, "cell_type"])].sections)
        assert len(ids) == len(mine) and ids[0] == 0
        assert ids.tolist() == [secs.index(s) for s in mine["sec"].astype(str)]
        assert len(set(ids.tolist())) == mine["sec"].nunique() > (1 if gid == 0 else 0)
        np.testing.assert_allclose(rep[pop].element_pos[cols], mine["loc"])
        np.testing.assert_allclose(rep[pop].data[:, cols].T,
                                   res.traces.data[mine.index].astype(np.float32))
