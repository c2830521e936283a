"""NetPyNE's ``simConfig.analysis`` honoured after ``nethub run``.

NetPyNE calls, for every ``name: kwargs`` of ``cfg.analysis``, the function of that name in
``netpyne.plotting`` or ``netpyne.analysis``. Here every such name is either mapped to a nethub
figure (:data:`MAPPED`: plot kind, and how its NetPyNE arguments translate) or refused with the
reason (:data:`REFUSED`); any other name is an error listing the valid ones. Figures are
written as NetPyNE's ``saveFig`` does: to ``saveFig`` when it is a path, else to
``<filename>_<suffix>.png`` beside the store (``filename``: simConfig ``filename``, else the
store's name without suffix). NetPyNE's ``showFig`` is ignored (headless).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .data import AnalysisError

__all__ = ["MAPPED", "REFUSED", "plan_analysis", "run_netpyne_analysis", "report_analysis"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Mapped:
    """A NetPyNE analysis function drawn by a nethub plot kind."""

    kind: str
    suffix: str
    #: NetPyNE argument -> nethub keyword of the figure function
    args: Mapping[str, str] = field(default_factory=dict)
    fixed: Mapping[str, Any] = field(default_factory=dict)


_COMMON = {"include": "pops", "timeRange": "time_range"}

MAPPED: dict[str, Mapped] = {
    "plotRaster": Mapped("raster", "raster", {**_COMMON, "orderBy": "order_by"}),
    "plotSpikeHist": Mapped("spikehist", "spikeHist", {**_COMMON, "binSize": "bin_ms"}),
    "plotSpikeFreq": Mapped("spikehist", "spikeFreq", {**_COMMON, "binSize": "bin_ms"},
                            {"measure": "rate"}),
    "plotRates": Mapped("rates", "rates", _COMMON),
    "plotSpikeStats": Mapped("spikestats", "spikeStats", _COMMON),
    "plotSyncs": Mapped("syncs", "syncs", _COMMON),
    "plotRatePSD": Mapped("ratepsd", "ratePSD", {**_COMMON, "binSize": "bin_ms",
                                                 "maxFreq": "max_freq"}),
    "plotRateSpectrogram": Mapped("spectrogram", "rateSpectrogram",
                                  {**_COMMON, "binSize": "bin_ms"}),
    "plotTraces": Mapped("traces", "traces", {**_COMMON, "include": "gids_or_pops"}),
    "plotConn": Mapped("conn", "conn", {"includePre": "pops", "feature": "feature",
                                        "groupBy": "level"}),
    "plot2Dnet": Mapped("2dnet", "2Dnet", {"include": "pops", "view": "view"}),
    "plotShape": Mapped("shape", "shape", {"includePost": "pops", "cvar": "color_by"}),
    "granger": Mapped("granger", "granger", {"timeRange": "time_range"}),
    "nTE": Mapped("nte", "nTE", {"timeRange": "time_range"}),
    "plotLFP": Mapped("lfp", "LFP", {"timeRange": "time_range"}),
    "plotLFPTimeSeries": Mapped("lfp", "LFPTimeSeries", {"timeRange": "time_range"}),
    "plotLFPPSD": Mapped("lfppsd", "LFPPSD", {"timeRange": "time_range"}),
    "plotLFPSpectrogram": Mapped("lfpspectrogram", "LFPSpectrogram",
                                 {"timeRange": "time_range"}),
    "plotLFPLocations": Mapped("lfplocations", "LFPLocations", {}),
    "plotCSD": Mapped("csd", "CSD", {"timeRange": "time_range"}),
    "plotDipole": Mapped("dipole", "dipole", {"timeRange": "time_range"}),
}

REFUSED: dict[str, str] = {
    "plotEEG": "EEG (four-sphere head model) is not computed by nethub",
    "plotDipolePSD": "dipole spectra are not drawn; use nethub.analysis.dipole() and "
                     "nethub.analysis.welch_psd()",
    "plotDipoleSpectrogram": "dipole spectrograms are not drawn; use "
                             "nethub.analysis.dipole() and morlet_spectrogram()",
    "plot2Dfiring": "2-D firing maps are not drawn; use 'plot2Dnet' with cell_rates()",
    "plotfI": "f-I curves need one run per amplitude; use nethub.analysis.fi_curve()",
    "plotEPSPAmp": "EPSP amplitude plots are not drawn; use nethub.analysis.traces()",
    "plotRxDConcentration": "RxD concentrations are not recorded by nethub",
    "plotCSDTimeSeries": "CSD time series panels are not drawn; use 'plotCSD'",
    "plotCSDPSD": "CSD spectra are not drawn; use nethub.analysis.csd() and welch_psd()",
    **{k: "interactive (bokeh) plots are not available: use the static plot of the same name"
       for k in ("iplotDipole", "iplotDipoleSpectrogram", "iplotDipolePSD", "iplotRaster",
                 "iplotSpikeHist", "iplotRatePSD", "iplotTraces", "iplotLFP", "iplotConn",
                 "iplotRxDConcentration", "iplot2Dnet", "iplotSpikeStats")},
}


def plan_analysis(analysis: Mapping[str, Any], where: str = "simConfig.analysis"
                  ) -> tuple[list[tuple[str, Mapped, dict]], dict[str, str]]:
    """Split ``cfg.analysis`` into figures to draw and refused keys (with reasons).

    Raises
    ------
    AnalysisError
        A key NetPyNE does not know either, or arguments that are not a dict/True/False.
    """
    todo, refused = [], {}
    for key, kwargs in analysis.items():
        if kwargs is False or kwargs is None:
            continue
        if key in REFUSED:
            refused[key] = REFUSED[key]
            continue
        if key not in MAPPED:
            raise AnalysisError(f"{where}['{key}']: unknown analysis (valid: "
                                f"{', '.join(sorted([*MAPPED, *REFUSED]))})")
        if kwargs is True:
            kwargs = {}
        if not isinstance(kwargs, Mapping):
            raise AnalysisError(f"{where}['{key}']: expected True, False or a dict of "
                                f"arguments, got {type(kwargs).__name__}")
        if key == "plotLFP" and kwargs.get("plots"):
            todo += [(key, _LFP_PLOTS[p], dict(kwargs)) for p in _lfp_plots(kwargs, where)]
            continue
        todo.append((key, MAPPED[key], dict(kwargs)))
    return todo, refused


_LFP_PLOTS = {"timeSeries": MAPPED["plotLFPTimeSeries"], "PSD": MAPPED["plotLFPPSD"],
              "spectrogram": MAPPED["plotLFPSpectrogram"],
              "locations": MAPPED["plotLFPLocations"]}


def _lfp_plots(kwargs: Mapping, where: str) -> list[str]:
    plots = kwargs["plots"]
    plots = [plots] if isinstance(plots, str) else list(plots)
    bad = [p for p in plots if p not in _LFP_PLOTS]
    if bad:
        raise AnalysisError(f"{where}['plotLFP']['plots']: unknown {bad} "
                            f"(valid: {', '.join(_LFP_PLOTS)})")
    return plots


def _translate(key: str, m: Mapped, kwargs: dict, where: str) -> tuple[dict, Any]:
    out: dict[str, Any] = dict(m.fixed)
    save = kwargs.get("saveFig")
    for name, value in kwargs.items():
        target = m.args.get(name)
        if target is None:
            if name not in ("saveFig", "showFig", "saveData", "figSize", "fontSize", "dpi"):
                logger.info("%s['%s']: argument %r not used by nethub", where, key, name)
            continue
        if target == "gids_or_pops":
            vals = [value] if isinstance(value, (str, int)) else list(value or [])
            gids = [int(v) for v in vals if isinstance(v, int) and not isinstance(v, bool)]
            if gids:
                out["gids"] = gids
            target, value = "pops", [v for v in vals if isinstance(v, str)]
        if target == "pops":
            value = _include(value)
            if value is None:
                continue
        if target == "level":
            value = "cell" if value == "cell" else "pop"
        out[target] = value
    return out, save


def _include(value) -> list[str] | None:
    """NetPyNE's ``include`` -> population names (None: all)."""
    if isinstance(value, str):
        value = [value]
    pops = [v for v in (value or []) if isinstance(v, str) and v not in ("all", "allCells",
                                                                          "allNetStims")]
    return pops or None


