"""No tracebacks for users: every error is one line ``nethub: error: ...``; ``--debug`` shows
the traceback; ``--np`` is at least 1."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from nethub import cli
from nethub.celltypes import PointCell, Population
from nethub.network import Network
from nethub.sim.agree import RankError
from nethub.store import write_network

PYTHON = sys.executable


@pytest.fixture
def store(tmp_path):
    path = tmp_path / "model.h5"
    write_network(Network(cell_types={"A": PointCell("A", model="IntFire1")},
                          populations={"P": Population("P", "A", 2)},
                          cells={"gid": [0, 1], "pop": ["P"] * 2, "cell_type": ["A"] * 2}),
                  path)
    return path


@pytest.mark.parametrize("np_", ["0", "-2", "two"])
def test_np_must_be_at_least_one(capsys, store, np_):
    assert cli.main(["run", str(store), "--np", np_]) == 2
    err = capsys.readouterr().err
    assert "argument --np:" in err and ("at least 1" in err or "whole number" in err)


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "soon"])
def test_timeout_must_be_positive(capsys, store, value):
    assert cli.main(["run", str(store), "--timeout", value]) == 2
    assert "argument --timeout:" in capsys.readouterr().err


def _raising(exc: BaseException):
    def handler(args):
        raise exc

    return handler


@pytest.mark.parametrize("exc, line, code", [
    (MemoryError(), "MemoryError: MemoryError (not enough memory for this model or file)", 1),
    (RecursionError("maximum recursion depth exceeded"),
     "RecursionError: maximum recursion depth exceeded (the input is nested too deeply)", 1),
    (OverflowError("(34, 'Numerical result out of range')"),
     "OverflowError: (34, 'Numerical result out of range') (a number is too large)", 1),
    (RuntimeError("hocobj_call error: hoc_execerror: x is not a section"),
     "NEURON (hoc) error: x is not a section (NEURON's message is above)", 1),
    (json.JSONDecodeError("Expecting value", "{", 1),
     "not valid JSON: Expecting value: line 1 column 2 (char 1)", 1),
    (PermissionError(13, "Permission denied", "/x/model.h5"), "/x/model.h5: Permission denied",
     1),
    (KeyError("gid"), "KeyError: 'gid'", 1),
    (KeyboardInterrupt(), "interrupted", 130),
])
def test_every_error_is_one_line(capsys, monkeypatch, exc, line, code):
    monkeypatch.setitem(cli.SUBCOMMANDS, "boom", cli.Subcommand("fails", lambda p: None,
                                                                _raising(exc)))
    assert cli.main(["boom"]) == code
    cap = capsys.readouterr()
    assert cap.err == f"nethub: error: {line}\n" and cap.out == ""
    with pytest.raises(type(exc)):
        cli.main(["boom", "--debug"])


def test_other_ranks_stay_quiet(capsys, monkeypatch):
    for quiet in (False, True):  # rank 0, another rank
        err = RankError("rank 1 failed in read: bad.h5: cannot read /network/cells", 1, "read",
                        quiet)
        monkeypatch.setitem(cli.SUBCOMMANDS, "boom", cli.Subcommand("fails", lambda p: None,
                                                                    _raising(err)))
        assert cli.main(["boom"]) == 1
        assert capsys.readouterr().err == ("" if quiet else f"nethub: error: {err}\n")


def test_bad_json_cfg_names_the_file(tmp_path, store):
    cfg = tmp_path / "cfg.json"
    cfg.write_text('{"duration": 10,}')
    proc = subprocess.run([PYTHON, "-m", "nethub", "run", str(store), "--cfg", str(cfg)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 1
    assert proc.stderr.startswith(f"nethub: error: {cfg}: not a readable JSON spec (Expecting "
                                  "property")
    assert len(proc.stderr.splitlines()) == 1


def test_deeply_nested_json_is_one_line_and_debug_shows_traceback(tmp_path, store):
    cfg = tmp_path / "deep.json"
    cfg.write_text("[" * 200_000 + "]" * 200_000)
    cmd = [PYTHON, "-m", "nethub", "run", str(store), "--cfg", str(cfg)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert proc.returncode == 1
    assert proc.stderr == f"nethub: error: {cfg}: JSON nested deeper than Python can read\n"
    assert "Traceback" not in proc.stderr
    proc = subprocess.run([*cmd, "--debug"], capture_output=True, text=True, check=False)
    assert proc.returncode == 1 and "Traceback" in proc.stderr
