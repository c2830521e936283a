"""The nethub command line, in process (``main([...])``) and as real processes."""

from __future__ import annotations

import json
import subprocess
import sys
import types
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import pytest

import nethub
from nethub import cli
from nethub.celltypes import CompartmentalCell, PointCell, Population, Section, StimSource, SynMech
from nethub.errors import StoreError
from nethub.network import Network
from nethub.results import Results
from nethub.store import SCHEMA_VERSION, read_network, read_results, write_network

PYTHON = sys.executable
N_E, N_I, N_CONN = 1200, 300, 3000  # above the 1024-row compression threshold


def make_network() -> Network:
    rng = np.random.default_rng(1)
    n = N_E + N_I
    pops = ["E"] * N_E + ["I"] * N_I
    types_ = ["PYR"] * N_E + ["BAS"] * N_I
    soma = Section(geom={"L": 20.0, "diam": 20.0, "nseg": 1}, mechs={"hh": {}})
    return Network(
        cell_types={"PYR": CompartmentalCell("PYR", sections={"soma": soma},
                                             spike_source=("soma", 0.5)),
                    "BAS": PointCell("BAS", model="IntFire1", params={"tau": 10.0})},
        syn_mechs={"AMPA": SynMech("AMPA", "ExpSyn", {"tau": 2.0})},
        populations={"E": Population("E", "PYR", N_E), "I": Population("I", "BAS", N_I)},
        stim_sources={"bg": StimSource("bg", "NetStim", {"rate": 10.0})},
        cells={"gid": np.arange(n), "pop": pops, "cell_type": types_,
               "x": rng.uniform(0, 100, n)},
        connections={"pre_gid": rng.integers(0, n, N_CONN), "post_gid": rng.integers(0, n, N_CONN),
                     "syn_mech": ["AMPA"] * N_CONN, "weight": rng.uniform(0, 1, N_CONN)},
        stim_targets={"source": ["bg"] * 5, "gid": np.arange(5), "syn_mech": ["AMPA"] * 5},
    )


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "model.h5"
    run = Results(spike_times=np.linspace(1, 99, 42), spike_gids=np.arange(42) % 7,
                  sim_config={"duration": 100.0}, name="baseline")
    write_network(make_network(), path, results=[run])
    return path


def run_main(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in argv])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def run_process(*argv: str, module: bool = True) -> subprocess.CompletedProcess:
    cmd = [PYTHON, "-m", "nethub"] if module else [str(Path(PYTHON).parent / "nethub")]
    return subprocess.run(cmd + [str(a) for a in argv], capture_output=True, text=True,
                          timeout=120)


# ----------------------------------------------------------------------------- info
def test_info_text(capsys, store):
    code, out, err = run_main(capsys, "info", store)
    assert code == 0 and err == ""
    assert out.startswith(
        f"{store}: store format (schema {SCHEMA_VERSION}, nethub {nethub.__version__}")
    lines = out.splitlines()
    assert ["E", "PYR", "1,200"] in [ln.split() for ln in lines]
    assert ["I", "BAS", "300"] in [ln.split() for ln in lines]
    assert ["PYR", "compartmental", "snapshot"] in [ln.split() for ln in lines]
    assert (f"cells 1,500, connections {N_CONN:,}, pointer connections 0, stim targets 5 "
            "(1 sources)") in lines
    assert "synaptic mechanisms: AMPA" in lines
    run_line = next(ln for ln in lines if ln.startswith("baseline"))
    assert run_line.split()[1:3] == ["42", "100.0"]


def test_info_json(capsys, store):
    code, out, _ = run_main(capsys, "info", store, "--json")
    assert code == 0
    data = json.loads(out)
    assert data["format"] == "store"
    assert data["file_size"] == store.stat().st_size
    assert data["populations"] == {"E": {"cells": N_E, "cell_type": "PYR"},
                                   "I": {"cells": N_I, "cell_type": "BAS"}}
    assert data["cell_types"] == {"PYR": "compartmental", "BAS": "point"}
    assert (data["n_cells"], data["n_connections"], data["n_pointer_conns"],
            data["n_stim_targets"]) == (N_E + N_I, N_CONN, 0, 5)
    assert [(r["name"], r["n_spikes"], r["duration"]) for r in data["runs"]] == [
        ("baseline", 42, 100.0)]
    assert data == nethub.info(store)


