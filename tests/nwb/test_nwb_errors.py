"""Bad NWB input: truncated, foreign and non-NWB files give errors naming the file; the
registry finds the format by content and suffix; writing needs a run; a failed write leaves
an existing file as it was."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

import nethub
from nethub.errors import ConversionError, FormatError, NethubError
from nethub.formats import OptionError, get_format, guess_format
from nethub.results import Results

pytestmark = pytest.mark.neuron


def test_registered_and_sniffed(run_store, nwb_file, tmp_path):
    fmt = get_format("nwb")
    assert fmt.can_read and fmt.can_write and fmt.extra == "nwb"
    assert fmt.sniff(nwb_file) and not fmt.sniff(run_store[1])
    assert not get_format("store").sniff(nwb_file)
    renamed = tmp_path / "run.h5"  # content wins over the suffix
    renamed.write_bytes(nwb_file.read_bytes())
    assert guess_format(renamed, "read").name == "nwb"
    assert guess_format(tmp_path / "new.nwb", "write").name == "nwb"
    info = nethub.info(nwb_file)
    res = nethub.load_results(run_store[1])
    assert info["format"] == "nwb" and info["network_hash"] == res.network_hash
    assert info["runs"] == [{"name": res.name, "n_spikes": len(res.spike_times),
                             "duration": 50.0, "nranks": 1, "created": info["runs"][0]["created"]}]
    assert info["populations"]["E"]["cells"] == 3


def test_truncated_file_names_the_file(nwb_file, tmp_path):
    bad = tmp_path / "cut.nwb"
    bad.write_bytes(nwb_file.read_bytes()[: nwb_file.stat().st_size // 2])
    with pytest.raises(FormatError, match="not a readable NWB file") as err:
        nethub.load_results(bad, format="nwb")
    assert str(bad) in str(err.value)


def test_foreign_hdf5_file_names_the_file(tmp_path):
    foreign = tmp_path / "foreign.nwb"
    with h5py.File(foreign, "w") as f:
        f["data"] = np.arange(3)
    assert not get_format("nwb").sniff(foreign)
    with pytest.raises(FormatError) as err:
        nethub.load_results(foreign, format="nwb")
    assert str(foreign) in str(err.value)


def test_text_file_is_no_nwb(tmp_path):
    text = tmp_path / "notes.nwb"
    text.write_text("not hdf5\n")
    with pytest.raises(NethubError) as err:
        nethub.load_results(text)
    assert str(text) in str(err.value)


def test_an_nwb_file_needs_a_run(run_store, tmp_path):
    with pytest.raises(ConversionError, match="holds a simulation run"):
        nethub.save(nethub.load(run_store[0]), tmp_path / "net.nwb")
    assert not (tmp_path / "net.nwb").exists()


def test_failed_write_keeps_the_old_file(run_store, nwb_file, tmp_path):
    path = tmp_path / "keep.nwb"
    path.write_bytes(nwb_file.read_bytes())
    res = Results(spike_times=[1.0], spike_gids=[999], network_hash="x")
    with pytest.raises(ConversionError, match="not cells of the network") as err:
        nethub.save((nethub.load(run_store[0]), res), path)
    assert str(path) in str(err.value)
    with pytest.raises(OptionError, match="unknown NWBFile field"):
        nethub.convert(run_store[1], path, write_options={"metadata": {"colour": "red"}})
    with pytest.raises(OptionError, match="embed_store: no source file"):
        nethub.save(nethub.load_results(run_store[1]), path, embed_store=True)
    assert path.read_bytes() == nwb_file.read_bytes()
    assert [p.name for p in tmp_path.iterdir()] == ["keep.nwb"]


def test_an_nwb_file_from_elsewhere_gives_its_spikes_and_joins_no_store(stores, tmp_path):
    """A plain pynwb file (units added one by one, no nethub provenance): unit ids as gids,
    spike times in ms, a loss note; it cannot join a store (no network hash)."""
    import datetime as dt

    import pynwb

    path = tmp_path / "lab.nwb"
    f = pynwb.NWBFile(session_description="recording", identifier="lab-1",
                      session_start_time=dt.datetime(2026, 1, 2, tzinfo=dt.timezone.utc))
    f.add_unit(spike_times=[0.5, 0.25], id=4)
    f.add_unit(spike_times=[0.125], id=9)
    with pynwb.NWBHDF5IO(str(path), "w") as io:
        io.write(f)
    doc = nethub.read(path)
    assert any("not written by nethub" in x for x in doc.lost)
    res = doc.results[0]
    np.testing.assert_array_equal(res.spike_times, [125.0, 250.0, 500.0])
    np.testing.assert_array_equal(res.spike_gids, [9, 4, 4])
    with pytest.raises(ConversionError, match="records no network hash"):
        nethub.convert(path, stores[0])


def test_validate_runs_nwbinspector(nwb_file, tmp_path):
    found = nethub.api.validate(nwb_file)
    assert [f for f in found if f.level == "error"] == []
    assert any("check_subject_species_exists" in f.message for f in found)
    bad = tmp_path / "cut.nwb"
    bad.write_bytes(nwb_file.read_bytes()[:4096])
    assert any(f.level == "error" for f in nethub.api.validate(bad, format="nwb"))
