"""Minimal plots of a run (matplotlib is imported only when plotting)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import MissingExtraError
from .network import Network
from .results import Results

__all__ = ["plot_raster", "plot_traces"]


def _plt():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise MissingExtraError("plotting", "plot", "matplotlib") from exc
    return plt


def plot_raster(res: Results, net: Network | None, path: str | Path) -> Path:
    """Spike raster coloured by population."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 4.5))
    gids = res.spike_gids
    if net is not None and len(net.cells):
        pops = net.cells["pop"]
        order = np.argsort(net.gids)
        pop_of = pops.codes[order][np.searchsorted(net.gids[order], gids)]
        for code, name in enumerate(pops.categories):
            sel = pop_of == code
            ax.scatter(res.spike_times[sel], gids[sel], s=3, label=f"{name}")
        ax.legend(loc="upper right", markerscale=3, fontsize=8)
    else:
        ax.scatter(res.spike_times, gids, s=3)
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("gid")
    ax.set_title(f"{len(gids)} spikes, {res.nranks} rank(s)")
    if res.duration:
        ax.set_xlim(0, res.duration)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)


def plot_traces(res: Results, path: str | Path) -> Path:
    """Every recorded trace, one line each."""
    plt = _plt()
    tr = res.traces
    fig, ax = plt.subplots(figsize=(8, 4.5))
    idx = tr.index.to_pandas()
    for i, row in idx.iterrows():
        ax.plot(tr.time, tr.data[i], lw=0.8, label=f"{row['label']} gid {row['gid']}")
    ax.set_xlabel("time (ms)")
    if len(idx) <= 12:
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)
