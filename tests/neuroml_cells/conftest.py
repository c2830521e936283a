"""jNeuroML's own NEURON run of the detailed-cell fixtures, as the reference (test-only).

``pynml LEMS -neuron -run -nogui`` runs at most once per model in a temporary copy of
``fixtures/neuroml`` (its ``cells/`` and ``NeuroML2/`` folders); then ``_dump_hoc.py``
instantiates jNeuroML's HOC cell templates there and dumps their sections as NEURON holds them.
The OutputFiles (``.npz``), the dump and the point processes jNeuroML's script places
(``new <mech>(<x>)`` on ``a_<pop>[<i>].<section>``) are cached by the fixtures' content hash in
``$NETHUB_CACHE`` / ``~/.cache/nethub``, so later sessions start no Java.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nethub.formats.neuroml import read_lems
from nethub.formats.neuroml.mechanisms import default_cache_dir

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "neuroml"
DUMP = Path(__file__).with_name("_dump_hoc.py")
#: case -> (LEMS file relative to fixtures/neuroml, detailed cells in it)
CASES = {
    "multiseg": ("cells/LEMS_MultiSeg.xml", ["MultiSeg"]),
    "pyr": ("NeuroML2/LEMSexamples/morphologies/LEMS_pyrfull_in.xml", ["pyr_4_sym"]),
    "hh": ("NeuroML2/LEMSexamples/LEMS_NML2_Ex5_DetCell.xml", ["hhcell"]),
    "capool": ("NeuroML2/LEMSexamples/LEMS_NML2_Ex15_CaDynamics.xml", ["Granule_98"]),
    "ghk": ("NeuroML2/LEMSexamples/LEMS_NML2_Ex18_GHK.xml", ["na_k_ca"]),
    "twoca": ("cells/LEMS_TwoCa.xml", ["TwoCa"]),  # cell2CaPools (test_two_ca_pools.py)
}
#: cases with a test module of their own (not in the tests parametrized over CASES)
OWN_CASES = {"axon": ("cells/LEMS_AxonNet.xml", ["MultiSeg"])}  # test_spike_points.py
_PLACED = re.compile(r'a_(\w+)\[(\d+)\]\.(\w+) \{? ?\w+(?:\[\d+\])? = new (\w+)\(([-+.\deE]+)\)')


def _key(case: str) -> str:
    h = hashlib.sha256(case.encode() + DUMP.read_bytes())
    for sub in ("cells", "NeuroML2"):
        for f in sorted((FIX / sub).rglob("*")):
            if f.is_file():
                h.update(f.relative_to(FIX).as_posix().encode() + f.read_bytes())
    return h.hexdigest()[:24]


def _run_jnml(case: str, folder: Path) -> dict:
    rel, cells = {**CASES, **OWN_CASES}[case]
    for sub in ("cells", "NeuroML2"):
        shutil.copytree(FIX / sub, folder / sub)
    lems = folder / rel
    sim = read_lems(lems).simulation
    for of in sim.output_files:  # jNeuroML's script does not create output folders
        (lems.parent / of.file_name).parent.mkdir(parents=True, exist_ok=True)
    nrnivmodl = shutil.which("nrnivmodl")
    assert nrnivmodl, "nrnivmodl must be on PATH (source scripts/env.sh)"
    env = {**os.environ, "NEURON_HOME": str(Path(nrnivmodl).parent.parent)}
    pynml = Path(sys.executable).parent / "pynml"
    proc = subprocess.run([str(pynml), lems.name, "-neuron", "-run", "-nogui"],
                          cwd=lems.parent, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    dump = lems.parent / "dump.json"
    proc = subprocess.run([sys.executable, str(DUMP), str(dump), *cells], cwd=lems.parent,
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    script = (lems.parent / f"{lems.stem}_nrn.py").read_text()
    placed = sorted({(m[0], int(m[1]), m[2], m[3], float(m[4]))
                     for m in _PLACED.findall(script)})
    outputs = {of.file_name: np.loadtxt(lems.parent / of.file_name)
               for of in sim.output_files}
    return {"cells": json.loads(dump.read_text()), "placed": placed, "outputs": outputs}


def jnml_reference(case: str, tmp_path_factory) -> dict:
    """``{"cells": dump, "placed": [(pop, i, section, mech, x)], "outputs": {file: array}}``
    of jNeuroML's NEURON run of ``CASES[case]`` (cached)."""
    cache = default_cache_dir() / f"jnml-cells-{case}-{_key(case)}"
    if not (cache / "done").exists():
        ref = _run_jnml(case, tmp_path_factory.mktemp(f"jnml-{case}"))
        tmp = cache.with_name(cache.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        (tmp / "cells.json").write_text(json.dumps(ref["cells"]))
        (tmp / "placed.json").write_text(json.dumps(ref["placed"]))
        np.savez_compressed(tmp / "outputs.npz", **{f"o{i}": a for i, a in
                                                      enumerate(ref["outputs"].values())})
        (tmp / "names.json").write_text(json.dumps(list(ref["outputs"])))
        (tmp / "done").write_text("")
        shutil.rmtree(cache, ignore_errors=True)
        os.replace(tmp, cache)
    names = json.loads((cache / "names.json").read_text())
    with np.load(cache / "outputs.npz") as npz:
        outputs = {n: npz[f"o{i}"] for i, n in enumerate(names)}
    return {"cells": json.loads((cache / "cells.json").read_text()),
            "placed": [tuple(p) for p in json.loads((cache / "placed.json").read_text())],
            "outputs": outputs}


@pytest.fixture(scope="session")
def jnml_ref(tmp_path_factory):
    """``jnml_ref(case)``: jNeuroML's reference for a case, computed once per session."""
    memo: dict[str, dict] = {}

    def get(case: str) -> dict:
        if case not in memo:
            memo[case] = jnml_reference(case, tmp_path_factory)
        return memo[case]
    return get
