"""NWB (Neurodata Without Borders) export and import of simulation runs (docs/nwb.md)."""

from __future__ import annotations

from .plugin import NwbFormat

__all__ = ["NwbFormat"]
