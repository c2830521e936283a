"""``nethub run netParams.py --cfg cfg.py`` builds with cfg.py's seeds and values, as NetPyNE's
``createSimulateAnalyze(netParams, simConfig)`` does, also when netParams.py does not import
the cfg (found while writing fixtures/netpyne_like: cells were placed with the default seeds)."""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import nethub

NET = textwrap.dedent("""
    from netpyne import specs
    netParams = specs.NetParams()
    netParams.sizeX = 200
    netParams.cellParams['HH'] = {'secs': {'soma': {
        'geom': {'diam': 18.8, 'L': 18.8, 'Ra': 123.0},
        'mechs': {'hh': {'gnabar': 0.12, 'gkbar': 0.036, 'gl': 0.003, 'el': -70}}}}}
    netParams.popParams['E'] = {'cellType': 'HH', 'numCells': 20}
    netParams.synMechParams['exc'] = {'mod': 'Exp2Syn', 'tau1': 0.1, 'tau2': 5.0, 'e': 0}
    netParams.connParams['E->E'] = {'preConds': {'pop': 'E'}, 'postConds': {'pop': 'E'},
                                    'probability': 0.3, 'weight': 'uniform(0.001, 0.01)',
                                    'delay': 5, 'synMech': 'exc'}
""")
CFG = textwrap.dedent("""
    from netpyne import specs
    cfg = specs.SimConfig()
    cfg.duration = 5
    cfg.seeds = {'conn': 11, 'stim': 12, 'loc': 13}
""")


def _run(*args, cwd):
    proc = subprocess.run([sys.executable, "-m", "nethub", "run", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc


@pytest.mark.neuron
def test_cfg_file_seeds_used_for_the_build(tmp_path):
    (tmp_path / "netParams.py").write_text(NET)
    (tmp_path / "cfg.py").write_text(CFG)
    _run("netParams.py", "--cfg", "cfg.py", "-o", "run.h5", cwd=tmp_path)
    ran = nethub.load(tmp_path / "run.h5")
    want = nethub.build(*nethub.load_spec(tmp_path / "netParams.py", tmp_path / "cfg.py"))
    default = nethub.build(*nethub.load_spec(tmp_path / "netParams.py"))
    assert np.array_equal(ran.cells_df()[["x", "y", "z"]], want.cells_df()[["x", "y", "z"]])
    assert not np.array_equal(ran.cells_df()["x"], default.cells_df()["x"])
    assert ran.connections_df()["weight"].tolist() == want.connections_df()["weight"].tolist()


@pytest.mark.neuron
def test_json_overrides_change_only_their_keys(tmp_path):
    (tmp_path / "netParams.py").write_text(NET + "\n" + CFG)  # a model file with its own cfg
    (tmp_path / "over.json").write_text(json.dumps({"duration": 3}))
    _run("netParams.py", "--cfg", "over.json", "-o", "run.h5", cwd=tmp_path)
    ran = nethub.load(tmp_path / "run.h5")
    want = nethub.build(*nethub.load_spec(tmp_path / "netParams.py"))
    assert np.array_equal(ran.cells_df()["x"], want.cells_df()["x"])  # the file's seeds kept
    assert nethub.load_results(tmp_path / "run.h5").duration == 3