def run_netpyne_analysis(store: str | Path, analysis: Mapping[str, Any], run: int | str = -1,
                         filename: str | None = None) -> tuple[list[Path], dict[str, str]]:
    """Draw every figure ``analysis`` (NetPyNE's ``simConfig.analysis``) asks for.

    Returns
    -------
    (list of Path, dict)
        The figure files written, and the refused keys with their reasons.
    """
    from .plots import KINDS, save_figure

    store = Path(store)
    todo, refused = plan_analysis(analysis)
    base = Path(filename) if filename else store.with_suffix("")
    if not base.is_absolute():
        base = store.parent / base.name
    written = []
    for key, m, kwargs in todo:
        args, save = _translate(key, m, kwargs, "simConfig.analysis")
        dest = Path(save) if isinstance(save, str) and save else Path(f"{base}_{m.suffix}.png")
        fn = KINDS[m.kind]
        tr = args.pop("time_range", None)
        fig = fn(store, run, pops=args.pop("pops", None),
                 time_range=tuple(tr) if tr else None, **args)
        written.append(save_figure(fig, dest))
    for key, why in refused.items():
        logger.warning("simConfig.analysis['%s'] refused: %s", key, why)
    return written, refused


def report_analysis(model: str | Path, res) -> None:
    """What ``nethub run`` does after a run whose simConfig has ``analysis``: draw the figures
    into files and say which were written and which keys were refused."""
    from ..cli import out

    store = Path(model)
    if store.suffix in (".py", ".json"):
        store = store.with_suffix(".h5")
    files, refused = run_netpyne_analysis(store, res.sim_config["analysis"], res.name or -1,
                                          res.sim_config.get("filename"))
    for f in files:
        out(f"analysis: wrote {f}")
    for key, why in refused.items():
        out(f"analysis: {key} refused: {why}")
