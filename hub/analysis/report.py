"""``nethub report``: one self-contained HTML page about a run.

The page holds the network summary, connectivity, raster, rates, rate PSD, traces, LFP (when
recorded) and the run's provenance (simConfig, seeds, software versions, timing, hashes). Figures
are inlined as base64 PNG; there is no script, stylesheet or font to fetch, so the file opens
offline and can be mailed or archived as is.
"""

from __future__ import annotations

import base64
import html
import io
import json
import logging
from pathlib import Path
from typing import Any

from ..errors import NethubError
from .data import RunData, open_run

__all__ = ["write_report", "render_report"]

logger = logging.getLogger(__name__)

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em auto;
max-width:1000px;color:#222;padding:0 1em}
h1{font-size:1.6em;border-bottom:2px solid #446;padding-bottom:.2em}
h2{font-size:1.25em;margin-top:1.6em;color:#334}
table{border-collapse:collapse;margin:.5em 0;font-size:.9em}
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:right}
th{background:#eef;text-align:left}
img{max-width:100%;height:auto;border:1px solid #ddd;margin:.3em 0}
pre{background:#f6f6f8;padding:.8em;overflow:auto;font-size:.8em;max-height:30em}
.note{color:#666;font-size:.9em}
"""


def _png(fig) -> str:
    from .plots import _plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    _plt().close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _img(fig, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{_png(fig)}">'


def _table(df, float_fmt: str = "{:.3g}") -> str:
    """A small DataFrame as an HTML table (escaped)."""
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in [df.index.name or "", *df.columns])
    rows = []
    for idx, row in df.iterrows():
        cells = "".join(f"<td>{html.escape(_fmt(v, float_fmt))}</td>" for v in row)
        rows.append(f"<tr><th>{html.escape(str(idx))}</th>{cells}</tr>")
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def _fmt(v: Any, float_fmt: str) -> str:
    if isinstance(v, float):
        return float_fmt.format(v)
    return str(v)


def _section(title: str, body: str) -> str:
    return f"<section><h2>{html.escape(title)}</h2>{body}</section>"


def _guarded(title: str, build) -> str:
    """A section, or a note saying why it could not be drawn (the report still completes)."""
    try:
        return _section(title, build())
    except (NethubError, ValueError, KeyError) as exc:
        logger.warning("report: %s skipped: %s", title, exc)
        return _section(title, f'<p class="note">not available: {html.escape(str(exc))}</p>')


def _summary(rd: RunData, path: Path) -> str:
    import h5py
    import pandas as pd

    with h5py.File(path, "r") as f:
        facts = {f"{t.replace('_', ' ')}": int(f[f"network/{t}"].attrs["n_rows"])
                 for t in ("cells", "connections", "stim_targets", "pointer_conns")
                 if f"network/{t}" in f}
        pops = json.loads(_text(f["model/populations"][()]))
    cells = rd.cells()
    counts = cells["pop"].astype(str).value_counts(sort=False)
    df = pd.DataFrame({"cells": counts,
                       "cell type": [str(pops.get(p, {}).get("cell_type", "")) for p in
                                     counts.index]})
    df.index.name = "population"
    rows = {"file": path.name, **facts, "file size (bytes)": path.stat().st_size}
    lines = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>"
                    for k, v in rows.items())
    return f"<table>{lines}</table>{_table(df)}"


def _text(raw: Any) -> str:
    return raw.decode() if isinstance(raw, bytes) else str(raw)


def _rates(rd: RunData) -> str:
    import pandas as pd

    from .plots import plot_rates
    from .spikes import cell_rates, isi_stats

    r = cell_rates(rd, rd.run)
    isi = isi_stats(rd, rd.run)
    df = pd.DataFrame({
        "cells": r.groupby("pop", observed=True).size(),
        "spikes": r.groupby("pop", observed=True)["count"].sum(),
        "mean rate (Hz)": r.groupby("pop", observed=True)["rate"].mean(),
        "mean ISI CV": isi.groupby("pop", observed=True)["isi_cv"].mean(),
    })
    df.index = df.index.astype(str)
    df.index.name = "population"
    return _table(df) + _img(plot_rates(rd, rd.run), "rates")


def _provenance(rd: RunData) -> str:
    import h5py

    parts = []
    with h5py.File(rd.path, "r") as f:
        g = f[f"results/{rd.run}"]
        attrs = {k: (v.decode() if isinstance(v, bytes) else str(v)) for k, v in g.attrs.items()}
        for doc in ("versions", "seeds", "timing", "meta", "sim_config"):
            if doc in g:
                raw = g[doc][()]
                text = json.dumps(json.loads(raw.decode() if isinstance(raw, bytes) else raw),
                                  indent=1, sort_keys=True)
                parts.append(f"<h3>{doc}</h3><pre>{html.escape(text)}</pre>")
    head = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
                   for k, v in attrs.items())
    return f"<table>{head}</table>{''.join(parts)}"


def render_report(store: str | Path, run: int | str = -1) -> str:
    """The report of ``run`` of ``store`` as an HTML string (see :func:`write_report`)."""
    from . import plots

    path = Path(store)
    rd = open_run(path, run)
    has_traces = len(rd.trace_index()) > 0
    has_lfp = rd.lfp() is not None
    body = [
        f"<h1>nethub run report: {html.escape(path.name)} / {html.escape(rd.run)}</h1>",
        f'<p class="note">duration {rd.duration:g} ms; generated by nethub</p>',
        _guarded("Network", lambda: _summary(rd, path)),
        _guarded("Connectivity", lambda: _img(plots.plot_connectivity(rd, feature="count"),
                                              "connectivity (count)")
                 + _img(plots.plot_connectivity(rd, feature="probability"),
                        "connectivity (probability)")),
        _guarded("Raster", lambda: _img(plots.plot_raster(rd, rd.run), "raster")),
        _guarded("Rates", lambda: _rates(rd)),
        _guarded("Spike histogram", lambda: _img(plots.plot_spike_hist(rd, rd.run),
                                                 "spike histogram")),
        _guarded("Rate PSD", lambda: _img(plots.plot_rate_psd(rd, rd.run), "rate PSD")),
    ]
    if has_traces:
        body.append(_guarded("Traces", lambda: _img(plots.plot_traces(rd, rd.run), "traces")))
    if has_lfp:
        body.append(_guarded("LFP", lambda: _img(plots.plot_lfp(rd, rd.run), "LFP")
                             + _img(plots.plot_lfp(rd, rd.run, what="PSD"), "LFP PSD")))
    body.append(_guarded("Provenance", lambda: _provenance(rd)))
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>nethub report: {html.escape(path.name)}</title>"
            f"<style>{_CSS}</style></head><body>{''.join(body)}</body></html>\n")


def write_report(store: str | Path, dest: str | Path, run: int | str = -1) -> Path:
    """Write the self-contained HTML report of ``run`` of ``store`` to ``dest`` (atomically).

    Returns
    -------
    Path
        ``dest``.
    """
    from ..store import atomic_path

    text = render_report(store, run)
    dest = Path(dest)
    with atomic_path(dest, suffix=".html.tmp") as tmp:
        tmp.write_text(text, encoding="utf-8")
    return dest
