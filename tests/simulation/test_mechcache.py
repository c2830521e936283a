"""The compiled-mechanism cache as a converter uses it: compiled_library() in processes that
never import NEURON (two at once: one build), the library loaded with nrn_load_dll in a child
process that instantiates the mechanisms; the second call is a cache hit; a failing build
reports its first error and leaves nothing half-built in the cache (nor what a killed build
left)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from nethub.errors import SimulationError
from nethub.nmodl.compile import cache_dir, cache_key, compiled_library

pytestmark = pytest.mark.neuron

MODS = {
    "nhcachesyn.mod": """
NEURON { POINT_PROCESS NhCacheSyn RANGE tau, e, i NONSPECIFIC_CURRENT i }
PARAMETER { tau = 3 (ms) e = 0 (mV) }
ASSIGNED { v (mV) i (nA) }
STATE { g (uS) }
INITIAL { g = 0 }
BREAKPOINT { SOLVE states METHOD cnexp  i = g*(v - e) }
DERIVATIVE states { g' = -g/tau }
NET_RECEIVE(weight (uS)) { g = g + weight }
""",
    "nhcacheleak.mod": """
NEURON { SUFFIX nhcacheleak NONSPECIFIC_CURRENT i RANGE g, e }
PARAMETER { g = 0.0002 (S/cm2) e = -70 (mV) }
ASSIGNED { v (mV) i (mA/cm2) }
BREAKPOINT { i = g*(v - e) }
""",
}

#: a converter's process: compiles through the cache, never imports NEURON
COMPILE = """
import json, sys, time
from nethub.nmodl.compile import compiled_library
mods = json.loads(sys.stdin.read())
t = time.perf_counter()
lib = compiled_library(mods, trusted=False)
assert not any(m.split(".")[0] == "neuron" for m in sys.modules)
print(json.dumps({"lib": str(lib), "seconds": time.perf_counter() - t}))
"""

#: a child process that loads the library and uses both mechanisms
LOAD = """
import sys
from neuron import h
h.nrn_load_dll(sys.argv[1])
soma = h.Section(name="soma")
soma.insert("nhcacheleak")
syn = h.NhCacheSyn(soma(0.5))
print(syn.tau, soma(0.5).nhcacheleak.g)
"""


def _compile_in_subprocesses(n: int, env: dict) -> list[dict]:
    procs = [subprocess.Popen([sys.executable, "-c", COMPILE], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for _ in range(n)]
    for p in procs:
        p.stdin.write(json.dumps(MODS))
        p.stdin.close()
    out = []
    for p in procs:
        p.wait(timeout=600)
        assert p.returncode == 0, p.stderr.read()
        out.append(json.loads(p.stdout.read()))
    return out


def test_cache_compiles_once_and_loads_in_a_child(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NETHUB_CACHE", str(tmp_path / "cache"))
    env = {**os.environ, "NETHUB_CACHE": str(tmp_path / "cache")}
    first = _compile_in_subprocesses(2, env)  # two at once: one builds, the other waits
    assert first[0]["lib"] == first[1]["lib"]
    key = cache_key(MODS)
    entries = sorted(p.name for p in cache_dir().iterdir())
    assert entries == [f".{key}.lock", key]  # one build, no temporary folder left
    loaded = subprocess.run([sys.executable, "-c", LOAD, first[0]["lib"]], capture_output=True,
                            text=True, check=False, env=env, timeout=300)
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.split()[-2:] == ["3.0", "0.0002"]
    t = time.perf_counter()
    again = compiled_library(MODS, trusted=False)
    hit = time.perf_counter() - t
    assert str(again) == first[0]["lib"]
    assert hit < 0.5
    with capsys.disabled():
        print(f"\ncompiled_library: first call {max(r['seconds'] for r in first):.2f} s "
              f"(two processes at once), cache hit {hit * 1000:.1f} ms")


def test_failed_build_reports_and_leaves_no_entry(tmp_path, monkeypatch):
    monkeypatch.setenv("NETHUB_CACHE", str(tmp_path / "cache"))
    broken = {"nhbroken.mod": "NEURON { SUFFIX nhbroken }\nBREAKPOINT { x = = 1 }\n"}
    key = cache_key(broken)
    (cache_dir() / f".{key}.killed").mkdir(parents=True)  # a build killed before its rename
    with pytest.raises(SimulationError, match=r"nrnivmodl failed: nhbroken\.mod line \d+") as err:
        compiled_library(broken, trusted=False)
    assert f"{key}.log" in str(err.value)
    assert sorted(p.name for p in cache_dir().iterdir()) == [f".{key}.lock", f"{key}.log"]
