"""Analysis of stored runs: data functions (pandas results) apart from drawing.

Every function takes a store path (or a :class:`RunData` from :func:`open_run`, or an in-memory
``(Results, Network)`` pair) and a ``run`` (name or position; ``-1``: the latest), and reads
only what it needs (partial reads by population, gid and time window)::

    >>> import nethub.analysis as na
    >>> na.population_rates("model.h5")  # doctest: +SKIP
    >>> na.spike_histogram("model.h5", bin_ms=5, pops=["E"], time_range=(0, 500))  # doctest: +SKIP

Elephant, Neo and LFPykit (``pip install 'nethub[analysis]'``) are imported only by the
functions that use them; matplotlib only by :mod:`nethub.analysis.plots`.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "data": ("open_run", "RunData", "Selection", "AnalysisError"),
    "spikes": ("spike_counts", "cell_rates", "population_rates", "spike_histogram",
               "population_rate_signals", "isi_stats", "synchrony"),
    "spectra": ("welch_psd", "rate_psd", "morlet_spectrogram", "rate_spectrogram"),
    "causality": ("granger", "spectral_granger", "granger_matrix", "transfer_entropy",
                  "normalized_transfer_entropy", "nte_matrix"),
    "connectivity": ("connectivity_matrix",),
    "recordings": ("traces", "spike_triggered_average", "fi_curve"),
    "extracellular": ("lfp", "csd", "dipole", "eeg", "meg"),
}
_WHERE = {name: mod for mod, names in _EXPORTS.items() for name in names}

__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module 'nethub.analysis' has no attribute {name!r}")
    module = importlib.import_module(f"{__name__}.{_WHERE[name]}")
    return getattr(module, name)
