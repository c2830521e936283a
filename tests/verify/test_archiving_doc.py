"""docs/archiving.md against the code: every ``nethub`` command the page shows parses with the
real command line, and the page's workflow (run, verify, manifest, verify --manifest, NWB,
SONATA and gzip copies) runs on a small store with the results the page says."""

from __future__ import annotations

import inspect
import re
import shlex
from pathlib import Path

import pytest

import nethub
import nethub.manifest
from nethub.cli import build_parser, main

pytestmark = pytest.mark.neuron

DOC = Path(__file__).resolve().parents[2] / "docs" / "archiving.md"


def _doc_commands() -> list[list[str]]:
    """The ``nethub ...`` commands of the page: console lines and inline code."""
    text = DOC.read_text()
    found = re.findall(r"^\$ (nethub [^#\n]*)", text, flags=re.M)
    found += re.findall(r"`(nethub [a-z]+ [^`]*)`", text)
    return [shlex.split(c)[1:] for c in found]


def test_every_command_of_the_page_parses():
    commands = _doc_commands()
    assert {c[0] for c in commands} >= {"run", "verify", "manifest", "convert", "validate"}
    for argv in commands:
        build_parser(argv).parse_args(argv)  # SystemExit(2) on an unknown option


def test_every_verify_option_of_the_page_exists():
    text = DOC.read_text()
    section = text[text.index("Options: `--run NAME`"):text.index("## What verify does")]
    options = set(re.findall(r"`(--[a-z-]+)", section))
    parser = build_parser(["verify", "x.h5"])
    verify = parser._subparsers._group_actions[0].choices["verify"]
    known = {o for a in verify._actions for o in a.option_strings}
    assert options and options <= known, options - known


def test_python_api_of_the_page():
    assert list(inspect.signature(nethub.write_manifest).parameters) == [
        "store", "output", "author", "note"]
    assert list(inspect.signature(nethub.manifest.make_manifest).parameters) == [
        "store", "author", "note"]
    params = inspect.signature(nethub.verify).parameters
    assert {"run", "nprocs", "manifest", "atol", "rtol", "trusted", "shared_cache", "timeout",
            "simulate"} <= set(params)


def test_the_workflow_of_the_page(archive, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(archive.parent)
    store = archive.name
    assert main(["manifest", store, "--author", "A. Author", "--note", "doi:10.1234/paper"]) == 0
    manifest = f"{store}.manifest.json"
    assert (f"wrote {manifest}; check it with: nethub verify {store} --manifest {manifest}"
            in capsys.readouterr().out)
    assert main(["verify", store, "--manifest", manifest]) == 0
    text = capsys.readouterr().out
    assert "OK: results reproduced, store unaltered" in text
    assert re.search(r"spikes +identical +[\d,]+ spikes, bit for bit", text)
    assert re.search(r"traces +identical +[\d,]+ values, bit for bit", text)
    assert "manifest " + manifest + ":\n  matches" in text
    assert nethub.manifest.check_manifest(manifest, store) == []
    assert main(["validate", store]) == 0
    assert main(["convert", store, "results.nwb"]) == 0
    assert len(nethub.load_results("results.nwb").spike_times) > 0
    assert main(["convert", store, "sonata/", "--to", "sonata", "-w", "runs=latest"]) == 0
    assert (Path("sonata") / "simulation_config.json").is_file()
    assert main(["convert", store, "shared.h5", "-w", "compression=gzip"]) == 0
    capsys.readouterr()
    assert main(["verify", "shared.h5", "--no-sim", "--manifest", manifest]) == 0
    assert "manifest " + manifest + ":\n  matches" in capsys.readouterr().out
