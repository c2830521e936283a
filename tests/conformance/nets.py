"""Small networks built from the NetPyNE tutorial specs in fixtures/ (shared by the
conformance tests of the NetPyNE and spec formats)."""

from __future__ import annotations

import functools
from pathlib import Path

from nethub.builder import build
from nethub.network import Network
from nethub.specs import load_spec

TUT = Path(__file__).resolve().parents[2] / "fixtures" / "specs" / "netpyne_tutorials"


@functools.cache
def _built(rel: str) -> Network:
    return build(*load_spec(TUT / rel))


def tutorial(rel: str) -> Network:
    """The network of a tutorial spec (``doc_code/tut2.py``: 40 cells, 2 populations)."""
    return _built(rel)
