"""``nethub run INPUT [--cfg CFG] [--np N] [-o OUT.h5]`` and ``nethub plot``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

__all__ = ["add_run_arguments", "run", "add_plot_arguments", "plot"]


def add_run_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", help="a store, or a NetPyNE-style spec (.py/.json), or 'example'")
    p.add_argument("--cfg", metavar="CFG", help="simConfig overrides (.json or .py with cfg)")
    p.add_argument("--np", type=int, default=1, metavar="N", help="MPI ranks (runs mpiexec)")
    p.add_argument("-o", "--output", metavar="OUT.h5",
                   help="store to write (default: the input store, or INPUT.h5 for a spec)")


def _load_cfg(path: str | None):
    if path is None:
        return None
    if path.endswith(".json"):
        return json.loads(Path(path).read_text())
    from ..specs import load_simconfig

    return load_simconfig(path)


def run(args: argparse.Namespace) -> int:
    from ..cli import out
    from . import simulate

    model = args.input
    if model == "example":
        from ..examples import example_path

        model = str(example_path())
    res = simulate(model, _load_cfg(args.cfg), nprocs=args.np, output=args.output)
    if res is not None:
        t = res.timing
        out(f"{len(res.spike_times)} spikes from {len(set(res.spike_gids.tolist()))} cells in "
            f"{res.duration} ms on {res.nranks} rank(s); simulate {t.get('simulate', 0):.2f} s")
    return 0


def add_plot_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("kind", choices=("raster", "traces"), help="what to plot")
    p.add_argument("file", help="a store with results")
    p.add_argument("-o", "--output", required=True, metavar="OUT.png")
    p.add_argument("--run", default="-1", help="run name or index (default: the latest)")


def plot(args: argparse.Namespace) -> int:
    from ..cli import out
    from ..plot import plot_raster, plot_traces
    from ..store import read_network, read_results

    run_key = int(args.run) if args.run.lstrip("-").isdigit() else args.run
    res = read_results(args.file, run_key)
    if args.kind == "raster":
        plot_raster(res, read_network(args.file), args.output)
    else:
        plot_traces(res, args.output)
    out(f"wrote {args.output}")
    return 0
