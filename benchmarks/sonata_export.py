"""SONATA export of a synthetic circuit (issue 12 item 6): 100,000 nodes / 10,000,000 edges.

The network: ``--nodes`` cells, 90 % IntFire1 in two populations (E 80 %, I 20 % of them) and
10 % VecStim sources (population ``V``, ``--spikes`` spike times each), ``--edges`` connections
with random sources, weights and delays (sorted by target, as a store keeps them). Built in
memory (vectorized), then exported with the ``sonata`` plugin's two steps, timed apart:
``network_to_sonata`` (mapping) and ``write_export`` (files). Peak RSS is the process's.
The export is checked by opening it with libsonata (node and edge counts, one afferent query).

Usage (from the repository root)::

    .venv/bin/python benchmarks/sonata_export.py                  # 100k / 10M
    .venv/bin/python benchmarks/sonata_export.py --edges 1000000  # reduced
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

import nethub
from nethub.celltypes import PointCell, Population, SynMech
from nethub.converters.sonata_export import network_to_sonata
from nethub.formats.sonata.export import write_export
from nethub.network import Network
from nethub.table import Categorical, Ragged

GOAL_S = 60.0
GOAL_GB = 4.0


def synthetic(n_nodes: int, n_edges: int, n_spikes: int, seed: int = 1) -> Network:
    """The synthetic circuit described in the module docstring."""
    rng = np.random.default_rng(seed)
    n_virt = n_nodes // 10
    n_exc = int(0.8 * (n_nodes - n_virt))
    n_inh = n_nodes - n_virt - n_exc
    pops = np.repeat(np.array([0, 1, 2], np.int32), [n_exc, n_inh, n_virt])
    spikes = np.sort(rng.uniform(0, 1000.0, (n_nodes, n_spikes)), axis=1)
    offsets = np.where(pops == 2, n_spikes, 0).cumsum()
    values = spikes[pops == 2].reshape(-1)
    post = np.sort(rng.integers(0, n_exc + n_inh, n_edges))
    return Network(
        cell_types={"exc": PointCell("exc", model="IntFire1", params={"tau": 10.0, "refrac": 2.0}),
                    "inh": PointCell("inh", model="IntFire1", params={"tau": 5.0, "refrac": 1.0}),
                    "virt": PointCell("virt", model="VecStim")},
        syn_mechs={"exc": SynMech("exc", "ExpSyn", {"tau": 2.0})},
        populations={"E": Population("E", "exc", n_exc), "I": Population("I", "inh", n_inh),
                     "V": Population("V", "virt", n_virt)},
        cells={"gid": np.arange(n_nodes, dtype=np.int64),
               "pop": Categorical(pops, ["E", "I", "V"]),
               "cell_type": Categorical(pops, ["exc", "inh", "virt"]),
               "x": rng.uniform(0, 1000, n_nodes), "y": rng.uniform(0, 1000, n_nodes),
               "z": rng.uniform(0, 1000, n_nodes),
               "params.spkTimes": Ragged(values, np.concatenate([[0], offsets]))},
        connections={"pre_gid": rng.integers(0, n_nodes, n_edges), "post_gid": post,
                     "syn_mech": Categorical(np.zeros(n_edges, np.int32), ["exc"]),
                     "weight": rng.uniform(-1, 1, n_edges),
                     "delay": rng.uniform(0.5, 5.0, n_edges)},
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", type=int, default=100_000)
    ap.add_argument("--edges", type=int, default=10_000_000)
    ap.add_argument("--spikes", type=int, default=10, help="spike times per VecStim source")
    ap.add_argument("--out", type=Path, default=None, help="folder to write (default: temp)")
    ap.add_argument("--from-sonata", action="store_true",
                    help="export the circuit once, import it (nethub.load) and time the export "
                         "of the imported network (cells with sonata.* columns, imported types)")
    args = ap.parse_args()
    t0 = time.perf_counter()
    net = synthetic(args.nodes, args.edges, args.spikes)
    if args.from_sonata:
        first = Path(tempfile.mkdtemp())
        write_export(network_to_sonata(net), first / "x")
        ti = time.perf_counter()
        net = nethub.load(first / "x" / "simulation_config.json")
        print(f"imported the first export in {time.perf_counter() - ti:.1f} s (not part of "
              "the figure)")
        shutil.rmtree(first, ignore_errors=True)
    t1 = time.perf_counter()
    exp = network_to_sonata(net)
    t2 = time.perf_counter()
    tmp = Path(tempfile.mkdtemp()) if args.out is None else args.out.parent
    out = args.out or tmp / "export"
    write_export(exp, out, overwrite=True)
    t3 = time.perf_counter()
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2
    size_mb = sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) / 1e6
    import libsonata  # the check only: imported after the timing

    circ = libsonata.CircuitConfig.from_file(str(out / "circuit_config.json"))
    n_nodes = sum(circ.node_population(p).size for p in circ.node_populations)
    n_edges = sum(circ.edge_population(p).size for p in circ.edge_populations)
    ep = circ.edge_population(sorted(circ.edge_populations)[0])
    aff = ep.afferent_edges([0]).flat_size
    ok = n_nodes == args.nodes and n_edges == args.edges
    total = t3 - t1
    print(f"synthetic network: {args.nodes:,} nodes, {args.edges:,} edges (built"
          f"{' and round-tripped' if args.from_sonata else ''} in {t1 - t0:.1f} s)")
    print(f"network_to_sonata: {t2 - t1:.1f} s; write_export: {t3 - t2:.1f} s; "
          f"export total: {total:.1f} s (goal < {GOAL_S:.0f} s)")
    print(f"peak RSS {peak_gb:.2f} GB (goal < {GOAL_GB:.0f} GB); output {size_mb:.0f} MB")
    print(f"libsonata reads {n_nodes:,} nodes, {n_edges:,} edges; afferent edges of node 0 "
          f"in {sorted(circ.edge_populations)[0]}: {aff}")
    passed = ok and total < GOAL_S and peak_gb < GOAL_GB
    print("PASS" if passed else "FAIL")
    if args.out is None:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0 if passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
