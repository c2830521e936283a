"""Figures of a stored run (matplotlib, headless: the Agg backend unless one is already chosen).

Each ``plot_*`` function computes its data with the functions of :mod:`nethub.analysis` and
returns a :class:`matplotlib.figure.Figure`; :func:`save_figure` writes it as PNG, SVG or PDF
(by suffix). Population colours are fixed per population name (:func:`pop_colors`), so every
population gets one whether or not the model declares colours (NetPyNE's ``plotRatePSD``
crashes without ``popColors``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import MissingExtraError
from .data import AnalysisError, Selection, Source, open_run

__all__ = [
    "KINDS",
    "pop_colors",
    "save_figure",
    "plot_raster",
    "plot_spike_hist",
    "plot_rates",
    "plot_spike_stats",
    "plot_syncs",
    "plot_rate_psd",
    "plot_rate_spectrogram",
    "plot_traces",
    "plot_connectivity",
    "plot_2d_net",
    "plot_shape",
    "plot_causality",
    "plot_lfp",
    "plot_csd",
    "plot_dipole",
    "plot_meg",
]

_FORMATS = (".png", ".svg", ".pdf")


def _plt():
    try:
        import matplotlib

        if "matplotlib.pyplot" not in __import__("sys").modules:
            matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise MissingExtraError("plotting", "plot", "matplotlib") from exc
    return plt


def pop_colors(pops) -> dict[str, tuple]:
    """A colour per population (matplotlib's tab10/tab20 cycle, in the given order)."""
    plt = _plt()
    cmap = plt.get_cmap("tab10" if len(pops) <= 10 else "tab20")
    return {p: cmap(i % cmap.N) for i, p in enumerate(pops)}


def save_figure(fig, path: str | Path, dpi: int = 110) -> Path:
    """Write ``fig`` as PNG, SVG or PDF (chosen by the suffix) and close it."""
    path = Path(path)
    if path.suffix.lower() not in _FORMATS:
        raise AnalysisError(f"{path}: unknown figure format {path.suffix!r} "
                         f"(valid: {', '.join(_FORMATS)})")
    fig.savefig(path, dpi=dpi)
    _plt().close(fig)
    return path


def _fig(w: float = 8.0, h: float = 4.5, **kw):
    fig, ax = _plt().subplots(figsize=(w, h), **kw)
    return fig, ax


def _pops(rd, pops) -> list[str]:
    return list(pops) if pops else rd.populations()


# ----------------------------------------------------------------------------- spikes
def plot_raster(source: Source, run: int | str = -1, pops=None, time_range=None,
                order_by: str = "gid", marker_size: float | None = None):
    """Spike raster coloured by population; cells ordered by any cells-table column
    (``gid``, ``y``, ``pop``, ...). Drawn as one rasterised marker line per population, so a
    million spikes take seconds."""
    rd = open_run(source, run)
    names = _pops(rd, pops)
    sel = Selection(names, None, None if time_range is None else tuple(time_range))
    sp = rd.spikes(sel)
    cells = rd.cells([order_by] if order_by not in ("gid", "pop") else [])
    cells = cells[cells["pop"].astype(str).isin(names)]
    key = cells[order_by]
    order = np.lexsort((cells["gid"].to_numpy(), np.asarray(
        key.cat.codes if hasattr(key, "cat") else key)))
    gid_sorted = cells["gid"].to_numpy()[order]
    rank = np.empty(len(order), dtype=np.int32)
    rank[order] = np.arange(len(order))
    gids = cells["gid"].to_numpy()
    pos = np.searchsorted(gids, sp["gid"].to_numpy())
    y = rank[pos]
    codes = np.asarray(pd.Categorical(cells["pop"].astype(str), categories=names).codes,
                       dtype=np.int8 if len(names) < 127 else np.int32)[pos]
    del pos
    colors = pop_colors(names)
    few = len(sp) < 20_000
    ms = marker_size or (max(2.0, min(8.0, 300.0 / max(len(gid_sorted), 1))) if few else 1.0)
    fig, ax = _fig()
    times = sp["time"].to_numpy()
    for i, p in enumerate(names):
        m = codes == i
        ax.plot(times[m], y[m], ls="none", marker="|" if few else ".",
                ms=ms, color=colors[p], label=f"{p} ({m.sum()})", rasterized=True)
    t0, t1 = rd.time_range(sel)
    ax.set_xlim(t0, t1)
    ax.set_ylim(-0.5, max(len(gid_sorted), 1) - 0.5)
    ax.set_xlabel("time (ms)")
    ax.set_ylabel(f"cells (ordered by {order_by})")
    ax.set_title(f"{len(sp)} spikes")
    if names:
        ax.legend(loc="upper right", fontsize=8, markerscale=4)
    fig.tight_layout()
    return fig


def plot_spike_hist(source: Source, run: int | str = -1, pops=None, time_range=None,
                    bin_ms: float = 5.0, measure: str = "rate"):
    """Spike histogram (PSTH) per population."""
    from .spikes import spike_histogram

    rd = open_run(source, run)
    h = spike_histogram(rd, run, bin_ms, pops, None, time_range, measure)
    colors = pop_colors(list(h.columns))
    fig, ax = _fig()
    for p in h.columns:
        ax.step(h.index + bin_ms, h[p], where="pre", color=colors[p], label=p)
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("rate per cell (Hz)" if measure == "rate" else f"spikes / {bin_ms} ms")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_rates(source: Source, run: int | str = -1, pops=None, time_range=None):
    """Mean rate of each population (bars; dots: each cell)."""
    from .spikes import cell_rates

    rd = open_run(source, run)
    rates = cell_rates(rd, run, pops, None, time_range)
    names = _pops(rd, pops)
    colors = pop_colors(names)
    fig, ax = _fig(max(4.0, 1.2 * len(names) + 2), 4.0)
    rng = np.random.default_rng(0)
    for i, p in enumerate(names):
        r = rates["rate"][rates["pop"].astype(str) == p].to_numpy()
        ax.bar(i, r.mean() if len(r) else 0.0, color=colors[p], alpha=0.6)
        show = r if len(r) <= 2000 else rng.choice(r, 2000, replace=False)
        ax.plot(i + rng.uniform(-0.25, 0.25, len(show)), show, ".", ms=2, color="k")
        ax.text(i, 0, f"{r.mean() if len(r) else 0:.2f} Hz", ha="center", va="bottom",
                fontsize=8)
    ax.set_xticks(range(len(names)), names)
    ax.set_ylabel("rate (Hz)")
    fig.tight_layout()
    return fig


def plot_spike_stats(source: Source, run: int | str = -1, pops=None, time_range=None):
    """Box plots per population of cell rates and ISI CVs (NetPyNE's ``plotSpikeStats``)."""
    from .spikes import cell_rates, isi_stats

    rd = open_run(source, run)
    names = _pops(rd, pops)
    rates = cell_rates(rd, run, names, None, time_range)
    isi = isi_stats(rd, run, names, None, time_range)
    fig, axes = _fig(9.0, 4.0, ncols=2)
    for ax, df, col, lab in ((axes[0], rates, "rate", "rate (Hz)"),
                             (axes[1], isi, "isi_cv", "ISI CV")):
        data = [df[col][df["pop"].astype(str) == p].dropna().to_numpy() for p in names]
        ax.boxplot([d if len(d) else [np.nan] for d in data])
        ax.set_xticks(range(1, len(names) + 1), names)
        ax.set_ylabel(lab)
    fig.tight_layout()
    return fig


def plot_syncs(source: Source, run: int | str = -1, pops=None, time_range=None):
    """SPIKE-contrast synchrony of each population (NetPyNE's ``plotSyncs``)."""
    from .spikes import synchrony

    s = synchrony(source, run, pops, time_range)
    colors = pop_colors(list(s.index))
    fig, ax = _fig(max(4.0, 1.2 * len(s) + 2), 4.0)
    ax.bar(range(len(s)), s.fillna(0).to_numpy(), color=[colors[p] for p in s.index])
    ax.set_xticks(range(len(s)), list(s.index))
    ax.set_ylim(0, 1)
    ax.set_ylabel("SPIKE-contrast synchrony")
    fig.tight_layout()
    return fig


def plot_rate_psd(source: Source, run: int | str = -1, pops=None, time_range=None,
                  bin_ms: float = 1.0, max_freq: float = 100.0):
    """Welch PSD of each population's rate."""
    from .spectra import rate_psd

    psd = rate_psd(source, run, bin_ms, pops, time_range)
    psd = psd[psd.index <= max_freq]
    colors = pop_colors(list(psd.columns))
    fig, ax = _fig()
    for p in psd.columns:
        ax.semilogy(psd.index, np.maximum(psd[p], 1e-300), color=colors[p], label=p)
    ax.set_xlabel("frequency (Hz)")
    ax.set_ylabel("PSD (Hz²/Hz)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_rate_spectrogram(source: Source, run: int | str = -1, pops=None, time_range=None,
                          bin_ms: float = 1.0):
    """Morlet spectrogram of the rate (all selected populations together)."""
    from .spectra import rate_spectrogram

    pop = pops[0] if pops and len(pops) == 1 else None
    sg = rate_spectrogram(source, run, pop, bin_ms, None, time_range)
    return _spectrogram_figure(sg, f"rate spectrogram ({pop or 'all cells'})")


def _spectrogram_figure(sg: pd.DataFrame, title: str):
    fig, ax = _fig()
    t, f = sg.columns.to_numpy(dtype=float), sg.index.to_numpy(dtype=float)
    im = ax.pcolormesh(t, f, sg.to_numpy(), shading="auto", rasterized=True)
    fig.colorbar(im, ax=ax, label="power")
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("frequency (Hz)")
    ax.set_title(title)
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- traces
def plot_traces(source: Source, run: int | str = -1, pops=None, time_range=None,
                labels=None, gids=None, max_traces: int = 12):
    """Recorded traces, one panel per label, one line per cell (at most ``max_traces``)."""
    from .recordings import traces

    tr = traces(source, run, labels, pops, gids, time_range)
    if tr.shape[1] == 0:
        raise AnalysisError("no recorded traces in this selection")
    labs = list(dict.fromkeys(tr.columns.get_level_values("label")))
    fig, axes = _fig(8.0, 2.2 * len(labs) + 0.8, nrows=len(labs), squeeze=False, sharex=True)
    for ax, lab in zip(axes[:, 0], labs):
        sub = tr.xs(lab, axis=1, level="label")
        for col in list(sub.columns)[:max_traces]:
            ax.plot(tr.index, sub[col], lw=0.8, label=f"gid {col}")
        ax.set_ylabel(lab)
        if sub.shape[1] <= max_traces:
            ax.legend(fontsize=7, loc="upper right")
    axes[-1, 0].set_xlabel("time (ms)")
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- network
def plot_connectivity(source: Source, run: int | str = -1, pops=None, time_range=None,
                      feature: str = "strength", level: str = "pop"):
    """Connectivity matrix (rows: presynaptic, columns: postsynaptic)."""
    from .connectivity import connectivity_matrix

    m = connectivity_matrix(source, feature, level, pops)
    fig, ax = _fig(6.0, 5.0)
    im = ax.imshow(m.to_numpy(), cmap="viridis", interpolation="nearest")
    fig.colorbar(im, ax=ax, label=feature)
    if level == "pop":
        ax.set_xticks(range(m.shape[1]), m.columns, rotation=90)
        ax.set_yticks(range(m.shape[0]), m.index)
    ax.set_xlabel("post")
    ax.set_ylabel("pre")
    ax.set_title(f"connectivity: {feature}")
    fig.tight_layout()
    return fig


def plot_2d_net(source: Source, run: int | str = -1, pops=None, time_range=None,
                view: str = "xy", max_conns: int = 5000):
    """Cell positions in a plane (``view``: 'xy', 'xz' or 'yz') with connections as lines."""
    if len(view) != 2 or set(view) - set("xyz"):
        raise AnalysisError(f"view must be two of x, y, z (e.g. 'xy'), got {view!r}")
    rd = open_run(source, None if run == -1 else run)
    names = _pops(rd, pops)
    cells = rd.cells(["x", "y", "z"])
    cells = cells[cells["pop"].astype(str).isin(names)]
    a, b = view
    colors = pop_colors(names)
    fig, ax = _fig(6.0, 6.0)
    conns = rd.connections(("pre_gid",))
    gids = cells["gid"].to_numpy()
    ok = np.isin(conns["pre_gid"].to_numpy(), gids) & np.isin(conns["post_gid"].to_numpy(), gids)
    conns = conns[ok].iloc[:max_conns]
    pos = cells.set_index("gid")
    if len(conns):
        pre, post = pos.loc[conns["pre_gid"]], pos.loc[conns["post_gid"]]
        segs = np.stack([np.c_[pre[a], pre[b]], np.c_[post[a], post[b]]], axis=1)
        from matplotlib.collections import LineCollection

        ax.add_collection(LineCollection(segs, colors="0.6", linewidths=0.3, alpha=0.5))
    for p in names:
        c = cells[cells["pop"].astype(str) == p]
        ax.plot(c[a], c[b], "o", ms=4, color=colors[p], label=p)
    ax.set_xlabel(f"{a} (µm)")
    ax.set_ylabel(f"{b} (µm)")
    ax.legend(fontsize=8)
    ax.set_aspect("equal", adjustable="datalim")
    fig.tight_layout()
    return fig


def plot_shape(source: Source, run: int | str = -1, pops=None, time_range=None,
               gids=None, color_by: str | None = None, at: float | None = None):
    """3-D shapes of cells (their 3-D points, or a stick layout from L/diam and topology),
    each section coloured by ``color_by`` (a geometry value such as 'diam', a mechanism
    parameter 'mech.param', 'numSyns': incoming connections per section, as NetPyNE's
    ``cvar``; or a recorded variable: 'trace:<var>' from recordTraces, e.g. 'trace:v', or
    'imembrane' from saveIMembrane, time-averaged over ``time_range`` or at time ``at`` ms;
    sections without a recording grey), else by population."""
    from .morphology import cell_segments, is_simulated

    rd = open_run(source, run if is_simulated(color_by) or run != -1 else None)
    segs, values, pops_of = cell_segments(rd, pops, gids, color_by, time_range=time_range,
                                          at=at)
    plt = _plt()
    fig = plt.figure(figsize=(6.5, 6.0))
    ax = fig.add_subplot(projection="3d")
    from mpl_toolkits.mplot3d.art3d import Line3DCollection

    if color_by is not None and len(values):
        finite = np.isfinite(values)
        vmin, vmax = (values[finite].min(), values[finite].max()) if finite.any() else (0, 1)
        norm = plt.Normalize(vmin, vmax if vmax > vmin else vmin + 1)
        cmap = plt.get_cmap("viridis").with_extremes(bad="lightgrey")
        coll = Line3DCollection(segs, colors=cmap(norm(np.ma.masked_invalid(values))), lw=1.5)
        sm = plt.cm.ScalarMappable(norm=norm, cmap="viridis")
        label = color_by + ("" if not is_simulated(color_by) else
                            f" at {at:g} ms" if at is not None else " (time mean)")
        fig.colorbar(sm, ax=ax, label=label, shrink=0.6)
    else:
        colors = pop_colors(sorted(set(pops_of)))
        coll = Line3DCollection(segs, colors=[colors[p] for p in pops_of], lw=1.5)
    ax.add_collection3d(coll)
    if len(segs):
        pts = segs.reshape(-1, 3)
        for setter, k in ((ax.set_xlim, 0), (ax.set_ylim, 1), (ax.set_zlim, 2)):
            lo, hi = pts[:, k].min(), pts[:, k].max()
            setter(lo - 1, hi + 1)
    ax.set_xlabel("x (µm)")
    ax.set_ylabel("y (µm)")
    ax.set_zlabel("z (µm)")
    return fig


def plot_causality(source: Source, run: int | str = -1, pops=None, time_range=None,
                   method: str = "granger"):
    """Granger or nTE matrix between populations (rows: source, columns: target)."""
    from .causality import granger_matrix, nte_matrix

    if method not in ("granger", "nte"):
        raise AnalysisError(f"method must be 'granger' or 'nte', got {method!r}")
    fn = granger_matrix if method == "granger" else nte_matrix
    m = fn(source, run, pops, time_range=time_range)
    fig, ax = _fig(5.5, 4.5)
    im = ax.imshow(m.to_numpy(dtype=float), cmap="magma", interpolation="nearest")
    fig.colorbar(im, ax=ax, label="Granger causality" if method == "granger" else "nTE")
    ax.set_xticks(range(m.shape[1]), m.columns)
    ax.set_yticks(range(m.shape[0]), m.index)
    ax.set_xlabel("target")
    ax.set_ylabel("source")
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- LFP
def plot_lfp(source: Source, run: int | str = -1, pops=None, time_range=None,
             what: str = "timeSeries", electrodes=None):
    """LFP: ``what`` = 'timeSeries', 'PSD', 'spectrogram' or 'locations'."""
    from .extracellular import lfp

    df, elec = lfp(source, run, time_range, electrodes)
    fig, ax = _fig(7.0, 5.0)
    if what == "timeSeries":
        span = float(np.nanmax(np.abs(df.to_numpy()))) if df.size else 1.0
        for i, col in enumerate(df.columns):
            ax.plot(df.index, df[col] - 2 * i * span, lw=0.7)
        ax.set_yticks([-2 * i * span for i in range(df.shape[1])], [str(c) for c in df.columns])
        ax.set_xlabel("time (ms)")
        ax.set_ylabel("electrode (offset traces, mV)")
    elif what == "PSD":
        from .spectra import welch_psd

        fs = 1000.0 / float(np.median(np.diff(df.index)))
        f, p = welch_psd(df.to_numpy().T, fs)
        for i, col in enumerate(df.columns):
            ax.semilogy(f, np.maximum(np.atleast_2d(p)[i], 1e-300), label=f"e{col}")
        ax.set_xlim(0, min(fs / 2, 200))
        ax.set_xlabel("frequency (Hz)")
        ax.set_ylabel("PSD (mV²/Hz)")
    elif what == "spectrogram":
        from .spectra import morlet_spectrogram

        _plt().close(fig)
        fs = 1000.0 / float(np.median(np.diff(df.index)))
        freqs = np.arange(2.0, min(100.0, fs / 2), 2.0)
        power = morlet_spectrogram(df.iloc[:, 0].to_numpy(), fs, freqs)
        return _spectrogram_figure(pd.DataFrame(power, index=freqs, columns=df.index),
                                   f"LFP spectrogram, electrode {df.columns[0]}")
    elif what == "locations":
        ax.plot(elec[:, 0], elec[:, 1], "k^")
        for i, (x, y) in enumerate(elec[:, :2]):
            ax.annotate(str(i), (x, y), fontsize=8)
        ax.set_xlabel("x (µm)")
        ax.set_ylabel("y (µm)")
    else:
        raise AnalysisError(f"unknown LFP plot {what!r} (valid: timeSeries, PSD, spectrogram, "
                         "locations)")
    fig.tight_layout()
    return fig


def plot_csd(source: Source, run: int | str = -1, pops=None, time_range=None):
    """Current source density along the electrode depth axis (from the LFP)."""
    from .extracellular import csd

    c = csd(source, run, time_range)
    fig, ax = _fig()
    v = np.nanmax(np.abs(c.to_numpy())) or 1.0
    im = ax.pcolormesh(c.index.to_numpy(), c.columns.to_numpy(dtype=float), c.to_numpy().T,
                       cmap="RdBu_r", vmin=-v, vmax=v, shading="auto", rasterized=True)
    fig.colorbar(im, ax=ax, label="CSD (µA/mm³)")
    ax.invert_yaxis()
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("depth (µm)")
    fig.tight_layout()
    return fig


def plot_dipole(source: Source, run: int | str = -1, pops=None, time_range=None):
    """Current dipole moment (x, y, z) over time."""
    from .extracellular import dipole

    d = dipole(source, run, time_range)
    fig, ax = _fig()
    for col in d.columns:
        ax.plot(d.index, d[col], lw=0.8, label=col)
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("dipole moment (nA·µm)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_meg(source: Source, run: int | str = -1, pops=None, time_range=None, sensors=None,
             dipole_location=(0.0, 0.0, 0.0), model: str = "infinite"):
    """MEG: magnetic field (x, y, z; fT) at each sensor over time, from the recorded dipole
    (:func:`nethub.analysis.extracellular.meg`; default sensors 10 mm along x, y, z)."""
    from .extracellular import MEG_SENSORS, meg

    b = meg(source, MEG_SENSORS if sensors is None else sensors, run, dipole_location, model,
            time_range)
    sensors_ = b.columns.get_level_values("sensor").unique()
    fig, axes = _fig(8.0, 1.0 + 1.8 * len(sensors_), nrows=len(sensors_), sharex=True,
                     squeeze=False)
    for ax, k in zip(axes[:, 0], sensors_):
        for comp in ("x", "y", "z"):
            ax.plot(b.index, b[(k, comp)], lw=0.8, label=f"B{comp}")
        ax.set_ylabel(f"sensor {k} (fT)")
    axes[0, 0].legend(fontsize=8, ncol=3)
    axes[-1, 0].set_xlabel("time (ms)")
    axes[0, 0].set_title(f"MEG ({model} medium)")
    fig.tight_layout()
    return fig


#: ``nethub plot KIND``: kind name -> figure function
KINDS = {
    "raster": plot_raster,
    "spikehist": plot_spike_hist,
    "rates": plot_rates,
    "spikestats": plot_spike_stats,
    "syncs": plot_syncs,
    "ratepsd": plot_rate_psd,
    "spectrogram": plot_rate_spectrogram,
    "traces": plot_traces,
    "conn": plot_connectivity,
    "2dnet": plot_2d_net,
    "shape": plot_shape,
    "granger": lambda s, r=-1, pops=None, time_range=None: plot_causality(
        s, r, pops, time_range, "granger"),
    "nte": lambda s, r=-1, pops=None, time_range=None: plot_causality(
        s, r, pops, time_range, "nte"),
    "lfp": plot_lfp,
    "lfppsd": lambda s, r=-1, pops=None, time_range=None: plot_lfp(s, r, pops, time_range, "PSD"),
    "lfpspectrogram": lambda s, r=-1, pops=None, time_range=None: plot_lfp(
        s, r, pops, time_range, "spectrogram"),
    "lfplocations": lambda s, r=-1, pops=None, time_range=None: plot_lfp(
        s, r, pops, time_range, "locations"),
    "csd": plot_csd,
    "dipole": plot_dipole,
    "meg": plot_meg,
}