def test_info_without_runs(capsys, tmp_path):
    path = tmp_path / "empty.nh5"
    write_network(Network(), path)
    code, out, _ = run_main(capsys, "info", path)
    assert code == 0 and "runs: none" in out and "populations: none" in out


# ----------------------------------------------------------------------------- validate
@dataclass
class Finding:
    level: str
    path: str
    message: str


@pytest.fixture
def fake_validator(monkeypatch):
    """Stand in for nethub.validate (another module) with canned findings."""
    findings: list[Finding] = []
    module = types.ModuleType("nethub.validate")
    module.validate_store = lambda path: list(findings)
    monkeypatch.setitem(sys.modules, "nethub.validate", module)
    return findings


def test_validate_errors_exit_1(capsys, store, fake_validator):
    fake_validator += [Finding("error", "/network/cells/c0", "gids are not sorted"),
                       Finding("warning", "/model/mod_files", "no .mod files")]
    code, out, err = run_main(capsys, "validate", store)
    assert code == 1 and err == ""
    assert out.splitlines() == [
        "ERROR /network/cells/c0: gids are not sorted",
        "WARNING /model/mod_files: no .mod files",
        f"{store}: 1 error(s), 1 warning(s)",
    ]


def test_validate_warnings_only_exit_0(capsys, store, fake_validator):
    fake_validator.append(Finding("warning", "/results/baseline", "no traces"))
    code, out, _ = run_main(capsys, "validate", store)
    assert code == 0 and out.splitlines()[0] == "WARNING /results/baseline: no traces"


def test_validate_clean_exit_0(capsys, store, fake_validator):
    code, out, _ = run_main(capsys, "validate", store)
    assert (code, out) == (0, f"{store}: valid\n")


def test_validate_with_the_real_validator(capsys, store):
    pytest.importorskip("nethub.validate")
    code, out, _ = run_main(capsys, "validate", store)
    assert code == 0, out


# ----------------------------------------------------------------------------- convert
def _compressions(path: Path) -> set[str | None]:
    """Compression filters of the large datasets (small ones are never compressed)."""
    found = set()
    with h5py.File(path, "r") as f:
        f.visititems(lambda _, obj: found.add(obj.compression)
                     if isinstance(obj, h5py.Dataset) and obj.size >= 1024 else None)
    return found


def test_convert_store_to_store_changes_compression(capsys, store, tmp_path):
    out_path = tmp_path / "portable.nethub"
    code, out, err = run_main(capsys, "convert", store, out_path, "-w", "compression=gzip")
    assert code == 0 and err == ""
    assert out == f"converted {store} -> {out_path}\n"
    assert _compressions(out_path) == {"gzip"}
    assert read_network(out_path).equals(read_network(store))
    assert read_results(out_path, "baseline").equals(read_results(store, "baseline"))


def test_convert_in_place_with_explicit_formats(capsys, store, tmp_path):
    path = tmp_path / "copy.dat"  # a suffix no format claims: --to/--from name the format
    path.write_bytes(store.read_bytes())
    code, _, err = run_main(capsys, "convert", path, path, "--from", "store", "--to", "store",
                            "--write-opt", "compression=none")
    assert code == 0, err
    assert _compressions(path) == {None}
    assert read_network(path).equals(read_network(store))


def test_convert_verbose_logs_to_stderr(capsys, store, tmp_path):
    code, _, err = run_main(capsys, "-v", "convert", store, tmp_path / "b.h5")
    assert code == 0 and "nethub: INFO: converted" in err
    code, _, err = run_main(capsys, "convert", store, tmp_path / "c.h5")
    assert code == 0 and err == ""  # quiet by default


# ----------------------------------------------------------------------------- errors
def assert_one_line_error(err: str, *fragments: str) -> None:
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("nethub: error: ")
    assert "Traceback" not in err
    for frag in fragments:
        assert frag in lines[0]


def test_non_hdf5_file_is_one_line_error(capsys, tmp_path):
    bad = tmp_path / "bad.h5"
    bad.write_text("this is not HDF5\n")
    code, out, err = run_main(capsys, "info", bad)
    assert code == 1 and out == ""
    assert_one_line_error(err, str(bad), "not an HDF5 file")


