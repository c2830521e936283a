"""Synthetic stores with known spikes, traces and connections (no NEURON)."""

from __future__ import annotations

import numpy as np
import pytest

from nethub.celltypes import PointCell, Population, SynMech
from nethub.network import Network
from nethub.results import Results, Traces
from nethub.store import append_run, write_network
from nethub.table import Table


def make_network(sizes: dict[str, int], conns: dict | None = None) -> Network:
    """Point-cell populations of the given sizes, gids in population order."""
    pops, gids, types = [], [], []
    for name, n in sizes.items():
        pops += [name] * n
    gids = list(range(len(pops)))
    types = ["cell"] * len(pops)
    rng = np.random.default_rng(3)
    return Network(
        cell_types={"cell": PointCell("cell", model="IntFire1")},
        syn_mechs={"syn": SynMech("syn", "ExpSyn", {})},
        populations={k: Population(k, "cell", n) for k, n in sizes.items()},
        cells={"gid": gids, "pop": pops, "cell_type": types,
               "x": rng.uniform(0, 100, len(gids)), "y": rng.uniform(0, 100, len(gids)),
               "z": rng.uniform(0, 100, len(gids))},
        connections=conns or {},
    )


def make_results(times, gids, duration: float, traces: Traces | None = None,
                 **cfg) -> Results:
    return Results(spike_times=np.asarray(times, float), spike_gids=np.asarray(gids, np.int64),
                   traces=traces or Traces(), sim_config={"duration": duration, **cfg})


def make_traces(rows: list[tuple[str, int]], time: np.ndarray, data: np.ndarray) -> Traces:
    index = Table({"label": [r[0] for r in rows], "gid": [r[1] for r in rows],
                   "sec": ["soma"] * len(rows), "loc": [0.5] * len(rows),
                   "var": ["v"] * len(rows)}, n=len(rows))
    return Traces(index, time, data)


@pytest.fixture
def store_of(tmp_path):
    """``store_of(net, results...)`` writes a store and appends the runs; returns its path."""
    count = [0]

    def make(net: Network, *runs: Results):
        count[0] += 1
        path = tmp_path / f"s{count[0]}.h5"
        write_network(net, path)
        for r in runs:
            append_run(path, r)
        return path

    return make
