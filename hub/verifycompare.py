"""Compare a stored run with its re-simulation: results, configuration, software, platform.

Spikes must be equal bit for bit; traces and LFP within ``|new - old| <= atol + rtol |old|``
(both 0 asks for bit-identical values). Each comparison is a :class:`Check`; software,
platform, engine, merging and rank count differences are :class:`Change` items, reported but
not failures (results are rank-invariant and should not depend on them; when they do, the
results checks fail and the changes say what to suspect).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .results import Results, Traces

__all__ = ["Check", "Change", "compare_results", "compare_environment", "compare_runs"]

_SHOW = 5


@dataclass
class Check:
    """One comparison: ``status`` is 'identical', 'within tolerance', 'differs' or 'absent'."""

    name: str
    status: str
    detail: str = ""

    @property
    def failed(self) -> bool:
        return self.status == "differs"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Change:
    """A fact that differs between the original run and the re-run (``old`` -> ``new``)."""

    what: str
    old: Any
    new: Any

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ----------------------------------------------------------------------------- results
def compare_spikes(old: Results, new: Results) -> Check:
    """Spikes bit for bit; when they differ, the first differing spike and the gids whose
    counts changed."""
    t0, g0, t1, g1 = old.spike_times, old.spike_gids, new.spike_times, new.spike_gids
    if len(t0) == len(t1) and np.array_equal(t0.view(np.int64), t1.view(np.int64)) \
            and np.array_equal(g0, g1):
        return Check("spikes", "identical", f"{len(t0):,} spikes, bit for bit")
    n = min(len(t0), len(t1))
    same = (t0[:n].view(np.int64) == t1[:n].view(np.int64)) & (g0[:n] == g1[:n])
    first = int(np.argmin(same)) if not same.all() else n
    parts = [f"{len(t0):,} stored vs {len(t1):,} re-simulated spikes"]
    if first < n:
        parts.append(f"first difference at spike {first}: stored (t={float(t0[first])!r} ms, "
                     f"gid {int(g0[first])}), re-run (t={float(t1[first])!r} ms, gid "
                     f"{int(g1[first])})")
    elif len(t0) != len(t1):
        longer = old if len(t0) > len(t1) else new
        parts.append(f"equal up to spike {n}; then only the "
                     f"{'stored' if longer is old else 're-run'} spikes go on")
    gids = np.union1d(g0, g1)
    c0 = np.bincount(np.searchsorted(gids, g0), minlength=len(gids))
    c1 = np.bincount(np.searchsorted(gids, g1), minlength=len(gids))
    bad = np.flatnonzero(c0 != c1)
    if len(bad):
        shown = ", ".join(f"gid {int(gids[i])}: {int(c0[i])} -> {int(c1[i])}"
                          for i in bad[:_SHOW])
        parts.append(f"{len(bad)} cell(s) with a different spike count ({shown}"
                     f"{', ...' if len(bad) > _SHOW else ''})")
    return Check("spikes", "differs", "; ".join(parts))


def compare_arrays(name: str, old: np.ndarray | None, new: np.ndarray | None, atol: float,
                   rtol: float) -> Check:
    """Two arrays equal bit for bit, within ``atol + rtol |old|``, or not."""
    if old is None and new is None:
        return Check(name, "absent", "recorded in neither run")
    if old is None or new is None:
        only = "re-run" if old is None else "stored run"
        return Check(name, "differs", f"recorded only in the {only}")
    old, new = np.asarray(old), np.asarray(new)
    if old.shape != new.shape:
        return Check(name, "differs", f"shape {old.shape} stored, {new.shape} re-simulated")
    if np.array_equal(old, new, equal_nan=True):
        return Check(name, "identical", f"{old.size:,} values, bit for bit")
    diff = np.abs(new.astype(np.float64) - old.astype(np.float64))
    allowed = atol + rtol * np.abs(old.astype(np.float64))
    nan_mismatch = np.isnan(old) != np.isnan(new)
    worst = np.nanargmax(np.where(np.isnan(diff), -1, diff))
    where = tuple(int(i) for i in np.unravel_index(worst, old.shape))
    text = (f"max |difference| {float(diff.flat[worst]):.3g} at {where} "
            f"(atol {atol:g}, rtol {rtol:g})")
    if not nan_mismatch.any() and np.all((diff <= allowed) | np.isnan(old)):
        return Check(name, "within tolerance", text)
    n_bad = int(np.count_nonzero(~(diff <= allowed) & ~(np.isnan(old) & np.isnan(new))))
    return Check(name, "differs", f"{n_bad:,} of {old.size:,} values out of tolerance; {text}")


def compare_traces(name: str, old: Traces, new: Traces, atol: float, rtol: float
                   ) -> list[Check]:
    """A trace set: the same recorded variables at the same times, values within tolerance."""
    if len(old) == 0 and len(new) == 0:
        return []
    if not old.index.equals(new.index):
        return [Check(name, "differs", f"{len(old)} stored vs {len(new)} re-simulated "
                      "traces, or other variables/cells")]
    if not np.array_equal(old.time, new.time):
        return [Check(name, "differs", "sample times differ")]
    return [compare_arrays(name, old.data, new.data, atol, rtol)]


def compare_results(old: Results, new: Results, atol: float, rtol: float) -> list[Check]:
    """Every recorded result of the two runs compared."""
    checks = [compare_spikes(old, new)]
    checks += compare_traces("traces", old.traces, new.traces, atol, rtol)
    for key in sorted(set(old.trace_groups) | set(new.trace_groups)):
        a, b = old.trace_groups.get(key), new.trace_groups.get(key)
        if a is None or b is None:
            only = "re-run" if a is None else "stored run"
            checks.append(Check(f"trace_groups/{key}", "differs", f"recorded only in the {only}"))
        else:
            checks += compare_traces(f"trace_groups/{key}", a, b, atol, rtol)
    if old.lfp is not None or new.lfp is not None:
        checks.append(compare_arrays("lfp", old.lfp, new.lfp, atol, rtol))
        for key in ("lfp_time", "electrodes"):
            if getattr(old, key) is not None or getattr(new, key) is not None:
                checks.append(compare_arrays(f"lfp/{key}", getattr(old, key),
                                             getattr(new, key), 0.0, 0.0))
    for key in sorted(set(old.lfp_extra) | set(new.lfp_extra)):
        checks.append(compare_arrays(f"lfp/{key}", old.lfp_extra.get(key),
                                     new.lfp_extra.get(key), atol, rtol))
    return checks


# ----------------------------------------------------------------------------- context
def _flat(prefix: str, d: Any) -> dict[str, Any]:
    if not isinstance(d, dict):
        return {prefix: d}
    out: dict[str, Any] = {}
    for k, v in d.items():
        out.update(_flat(f"{prefix}.{k}" if prefix else str(k), v))
    return out


def compare_environment(old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    """Software and platform facts that differ (``versions`` and ``environment`` merged);
    a fact the original run did not record is reported as ``not recorded``."""
    a, b = _flat("", old), _flat("", new)
    out = []
    for key in sorted(set(a) | set(b)):
        if key in ("mpi_ranks",):
            continue  # the rank count is its own change
        if a.get(key) != b.get(key):
            out.append(Change(key, a.get(key, "not recorded"), b.get(key, "not recorded")))
    return out


def compare_runs(old: Results, new: Results) -> list[Change]:
    """Engine, synapse merging, rank count, network hash and RunConfig fields that differ."""
    out = []
    if old.nranks != new.nranks:
        out.append(Change("rank count", old.nranks, new.nranks))
    for key in ("engine", "exactness"):
        if old.meta.get(key) != new.meta.get(key):
            out.append(Change(key, old.meta.get(key, "not recorded"),
                              new.meta.get(key, "not recorded")))
    syn_old = (old.meta.get("synapse_objects") or {}).get("objects")
    syn_new = (new.meta.get("synapse_objects") or {}).get("objects")
    if syn_old != syn_new:
        out.append(Change("synapse objects (merging)", syn_old, syn_new))
    if old.network_hash and old.network_hash != new.network_hash:
        out.append(Change("network content hash", old.network_hash, new.network_hash))
    a = {k: v for k, v in old.run_config.items() if k not in ("nranks", "timeout")}
    b = {k: v for k, v in new.run_config.items() if k not in ("nranks", "timeout")}
    for key in sorted(set(a) | set(b)):
        if a and a.get(key) != b.get(key):
            out.append(Change(f"run_config.{key}", a.get(key), b.get(key)))
    return out
