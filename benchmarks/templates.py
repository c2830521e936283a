"""Template benchmark (issue 14 item 6): instantiating N cells of an imported detailed template,
side by side in one run: nethub's snapshot mode, nethub's template mode, and NetPyNE 1.1's
``importCellParams`` + ``createCells`` path.

The cell: BMTK's ``Biophys1.hoc`` (found in the installed bmtk package) built by a Python
function from a generated SWC (a deterministic random tree: soma + ``--branches`` dendritic
sections of 6 points each, 3-D) with a parameter JSON applied as BMTK's perisomatic setter
does (``pas`` everywhere, ``hh`` in soma and axon, nseg by the 40 um rule).

Each side runs in a fresh subprocess (this script with ``--worker``), one after the other:

* ``snapshot``: ``read_cell_template`` (timed: two child processes and the run-mode
  comparison), then N cells made by the simulator's own code
  (``Engine._compartmental``, as ``nethub run`` does), positions along x;
* ``template``: the same import, then N cells made by instantiating the template
  (``nethub.sim.templatecells``);
* ``netpyne``: ``netParams.importCellParams`` (timed), then NetPyNE's ``sim.initialize``,
  ``createPops``, ``createCells`` for N cells.

Times are wall-clock and CPU (``time.process_time``) of the creation alone; memory is the
worker's peak RSS. The cells are built, not simulated.

Run::

    .venv/bin/python benchmarks/templates.py                # 10,000 cells each
    .venv/bin/python benchmarks/templates.py --cells 1000   # reduced size on a busy machine
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

CELL_FUNCTION = '''
import json
from neuron import h

h.load_file("stdrun.hoc")
h.load_file("import3d.hoc")


def biophys_cell(template, swc, params):
    h.load_file(template)
    cell = h.Biophys1(swc)
    with open(params) as f:
        p = json.load(f)
    for sec in cell.all:
        sec.Ra = p["ra"]
        sec.insert("pas")
        sec.e_pas, sec.g_pas = p["e_pas"], p["g_pas"]
        sec.nseg = 1 + 2 * int(sec.L / 40)
    for sec in list(cell.somatic) + list(cell.axonal):
        sec.insert("hh")
    return cell
'''


def _swc(branches: int, seed: int = 1) -> str:
    """A random 3-D tree: soma (type 1), an axon (type 2) and ``branches`` dendrites of 6
    points each attached to the soma or to earlier dendrite tips."""
    rng = np.random.default_rng(seed)
    lines = ["1 1 0 0 0 8 -1", "2 2 0 -8 0 1 1", "3 2 0 -80 0 0.8 2"]
    tips, n = [1], 3
    tips_pos: dict[int, list] = {1: [0.0, 0.0, 0.0]}
    for b in range(branches):
        parent = tips[int(rng.integers(len(tips)))]
        direction = rng.normal(size=3)
        direction /= np.linalg.norm(direction)
        pos = np.array(tips_pos[parent])
        for _ in range(6):
            pos = pos + direction * 15 + rng.normal(scale=3, size=3)
            n += 1
            lines.append(f"{n} 3 {pos[0]:.3f} {pos[1]:.3f} {pos[2]:.3f} "
                         f"{max(0.4, 2.0 - 0.01 * b):.3f} {parent}")
            parent = n
        tips.append(n)
        tips_pos[n] = pos.tolist()
    return "\n".join(lines) + "\n"


def _inputs(folder: Path, branches: int) -> tuple[Path, list[str]]:
    spec = importlib.util.find_spec("bmtk")
    assert spec is not None and spec.origin is not None, "needs bmtk (test extra)"
    template = Path(spec.origin).parent / "simulator/bionet/default_templates/Biophys1.hoc"
    swc = folder / "cell.swc"
    swc.write_text(_swc(branches))
    params = folder / "params.json"
    params.write_text(json.dumps({"ra": 138.0, "e_pas": -70.0, "g_pas": 5e-5}))
    module = folder / "biophys.py"
    module.write_text(CELL_FUNCTION)
    return module, [str(template), str(swc), str(params)]


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _nethub(side: str, module: Path, args: list[str], n: int) -> dict:
    from nethub.converters.hoc import read_cell_template
    from nethub.network import Network
    from nethub.runconfig import RunConfig

    t0 = time.perf_counter()
    imp = read_cell_template(module, "biophys_cell", trusted=True, args=args, mode="auto")
    t_import = time.perf_counter() - t0
    from neuron import h

    from nethub.sim.engine import Engine

    ct = imp.cell_type
    auto = ct.run_mode
    ct.run_mode = side
    eng = Engine(h, h.ParallelContext(), Network(files=imp.files), RunConfig())
    pos = np.zeros((n, 3))
    pos[:, 0] = np.arange(n) * 10.0
    w0, c0 = time.perf_counter(), time.process_time()
    for gid in range(n):
        eng.cells[gid] = eng._compartmental(gid, ct, pos[gid])
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    nsec = sum(1 for _ in h.allsec())
    return {"import_s": t_import, "create_wall_s": wall, "create_cpu_s": cpu,
            "sections": nsec, "sections_per_cell": len(ct.sections),
            "segments_per_cell": ct.nseg_total, "max_dv": imp.max_dv, "auto_mode": auto}


def _netpyne(module: Path, args: list[str], n: int) -> dict:
    from netpyne import sim, specs

    net_params, cfg = specs.NetParams(), specs.SimConfig()
    cfg.verbose = False
    cfg.createNEURONObj = True
    t0 = time.perf_counter()
    net_params.importCellParams(label="B", conds={"cellType": "B"}, fileName=str(module),
                                cellName="biophys_cell", cellArgs=args)
    t_import = time.perf_counter() - t0
    net_params.popParams["P"] = {"cellType": "B", "numCells": n}
    sim.initialize(netParams=net_params, simConfig=cfg)
    sim.net.createPops()
    w0, c0 = time.perf_counter(), time.process_time()
    sim.net.createCells()
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    from neuron import h

    return {"import_s": t_import, "create_wall_s": wall, "create_cpu_s": cpu,
            "sections": sum(1 for _ in h.allsec()),
            "sections_per_cell": len(net_params.cellParams["B"]["secs"])}


def _worker(side: str, n: int, branches: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        module, args = _inputs(Path(tmp), branches)
        out = _netpyne(module, args, n) if side == "netpyne" else \
            _nethub(side, module, args, n)
    out["peak_rss_mb"] = _rss_mb()
    print(json.dumps(out))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cells", type=int, default=10_000)
    ap.add_argument("--branches", type=int, default=40)
    ap.add_argument("--sides", default="snapshot,template,netpyne")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        _worker(a.worker, a.cells, a.branches)
        return
    rows = {}
    for side in a.sides.split(","):
        proc = subprocess.run([sys.executable, __file__, "--worker", side, "--cells",
                               str(a.cells), "--branches", str(a.branches)],
                              capture_output=True, text=True, check=False)
        if proc.returncode:
            print(proc.stderr[-3000:], file=sys.stderr)
            raise SystemExit(f"{side} failed")
        rows[side] = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"{a.cells} cells of Biophys1 + {a.branches}-branch SWC "
          f"({rows[next(iter(rows))]['sections_per_cell']} sections/cell)")
    print(f"{'side':10} {'import s':>9} {'create s':>9} {'CPU s':>8} {'ms/cell':>8} "
          f"{'peak MB':>8}")
    for side, r in rows.items():
        print(f"{side:10} {r['import_s']:9.2f} {r['create_wall_s']:9.2f} "
              f"{r['create_cpu_s']:8.2f} {1000 * r['create_wall_s'] / a.cells:8.3f} "
              f"{r['peak_rss_mb']:8.0f}")
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
