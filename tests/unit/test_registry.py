"""The format registry: lookup by name, suffix and content; errors; plugins from entry points
and registered at run time."""

from __future__ import annotations

import importlib.metadata
import json
import logging
import re
import sys
import textwrap

import numpy as np
import pytest

import nethub
from nethub.errors import MissingExtraError, NoFormatError
from nethub.formats import Document, Format, FormatRegistry, OptionError, registry
from nethub.formats.base import as_document
from nethub.formats.registry import BUILTINS
from nethub.formats.store import StoreFormat
from nethub.network import Network
from nethub.results import Results
from nethub.store import write_network


class MissingExtraFormat(Format):
    name = "fakeml"
    description = "a format whose library is not installed"
    suffixes = (".fake", ".fake.h5")
    can_read = can_write = True
    extra = "fakeml"
    requires = ("nethub_no_such_module_xyz",)

    def sniff(self, path):
        with open(path, "rb") as fh:
            return fh.read(6) == b"FAKEML"


class ToyFormat(Format):
    """A third-party style plugin: JSON with gids and populations only."""

    name = "toy"
    description = "toy JSON cells"
    suffixes = (".toy",)
    can_read = can_write = True
    holds_results = False
    write_options = {"indent": "JSON indentation"}

    def sniff(self, path):
        with open(path, "rb") as fh:
            return fh.read(8) == b'{"toy": '

    def read(self, path, results=True, **opts):
        with open(path) as fh:
            data = json.load(fh)["toy"]
        net = Network(cells={"gid": np.array(data["gid"]), "pop": data["pop"],
                             "cell_type": data["pop"]})
        return Document(network=net, lost=["toy files keep no cell types"])

    def write(self, doc, path, indent=None):
        cells = doc.network.cells
        data = {"gid": cells["gid"].tolist(),
                "pop": [cells["pop"].categories[c] for c in cells["pop"].codes]}
        with open(path, "w") as fh:
            fh.write('{"toy": ' + json.dumps(data, indent=indent) + "}")
        return ["everything but gids and populations"]


class BrokenSniffFormat(Format):
    name = "brokensniff"
    suffixes = (".bs",)
    can_read = True

    def sniff(self, path):
        raise RuntimeError("sniffer bug")


@pytest.fixture
def reg():
    """A registry with the built-ins and no entry points."""
    return FormatRegistry(group=None)


@pytest.fixture
def default_reg(monkeypatch):
    """A fresh default registry (the one nethub.load/save use), restored afterwards."""
    fresh = FormatRegistry(group=None)
    monkeypatch.setattr(registry, "default_registry", fresh)
    return fresh


