"""The report of ``nethub verify``: a verdict, what differs, and what could not be checked."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .verifycompare import Change, Check

__all__ = ["VerifyReport"]


@dataclass
class VerifyReport:
    """What :func:`nethub.verify` found.

    Attributes
    ----------
    ok : bool
        The results agree (spikes bit for bit, traces/LFP within tolerance), the store is
        unaltered, the manifest (if any) matches and the re-run succeeded.
    results : list of Check
        Spikes, traces, trace groups, LFP.
    integrity : list of dict
        Changed bytes since the run was written (``where``, ``what``), empty when unaltered.
    manifest : list of dict
        Differences from the manifest (``where``, ``what``).
    changes : list of Change
        Rank count, engine, merging, network hash, RunConfig fields that differ.
    environment : list of Change
        Software and platform differences (Python, NEURON, nethub, numpy, MPI, compiler, ...).
    notes : list of str
        What could not be checked, and why.
    """

    store: str
    run: str
    tolerance: dict[str, float]
    results: list[Check] = field(default_factory=list)
    integrity: list[dict[str, Any]] = field(default_factory=list)
    manifest: list[dict[str, Any]] = field(default_factory=list)
    manifest_file: str | None = None
    changes: list[Change] = field(default_factory=list)
    environment: list[Change] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    hashes: dict[str, str] = field(default_factory=dict)
    rerun: dict[str, Any] = field(default_factory=dict)
    rerun_error: str | None = None
    timing: dict[str, float] = field(default_factory=dict)
    integrity_recorded: bool = True
    ok: bool = False

    @property
    def results_match(self) -> bool | None:
        """True/False after a re-run; None when none was made (or it failed)."""
        if not self.results:
            return None
        return not any(c.failed for c in self.results)

    @property
    def altered(self) -> bool:
        """Whether the store (or the manifest's view of it) changed since it was written."""
        return bool(self.integrity or self.manifest)

    def finish(self) -> VerifyReport:
        self.ok = (not self.altered and self.rerun_error is None
                   and self.results_match is not False)
        return self

    @property
    def verdict(self) -> str:
        parts = []
        if self.rerun_error is not None:
            parts.append("the re-run failed")
        elif self.results_match is True:
            parts.append("results reproduced")
        elif self.results_match is False:
            parts.append("results DIFFER")
        if self.integrity:
            parts.append(f"store ALTERED ({len(self.integrity)} change(s))")
        if self.manifest:
            parts.append(f"manifest MISMATCH ({len(self.manifest)})")
        if not self.integrity and not self.manifest:
            parts.append("store unaltered")
        return ("OK: " if self.ok else "FAILED: ") + ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (``nethub verify --json``)."""
        return {
            "store": self.store, "run": self.run, "ok": self.ok, "verdict": self.verdict,
            "results_match": self.results_match, "altered": self.altered,
            "tolerance": self.tolerance, "results": [c.to_dict() for c in self.results],
            "integrity": self.integrity, "manifest": self.manifest,
            "manifest_file": self.manifest_file,
            "changes": [c.to_dict() for c in self.changes],
            "environment": [c.to_dict() for c in self.environment],
            "notes": self.notes, "hashes": self.hashes, "rerun": self.rerun,
            "rerun_error": self.rerun_error, "timing": self.timing,
            "integrity_recorded": self.integrity_recorded,
        }

    def text(self) -> str:
        """The plain-text report (``nethub verify``)."""
        lines = [f"{self.store}, run {self.run!r}: {self.verdict}", ""]
        if self.rerun_error:
            lines += ["re-run failed:", f"  {self.rerun_error}", ""]
        if self.results:
            tol = self.tolerance
            lines.append(f"results (spikes bit for bit; traces and LFP |new - old| <= "
                         f"{tol['atol']:g} + {tol['rtol']:g} |old|):")
            lines += [f"  {c.name:<24} {c.status:<17} {c.detail}" for c in self.results]
            lines.append("")
        lines.append("integrity (hashes recorded when the run was written):")
        unaltered = ("unaltered" if self.integrity_recorded else "no hashes recorded with "
                     "this run: only the network's content hash was checked, and it matches")
        lines += [f"  CHANGED {d['what']}" for d in self.integrity] or [f"  {unaltered}"]
        if self.manifest_file:
            lines += ["", f"manifest {self.manifest_file}:"]
            lines += [f"  MISMATCH {d['what']}" for d in self.manifest] or ["  matches"]
        for title, items in (("run differences", self.changes),
                             ("software and platform differences", self.environment)):
            if items:
                lines += ["", f"{title}:"]
                lines += [f"  {c.what}: {c.old} -> {c.new}" for c in items]
        if self.notes:
            lines += ["", "notes:"] + [f"  {n}" for n in self.notes]
        return "\n".join(lines)
