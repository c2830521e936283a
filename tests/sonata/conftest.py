"""Shared paths of the SONATA fixtures (fixtures/sonata/README.md says where they come from)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "sonata"


@pytest.fixture
def fixture_copy(tmp_path):
    """Copy a fixture folder to tmp_path before a test changes anything in it."""

    def copy(name: str) -> Path:
        dst = tmp_path / name
        shutil.copytree(FIXTURES / name, dst)
        return dst

    return copy
