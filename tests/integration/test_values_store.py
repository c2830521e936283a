"""Issue 10 items 5, 6, 8: stores and containers with bad values, forged offsets, escapes.

Real h5py files, real CSV folders/zips, real pickles; no NEURON.
"""

from __future__ import annotations

import json
import pickle
import time
import zipfile

import h5py
import numpy as np
import pytest

import nethub
from nethub.errors import FormatError, StoreError
from nethub.limits import ResourceLimitError
from nethub.runcheck import check_store_for_run, run_dt
from nethub.store import read_network, write_network
from nethub.validate import validate_store

CELL = {"secs": {"soma": {"geom": {"L": 18.8, "diam": 18.8}, "mechs": {"hh": {}}}}}
NET = {"cellParams": {"P": CELL},
       "popParams": {"E": {"cellType": "P", "numCells": 8}},
       "synMechParams": {"exc": {"mod": "Exp2Syn", "tau1": 0.1, "tau2": 5, "e": 0}},
       "connParams": {"E->E": {"preConds": {"pop": "E"}, "postConds": {"pop": "E"},
                               "synMech": "exc", "probability": 0.5, "weight": 0.01,
                               "delay": 2.0}}}


@pytest.fixture(scope="module")
def net():
    return nethub.build(NET, {"duration": 20})


def store_with(tmp_path, net, name="s.h5", **columns):
    conns = net.connections
    for key, fn in columns.items():
        col = np.array(conns[key], copy=True)
        fn(col)
        conns = conns.take(np.arange(len(conns)))
        conns[key] = col
    return write_network(net.replace(connections=conns), tmp_path / name)


def errors(path, **kw):
    return [f for f in validate_store(path, **kw) if f.level == "error"]


def test_valid_store_passes(tmp_path, net):
    path = write_network(net, tmp_path / "ok.h5")
    assert errors(path) == []
    check_store_for_run(path, run_dt(path))


@pytest.mark.parametrize(("column", "edit", "fragment"), [
    ("weight", lambda c: c.__setitem__(0, np.inf), "not finite"),
    ("weight", lambda c: c.__setitem__(1, np.nan), "not finite"),
    ("delay", lambda c: c.__setitem__(0, -1.0), "not finite and >= 0"),
    ("delay", lambda c: c.__setitem__(2, np.nan), "not finite and >= 0"),
    ("post_loc", lambda c: c.__setitem__(0, 7.5), "in [0, 1]"),
])
def test_validate_checks_values_and_run_refuses(tmp_path, net, column, edit, fragment):
    """Issue: `validate` checks structure but not values; `run` simulates such stores."""
    path = store_with(tmp_path, net, **{column: edit})
    found = errors(path)
    assert len(found) == 1 and fragment in found[0].message
    assert found[0].path.startswith("/network/connections/c")
    assert "from rule(s) 'E->E'" in found[0].message
    with pytest.raises(StoreError, match="not simulated, the store has 1 error") as info:
        check_store_for_run(path, 0.025)
    assert "--unchecked" in str(info.value) and fragment in str(info.value)


def test_unknown_and_duplicate_gids(tmp_path, net):
    """Issue: connections from unknown gids are silently dropped, a duplicated gid loses a
    cell; the validator finds both and run refuses."""
    path = store_with(tmp_path, net, pre_gid=lambda c: c.__setitem__(0, 999))
    assert any("pre_gid value(s) not in the cells table: 999" in f.message
               for f in errors(path))
    dup = write_network(net, tmp_path / "dup.h5")  # the writer refuses duplicates: forge one
    with h5py.File(dup, "r+") as f:
        names = [m["name"] for m in json.loads(f["network/cells"].attrs["columns"])]
        ds = f[f"network/cells/c{names.index('gid')}"]
        gids = ds[()]
        gids[1] = gids[0]
        ds[...] = gids
    assert any("duplicate gid" in f.message for f in errors(dup))
    with pytest.raises(StoreError, match="duplicate gid"):
        check_store_for_run(dup)


def test_delays_below_dt_refused_for_runs(tmp_path, net):
    path = store_with(tmp_path, net, delay=lambda c: c.__setitem__(slice(None), 0.01))
    assert errors(path) == []  # a valid store ...
    with pytest.raises(StoreError, match=r"delay\(s\) below dt = 0.025 ms"):
        check_store_for_run(path, 0.025)  # ... that NEURON cannot run under MPI
    check_store_for_run(path, 0.005)