def small_network(n=4):
    return Network(cells={"gid": np.arange(n), "pop": ["E"] * (n // 2) + ["I"] * (n - n // 2),
                          "cell_type": ["E"] * (n // 2) + ["I"] * (n - n // 2)})


@pytest.fixture
def store_file(tmp_path):
    path = tmp_path / "model.h5"
    write_network(small_network(), path)
    return path


# ----------------------------------------------------------------------------- by name
def test_builtin_store_registered_without_entry_points(reg):
    fmt = reg.get("store")
    assert isinstance(fmt, StoreFormat)
    assert reg.get("STORE") is fmt
    assert fmt.can_read and fmt.can_write and fmt.lossless and fmt.holds_results
    assert [f.name for f in reg.formats()] == sorted(BUILTINS, key=lambda n: n != "store")


def test_unknown_name_lists_valid_names(reg):
    valid = re.escape(", ".join(sorted(BUILTINS)))
    with pytest.raises(NoFormatError, match=rf"unknown format 'nope' \(valid: {valid}\)"):
        reg.get("nope")
    with pytest.raises(NoFormatError, match="unknown format 'nope'"):
        reg.guess("x.h5", "write", format="nope")


def test_explicit_name_wins_over_suffix(reg, tmp_path):
    assert reg.guess(tmp_path / "x.toy", "write", format="store").name == "store"


def test_explicit_format_that_cannot_write(reg):
    reg.register(BrokenSniffFormat)
    with pytest.raises(NoFormatError, match="format 'brokensniff' cannot write .*store"):
        reg.guess("x.bs", "write", format="brokensniff")


# ----------------------------------------------------------------------------- by suffix
@pytest.mark.parametrize("fname", ["out.h5", "out.nethub", "OUT.NH5", "a.b/out.nh5"])
def test_suffix(reg, tmp_path, fname):
    assert reg.guess(tmp_path / fname, "write").name == "store"


def test_no_match_names_file_suffix_and_known_suffixes(reg, tmp_path):
    path = tmp_path / "model.foo"
    with pytest.raises(NoFormatError) as err:
        reg.guess(path, "write")
    msg = str(err.value)
    assert "model.foo" in msg and ".foo" in msg
    assert "store: .h5, .nethub, .nh5" in msg
    assert not isinstance(err.value, MissingExtraError)


def test_no_match_existing_file_mentions_content(reg, tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    with pytest.raises(NoFormatError, match="content matched no format"):
        reg.guess(path)


def test_longest_suffix_wins(reg, tmp_path):
    reg.register(ToyFormat)

    class NmlH5(ToyFormat):
        name = "nmlh5"
        suffixes = (".nml.h5",)

    reg.register(NmlH5)
    assert reg.guess(tmp_path / "cells.nml.h5", "write").name == "nmlh5"
    assert reg.guess(tmp_path / "cells.h5", "write").name == "store"


def test_bad_mode(reg):
    with pytest.raises(ValueError, match="mode"):
        reg.guess("x.h5", "append")


# ----------------------------------------------------------------------------- by content
def test_sniff_store_whatever_its_name(reg, tmp_path, store_file):
    renamed = tmp_path / "model.toy"
    store_file.rename(renamed)
    reg.register(ToyFormat)
    assert StoreFormat().sniff(renamed)
    assert reg.guess(renamed).name == "store"  # content beats the suffix when reading
    assert reg.guess(renamed, "write").name == "toy"  # writing never sniffs


def test_store_sniff_rejects_other_files(tmp_path):
    import h5py

    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f.attrs["format"] = "something-else"
    text = tmp_path / "text.h5"
    text.write_text("not hdf5")
    fmt = StoreFormat()
    assert not fmt.sniff(other)
    assert not fmt.sniff(text)
    assert not fmt.sniff(tmp_path / "missing.h5")
    assert not fmt.sniff(tmp_path)


def test_unrecognised_content_falls_back_to_suffix(reg, tmp_path):
    text = tmp_path / "text.h5"
    text.write_text("not hdf5")
    assert reg.guess(text).name == "store"  # reading it then names the problem


def test_failing_sniffer_is_no_match(reg, tmp_path, caplog):
    reg.register(BrokenSniffFormat)
    path = tmp_path / "data.bs"
    path.write_text("x")
    with caplog.at_level(logging.DEBUG, logger="nethub"):
        assert reg.guess(path).name == "brokensniff"  # by suffix
    assert "sniffer bug" in caplog.text


# ----------------------------------------------------------------------------- missing extra
def test_missing_extra_by_suffix(reg, tmp_path):
    reg.register(MissingExtraFormat)
    with pytest.raises(MissingExtraError) as err:
        reg.guess(tmp_path / "cells.fake", "write")
    assert "pip install 'nethub[fakeml]'" in str(err.value)
    assert "nethub_no_such_module_xyz" in str(err.value)
    assert err.value.extra == "fakeml"
    assert not isinstance(err.value, NoFormatError)
    assert isinstance(err.value, ImportError)


def test_missing_extra_by_content_and_by_name(reg, tmp_path):
    reg.register(MissingExtraFormat)
    path = tmp_path / "cells.dat"
    path.write_bytes(b"FAKEML v1")
    with pytest.raises(MissingExtraError, match="nethub\\[fakeml\\]"):
        reg.guess(path)
    with pytest.raises(MissingExtraError):
        reg.guess(path, format="fakeml")


def test_missing_extra_beats_shorter_available_suffix(reg, tmp_path):
    reg.register(MissingExtraFormat)  # claims .fake.h5; the store claims .h5
    with pytest.raises(MissingExtraError):
        reg.guess(tmp_path / "net.fake.h5", "write")


def test_missing_dependency_without_extra(reg):
    class ThirdParty(MissingExtraFormat):
        name = "thirdparty"
        extra = None

    fmt = reg.get(reg.register(ThirdParty).name)
    assert not fmt.available
    with pytest.raises(MissingExtraError, match="pip install nethub_no_such_module_xyz$"):
        fmt.check_available()


def test_no_match_and_missing_extra_are_different_errors():
    assert not issubclass(NoFormatError, MissingExtraError)
    assert not issubclass(MissingExtraError, NoFormatError)


# ----------------------------------------------------------------------------- registration
def test_register_rules(reg):
    reg.register(ToyFormat)
    reg.register(ToyFormat)  # the same class again: fine

    class OtherToy(ToyFormat):
        pass

    with pytest.raises(ValueError, match="taken by"):
        reg.register(OtherToy)
    reg.register(OtherToy, replace=True)
    assert type(reg.get("toy")) is OtherToy
    with pytest.raises(TypeError, match="not a subclass"):
        reg.register(object)

    class Nameless(Format):
        pass

    with pytest.raises(ValueError, match="lower-case 'name'"):
        reg.register(Nameless)
    reg.unregister("toy")
    with pytest.raises(NoFormatError):
        reg.get("toy")


def test_check_options():
    fmt = ToyFormat()
    fmt.check_options("write", {"indent": 2})
    fmt.check_options("read", {"anything": 1})  # read_options None: unchecked
    with pytest.raises(OptionError, match=r"unknown write option\(s\) bogus .*valid: indent"):
        fmt.check_options("write", {"bogus": 1})


# ----------------------------------------------------------------------------- entry points
PLUGIN_SOURCE = '''
from nethub.formats import Format

class EpFormat(Format):
    name = "epfmt"
    description = "from an entry point"
    suffixes = (".ep",)
    can_write = True
'''


def fake_entry_points(*eps):
    def entry_points(**kw):
        assert kw == {"group": "nethub.formats"}
        return [importlib.metadata.EntryPoint(name, value, "nethub.formats")
                for name, value in eps]

    return entry_points


def test_entry_point_plugin_loaded_lazily(tmp_path, monkeypatch):
    (tmp_path / "nethub_test_ep_plugin.py").write_text(textwrap.dedent(PLUGIN_SOURCE))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "nethub_test_ep_plugin", raising=False)
    monkeypatch.setattr(importlib.metadata, "entry_points", fake_entry_points(
        ("epfmt", "nethub_test_ep_plugin:EpFormat"),
        ("store", "nethub.formats.store:StoreFormat"),  # duplicates the built-in: ignored
    ))
    reg = FormatRegistry()
    assert reg.names() == sorted(["epfmt", *BUILTINS])
    assert "nethub_test_ep_plugin" not in sys.modules  # names known, module not imported
    assert reg.guess(tmp_path / "x.ep", "write").name == "epfmt"
    assert "nethub_test_ep_plugin" in sys.modules
    assert type(reg.get("store")) is StoreFormat


def test_broken_entry_point_is_skipped_with_a_warning(monkeypatch, caplog):
    monkeypatch.setattr(importlib.metadata, "entry_points", fake_entry_points(
        ("broken", "nethub_no_such_plugin_module:Broken"),
    ))
    reg = FormatRegistry()
    with caplog.at_level(logging.WARNING, logger="nethub"):
        assert {f.name for f in reg.formats()} == set(BUILTINS)
    assert "cannot load format plugin 'broken'" in caplog.text
    with pytest.raises(NoFormatError):
        reg.get("broken")


def test_default_registry_scans_the_nethub_formats_group():
    names = {ep.name for ep in importlib.metadata.entry_points(group="nethub.formats")}
    assert "store" in names  # declared in pyproject.toml
    assert nethub.formats.get_format("store").name == "store"


# ----------------------------------------------------------------------------- through the API
def test_runtime_plugin_through_public_api(default_reg, tmp_path):
    nethub.formats.register(ToyFormat)
    path = tmp_path / "net.toy"
    run = Results(spike_times=[1.0], spike_gids=[0])
    lost = nethub.save((small_network(), run), path, indent=1)
    assert lost == ["1 simulation run(s): format 'toy' holds no results",
                    "everything but gids and populations"]
    net = nethub.load(path)
    assert net.gids.tolist() == [0, 1, 2, 3]
    doc = nethub.read(path)
    assert doc.lost == ["toy files keep no cell types"]
    with pytest.raises(OptionError, match="indentation|indent"):
        nethub.save(small_network(), path, indnet=1)
    # toy -> store -> toy via convert
    lost = nethub.convert(path, tmp_path / "net.h5")
    assert lost == ["toy files keep no cell types"]
    assert nethub.load(tmp_path / "net.h5").gids.tolist() == [0, 1, 2, 3]


def test_save_load_store_roundtrip(default_reg, tmp_path):
    net = small_network(6)
    runs = [Results(spike_times=[2.0, 1.0], spike_gids=[1, 0], sim_config={"duration": 5.0},
                    name="first")]
    assert nethub.save(Document(net, runs), tmp_path / "a.nethub", compression="gzip") == []
    assert nethub.load(tmp_path / "a.nethub").equals(net.canonical())
    got = nethub.load_results(tmp_path / "a.nethub")
    assert got.equals(runs[0]) and got.name == "first"
    assert nethub.load(tmp_path / "a.nethub", gids=[1, 2]).gids.tolist() == [1, 2]
    with pytest.raises(OptionError, match="compression"):
        nethub.save(net, tmp_path / "b.h5", compression="zip")
    with pytest.raises(FileNotFoundError):
        nethub.load(tmp_path / "missing.h5")


def test_as_document():
    net, run = small_network(), Results()
    assert as_document(net).network is net
    assert as_document(run).results == [run]
    doc = as_document((net, [run, run]))
    assert doc.network is net and len(doc.results) == 2
    assert as_document(doc) is doc
    with pytest.raises(TypeError, match="cannot save a dict"):
        as_document({"netParams": {}})


def test_writing_json_is_netpyne_whatever_was_loaded_first():
    """SONATA reads ``*.json`` configs but writes a folder, chosen by name only: writing
    ``x.json`` is NetPyNE's JSON even when the SONATA plugin was loaded first (it once
    depended on plugin load order)."""
    reg = FormatRegistry(group=None)
    assert reg.get("sonata").name == "sonata"  # loaded before netpyne-json
    assert reg.guess("x.json", "write").name == "netpyne-json"
    assert reg.guess("out", "write", format="sonata").name == "sonata"
