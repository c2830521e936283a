"""Spectra of population rates and of any sampled signal: Welch PSD (SciPy) and Morlet
wavelet spectrograms (Elephant's ``wavelet_transform``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import signal as _signal

from .data import AnalysisError, Source
from .spikes import population_rate_signals

__all__ = ["welch_psd", "rate_psd", "morlet_spectrogram", "rate_spectrogram"]


def welch_psd(x: np.ndarray, fs: float, nperseg: int | None = None,
              detrend: str | bool = "constant") -> tuple[np.ndarray, np.ndarray]:
    """Welch power spectral density (``scipy.signal.welch``, Hann windows, 50 % overlap,
    one-sided density). ``x`` has time on the last axis; returns ``(freqs, psd)``."""
    x = np.asarray(x, dtype=np.float64)
    n = x.shape[-1]
    if n < 2:
        raise AnalysisError("a PSD needs at least 2 samples")
    nperseg = min(n, nperseg or min(n, 256 * max(1, int(round(fs / 1000.0)))))
    return _signal.welch(x, fs=fs, nperseg=nperseg, detrend=detrend, axis=-1)


def rate_psd(source: Source, run: int | str = -1, bin_ms: float = 1.0, pops=None,
             time_range=None, nperseg: int | None = None) -> pd.DataFrame:
    """Welch PSD of each population's rate signal (binned every ``bin_ms``).

    Returns
    -------
    pandas.DataFrame
        Index ``freq`` (Hz), one column per population (Hz²/Hz).
    """
    rates = population_rate_signals(source, run, bin_ms, pops, time_range)
    freqs, psd = welch_psd(rates.to_numpy().T, 1000.0 / bin_ms, nperseg)
    return pd.DataFrame(np.atleast_2d(psd).T, index=pd.Index(freqs, name="freq"),
                        columns=rates.columns)


def morlet_spectrogram(x: np.ndarray, fs: float, freqs: np.ndarray,
                       n_cycles: float = 6.0) -> np.ndarray:
    """Power (|W|²) of the Morlet wavelet transform of a 1-D signal at ``freqs`` (Hz):
    ``elephant.signal_processing.wavelet_transform``. Shape ``(len(freqs), len(x))``."""
    from ._lazy import elephant_module

    sp = elephant_module("elephant.signal_processing")
    x = np.asarray(x, dtype=np.float64)
    w = sp.wavelet_transform(x - x.mean(), list(np.asarray(freqs, dtype=float)),
                             n_cycles=n_cycles, sampling_frequency=fs)
    return np.abs(np.asarray(w)) ** 2


def rate_spectrogram(source: Source, run: int | str = -1, pop: str | None = None,
                     bin_ms: float = 1.0, freqs=None, time_range=None,
                     n_cycles: float = 6.0) -> pd.DataFrame:
    """Morlet spectrogram of one population's rate (all cells together when ``pop`` is None).

    Returns
    -------
    pandas.DataFrame
        Index ``freq`` (Hz), columns ``time`` (ms), values power.
    """
    fs = 1000.0 / bin_ms
    freqs = np.arange(2.0, min(100.0, fs / 2.0), 2.0) if freqs is None else np.asarray(freqs)
    if pop is None:
        from .spikes import spike_histogram

        rates = spike_histogram(source, run, bin_ms, None, None, time_range, "rate",
                                by_pop=False)
        x = rates["all"].to_numpy()
    else:
        rates = population_rate_signals(source, run, bin_ms, [pop], time_range)
        x = rates[pop].to_numpy()
    power = morlet_spectrogram(x, fs, freqs, n_cycles)
    return pd.DataFrame(power, index=pd.Index(freqs, name="freq"),
                        columns=pd.Index(rates.index.to_numpy(), name="time"))