def test_forged_csr_offsets_are_refused_before_allocating(tmp_path, net):
    """Issue: CSR offsets of 2**40 try to allocate 8 TiB."""
    path = write_network(net, tmp_path / "forged.h5")
    with h5py.File(path, "r+") as f:
        off = f["network/connections/post_offsets"]
        data = off[()]
        data[-1] = 2**40
        off[...] = data
    t0 = time.perf_counter()
    with pytest.raises(StoreError, match="post_offsets: offsets must rise from 0"):
        read_network(path)
    with pytest.raises(StoreError):
        read_network(path, gids=[int(net.cells["gid"][-1])])
    assert time.perf_counter() - t0 < 5
    assert any("post_offsets" in f.path for f in errors(path))


def test_forged_row_count_is_refused(tmp_path, net):
    path = write_network(net, tmp_path / "rows.h5")
    with h5py.File(path, "r+") as f:
        f["network/cells"].attrs["n_rows"] = 2**40
    with pytest.raises(StoreError, match="'n_rows' says 1099511627776"):
        read_network(path)


# ------------------------------------------------------------------ CSV containers
@pytest.mark.parametrize("zipped", [False, True])
@pytest.mark.parametrize("name", ["/etc/passwd", "../../x.csv", "sub/../../x.csv", "C:x.csv"])
def test_csv_container_reads_only_its_own_files(tmp_path, net, zipped, name):
    """Issue: a CSV container's model.json may name files outside its folder."""
    outside = tmp_path / "x.csv"
    outside.write_text("secret\n")
    box = tmp_path / "a" / "b" / "model"
    nethub.save(net, box, format="csv")
    head = json.loads((box / "model.json").read_text())
    head["tables"]["cells"]["file"] = name
    (box / "model.json").write_text(json.dumps(head))
    target = box
    if zipped:
        target = tmp_path / "model.csv.zip"
        with zipfile.ZipFile(target, "w") as zf:
            for p in box.iterdir():
                zf.write(p, p.name)
    with pytest.raises(FormatError, match="not inside the container"):
        nethub.load(target, format="csv")


def test_csv_folder_refuses_links_out(tmp_path, net):
    box = tmp_path / "model"
    nethub.save(net, box, format="csv")
    (tmp_path / "evil.csv").write_bytes((box / "cells.csv").read_bytes())
    (box / "cells.csv").unlink()
    (box / "cells.csv").symlink_to(tmp_path / "evil.csv")
    with pytest.raises(FormatError, match="outside the container"):
        nethub.load(box, format="csv")


# ------------------------------------------------------------------ pickles and JSON
def test_pickle_shared_reference_blowup_is_bounded(tmp_path):
    """Issue: --trust-pickle on a small pickle with 2**30 list references grows without
    bound."""
    a: list = [0]
    for _ in range(30):
        a = [a, a]
    path = tmp_path / "bomb.pkl"
    with open(path, "wb") as fh:
        pickle.dump({"net": {"cells": a}, "simData": {}}, fh, protocol=4)
    assert path.stat().st_size < 1000
    t0 = time.perf_counter()
    with pytest.raises(ResourceLimitError, match="expands to more than"):
        nethub.load(path, format="netpyne-pickle", trusted=True)
    assert time.perf_counter() - t0 < 5


def test_deep_netpyne_json_is_a_clear_error(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text('{"net": ' + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(ResourceLimitError, match="nested deeper"):
        nethub.load(path, format="netpyne-json")


def test_cli_build_refuses_huge_model_in_one_line(tmp_path):
    import subprocess
    import sys

    spec = tmp_path / "big.json"
    spec.write_text(json.dumps({"netParams": {
        "cellParams": {"P": CELL}, "popParams": {"E": {"cellType": "P", "numCells": 1e9}}}}))
    env = {k: v for k, v in __import__("os").environ.items() if k != "NETHUB_MAX_MEMORY"}
    proc = subprocess.run([sys.executable, "-m", "nethub", "build", str(spec), "-o",
                           str(tmp_path / "big.h5")], capture_output=True, text=True, env=env,
                          timeout=120, check=False)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "numCells']: 1,000,000,000 cells" in proc.stderr and "--max-memory" in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "nethub", "build", str(spec), "-o",
                           str(tmp_path / "big.h5"), "--max-memory", "lots"],
                          capture_output=True, text=True, env=env, timeout=120, check=False)
    assert proc.returncode != 0 and "--max-memory" in proc.stderr and "lots" in proc.stderr
