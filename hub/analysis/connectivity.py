"""Connectivity matrices from the stored connection table (population or cell level).

Features follow NetPyNE's ``plotConn`` (``netpyne/analysis/network.py``):

=============  =========================================================================
count          connections from pre to post
weight         mean weight per connection (0 where there is none)
strength       probability x mean weight
probability    count / (n_pre x n_post)   (pre == post: n x (n - 1), no self connection)
convergence    count / n_post              (presynaptic connections per postsynaptic cell)
divergence     count / n_pre               (postsynaptic connections per presynaptic cell)
delay          mean delay per connection
=============  =========================================================================

At cell level the matrix holds count, summed weight or mean delay per (pre, post) pair.
Presynaptic gids that are not cells (stimulus sources) are left out.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .data import AnalysisError, Source, open_run

__all__ = ["connectivity_matrix", "FEATURES"]

FEATURES = ("count", "weight", "strength", "probability", "convergence", "divergence", "delay")


def connectivity_matrix(source: Source, feature: str = "count", level: str = "pop",
                        pops=None) -> pd.DataFrame:
    """Connectivity matrix of the stored network.

    Parameters
    ----------
    source : path-like, RunData or (Results, Network)
    feature : str
        One of :data:`FEATURES` (cell level: 'count', 'weight' or 'delay').
    level : {'pop', 'cell'}
    pops : list of str, optional
        Restrict rows and columns to these populations.

    Returns
    -------
    pandas.DataFrame
        Rows: presynaptic population (or gid), columns: postsynaptic.
    """
    if feature not in FEATURES:
        raise AnalysisError(f"unknown connectivity feature {feature!r} "
                         f"(valid: {', '.join(FEATURES)})")
    if level not in ("pop", "cell"):
        raise AnalysisError(f"level must be 'pop' or 'cell', got {level!r}")
    rd = open_run(source, None)
    cells = rd.cells()
    gids = cells["gid"].to_numpy(np.int64)
    pop = pd.Categorical(cells["pop"].astype(str))
    names = list(dict.fromkeys(pop.astype(str)))
    if pops is not None:
        names = [p for p in names if p in set(pops)]
    conns = rd.connections(("pre_gid", "weight", "delay"))
    pre = conns["pre_gid"].to_numpy(np.int64)
    pos_pre = np.searchsorted(gids, pre)
    is_cell = (pos_pre < len(gids)) & (gids[np.minimum(pos_pre, len(gids) - 1)] == pre)
    conns = conns[is_cell]
    pos_pre = pos_pre[is_cell]
    pos_post = np.searchsorted(gids, conns["post_gid"].to_numpy(np.int64))
    if level == "cell":
        return _cell_matrix(conns, gids, pop, names, pos_pre, pos_post, feature)
    return _pop_matrix(conns, pop, names, pos_pre, pos_post, feature)


def _pop_matrix(conns, pop, names, pos_pre, pos_post, feature) -> pd.DataFrame:
    codes = pd.Categorical(pop.astype(str), categories=names).codes
    a, b = codes[pos_pre], codes[pos_post]
    ok = (a >= 0) & (b >= 0)
    k = len(names)
    flat = a[ok].astype(np.int64) * k + b[ok]
    count = np.bincount(flat, minlength=k * k).reshape(k, k).astype(float)
    wsum = np.bincount(flat, conns["weight"].to_numpy()[ok], minlength=k * k).reshape(k, k)
    dsum = np.bincount(flat, conns["delay"].to_numpy()[ok], minlength=k * k).reshape(k, k)
    size = np.bincount(codes[codes >= 0], minlength=k).astype(float)
    pairs = np.outer(size, size) - np.diag(size)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_w = np.where(count > 0, wsum / count, 0.0)
        values = {
            "count": count,
            "weight": mean_w,
            "delay": np.where(count > 0, dsum / count, 0.0),
            "probability": np.where(pairs > 0, count / pairs, 0.0),
            "convergence": np.where(size[None, :] > 0, count / size[None, :], 0.0),
            "divergence": np.where(size[:, None] > 0, count / size[:, None], 0.0),
        }
    values["strength"] = values["probability"] * mean_w
    return pd.DataFrame(values[feature], index=pd.Index(names, name="pre"),
                        columns=pd.Index(names, name="post"))


def _cell_matrix(conns, gids, pop, names, pos_pre, pos_post, feature) -> pd.DataFrame:
    if feature not in ("count", "weight", "delay"):
        raise AnalysisError(f"cell-level connectivity has count, weight and delay, not {feature!r}")
    keep_cell = np.isin(np.asarray(pop.astype(str)), names)
    sel = np.flatnonzero(keep_cell)
    index = np.full(len(gids), -1)
    index[sel] = np.arange(len(sel))
    a, b = index[pos_pre], index[pos_post]
    ok = (a >= 0) & (b >= 0)
    n = len(sel)
    flat = a[ok] * n + b[ok]
    count = np.bincount(flat, minlength=n * n).reshape(n, n).astype(float)
    if feature == "count":
        data = count
    else:
        col = "weight" if feature == "weight" else "delay"
        total = np.bincount(flat, conns[col].to_numpy()[ok], minlength=n * n).reshape(n, n)
        data = total if feature == "weight" else np.where(count > 0, total / np.maximum(count, 1),
                                                          0.0)
    return pd.DataFrame(data, index=pd.Index(gids[sel], name="pre"),
                        columns=pd.Index(gids[sel], name="post"))
