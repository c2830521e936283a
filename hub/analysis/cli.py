"""``nethub plot KIND STORE [--run R] [--pops P ...] [--time T0 T1] -o OUT.png|svg|pdf`` and
``nethub report STORE [-o report.html]``."""

from __future__ import annotations

import argparse

__all__ = ["add_plot_arguments", "plot", "add_report_arguments", "report", "run_key"]

#: kinds of ``nethub plot`` (the figure functions are in nethub.analysis.plots.KINDS)
PLOT_KINDS = ("raster", "spikehist", "rates", "spikestats", "syncs", "ratepsd", "spectrogram",
              "traces", "conn", "2dnet", "shape", "granger", "nte", "lfp", "lfppsd",
              "lfpspectrogram", "lfplocations", "csd", "dipole", "meg")


def run_key(text: str) -> int | str:
    """``--run`` value: an integer position (``-1``: the latest) or a run name."""
    return int(text) if text.lstrip("-").isdigit() else text


def add_plot_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("kind", choices=PLOT_KINDS, help="what to plot")
    p.add_argument("file", help="a store (with results, except for conn, 2dnet and shape)")
    p.add_argument("-o", "--output", required=True, metavar="OUT.png",
                   help="figure file: .png, .svg or .pdf")
    p.add_argument("--run", default="-1", help="run name or index (default: the latest)")
    p.add_argument("--pops", nargs="+", metavar="POP", help="only these populations")
    p.add_argument("--time", nargs=2, type=float, metavar=("T0", "T1"),
                   help="time window in ms (default: the whole run)")
    p.add_argument("--sensor", nargs=3, type=float, action="append", metavar=("X", "Y", "Z"),
                   help="meg: a sensor position in µm (repeatable; default 10 mm along x, y, z)")
    p.add_argument("--color-by", metavar="VAR",
                   help="shape: colour sections by a geometry value (diam), 'mech.param', "
                        "numSyns, 'trace:<var>' (recordTraces, e.g. trace:v) or imembrane "
                        "(saveIMembrane); recorded variables averaged over --time")
    p.add_argument("--at", type=float, metavar="MS",
                   help="shape: a recorded variable's value at this time instead of its mean")


def plot(args: argparse.Namespace) -> int:
    from ..cli import out
    from .plots import KINDS, save_figure

    extra = {"sensors": args.sensor} if args.kind == "meg" and args.sensor else {}
    if args.kind == "shape":
        extra = {"color_by": args.color_by, "at": args.at}
    fig = KINDS[args.kind](args.file, run_key(args.run), pops=args.pops,
                           time_range=tuple(args.time) if args.time else None, **extra)
    save_figure(fig, args.output)
    out(f"wrote {args.output}")
    return 0


def add_report_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", help="a store")
    p.add_argument("-o", "--output", metavar="OUT.html",
                   help="HTML file to write (default: STORE's name with .html)")
    p.add_argument("--run", default="-1", help="run name or index (default: the latest)")


def report(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..cli import out
    from .report import write_report

    dest = Path(args.output) if args.output else Path(args.file).with_suffix(".html")
    write_report(args.file, dest, run_key(args.run))
    out(f"wrote {dest}")
    return 0