def test_unknown_suffix_is_one_line_error(capsys, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    code, _, err = run_main(capsys, "info", notes)
    assert code == 1
    assert_one_line_error(err, "notes.txt", ".txt", ".h5")


def test_missing_file(capsys, tmp_path):
    code, _, err = run_main(capsys, "info", tmp_path / "nothere.h5")
    assert code == 1
    assert_one_line_error(err, "nothere.h5: No such file or directory")


def test_usage_errors_exit_2(capsys, store, tmp_path):
    code, _, err = run_main(capsys)
    assert code == 2 and "required" in err
    code, _, err = run_main(capsys, "info", store, "--format", "nope")
    assert code == 2
    assert_one_line_error(err, "unknown format 'nope'", "valid: csv,")
    code, _, err = run_main(capsys, "convert", store, tmp_path / "x.h5", "-w", "compression=zip")
    assert code == 2
    assert_one_line_error(err, "unknown compression 'zip'")
    code, _, err = run_main(capsys, "convert", store, tmp_path / "x.h5", "-w", "nokey")
    assert code == 2 and "expected KEY=VALUE" in err
    code, _, _ = run_main(capsys, "frobnicate")
    assert code == 2


def test_debug_reraises(tmp_path):
    bad = tmp_path / "bad.h5"
    bad.write_text("this is not HDF5\n")
    with pytest.raises(StoreError, match="not an HDF5 file"):
        cli.main(["info", str(bad), "--debug"])  # --debug after the subcommand works too


def test_version_in_process(capsys):
    code, out, _ = run_main(capsys, "--version")
    assert (code, out) == (0, f"nethub {nethub.__version__}\n")


# ----------------------------------------------------------------------------- subcommands
def test_added_subcommand(capsys, monkeypatch):
    def add(p):
        p.add_argument("who")

    def hello(args):
        cli.out(f"hello {args.who}")
        return 3

    monkeypatch.setitem(cli.SUBCOMMANDS, "hello", cli.Subcommand("say hello", add, hello))
    assert run_main(capsys, "hello", "world")[:2] == (3, "hello world\n")


def test_lazy_subcommands_import_only_the_chosen_one(capsys, monkeypatch, tmp_path, store):
    (tmp_path / "nethub_test_cli_plugin.py").write_text(
        "def add(p):\n    p.add_argument('--n', type=int)\n"
        "def run(args):\n    return args.n\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "nethub_test_cli_plugin", raising=False)
    monkeypatch.setitem(cli.SUBCOMMANDS, "lazy", cli.Subcommand(
        "lazy one", "nethub_test_cli_plugin:add", "nethub_test_cli_plugin:run"))
    monkeypatch.setitem(cli.SUBCOMMANDS, "ghost", cli.Subcommand(
        "its module does not exist", "nethub_no_such_cli_module:add", "nethub_no_such:run"))
    assert run_main(capsys, "info", store)[0] == 0
    assert "nethub_test_cli_plugin" not in sys.modules
    assert run_main(capsys, "lazy", "--n", "4")[0] == 4
    code, out, _ = run_main(capsys, "--help")
    assert code == 0 and "ghost" in out and "lazy one" in out


# ----------------------------------------------------------------------------- real processes
def test_python_m_nethub_version():
    proc = run_process("--version")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"nethub {nethub.__version__}\n"


def test_console_script_reads_compressed_store(store):
    script = Path(PYTHON).parent / "nethub"
    assert script.exists(), "console script missing: pip install -e . in the venv"
    proc = run_process("info", store, "--json", module=False)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["n_connections"] == N_CONN
    assert proc.stderr == ""


def test_process_error_is_one_line_and_debug_shows_traceback(tmp_path):
    bad = tmp_path / "bad.h5"
    bad.write_text("this is not HDF5\n")
    proc = run_process("info", bad)
    assert proc.returncode == 1
    assert_one_line_error(proc.stderr, "not an HDF5 file")
    proc = run_process("--debug", "info", bad)
    assert proc.returncode == 1
    assert "Traceback (most recent call last)" in proc.stderr
    assert "StoreError" in proc.stderr


def test_cli_imports_no_simulator_or_plotting(store):
    code = (
        "import sys\nfrom nethub import cli\n"
        f"assert cli.main(['info', {str(store)!r}]) == 0\n"
        "heavy = [m for m in ('neuron', 'mpi4py', 'matplotlib') if m in sys.modules]\n"
        "sys.stderr.write(repr(heavy))\n"
    )
    proc = subprocess.run([PYTHON, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == "[]"
