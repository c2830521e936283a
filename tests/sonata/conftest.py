"""Shared paths of the SONATA fixtures (fixtures/sonata/README.md says where they come from)."""

from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "sonata"

