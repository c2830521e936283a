"""Shared helpers of the NeuroML2/LEMS file layer: errors, safe XML, quantities with units."""

from __future__ import annotations

import math
import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

from nethub.errors import FormatError

__all__ = ["NeuroMLError", "atomic_write", "check_no_dtd", "format_float", "local_tag",
           "parse_xml_bytes", "quantity", "to_ms"]


class NeuroMLError(FormatError):
    """A NeuroML2 or LEMS file that cannot be read or written (names the file and element)."""


_DTD = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


def check_no_dtd(data: bytes, path: str | os.PathLike) -> None:
    """Refuse XML with a DOCTYPE or ENTITY declaration (no entity expansion, no external DTDs).

    NeuroML2 and LEMS files never need one; refusing them rules out "billion laughs" and
    external-entity attacks whatever parser reads the text next (libNeuroML uses lxml).
    """
    match = _DTD.search(data)
    if match:
        line = data[:match.start()].count(b"\n") + 1
        raise NeuroMLError(f"{path}: line {line}: <!{match.group(1).decode()} ...> "
                           "declarations are not allowed in NeuroML2/LEMS files")


def parse_xml_bytes(data: bytes, path: str | os.PathLike) -> ET.Element:
    """Root element of ``data`` parsed with the standard library, after :func:`check_no_dtd`."""
    check_no_dtd(data, path)
    try:
        return ET.fromstring(data)
    except ET.ParseError as exc:
        raise NeuroMLError(f"{path}: not well-formed XML: {exc}") from exc


def local_tag(element: ET.Element) -> str:
    """Tag without its ``{namespace}``."""
    tag = element.tag
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


_QUANTITY = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([A-Za-z_0-9]*)\s*$")
_TIME_MS = {"s": 1e3, "ms": 1.0, "us": 1e-3, "min": 6e4, "hour": 3.6e6}


def quantity(text: str, where: str) -> tuple[float, str]:
    """Split a NeuroML quantity such as ``"0.01ms"`` or ``"6.3 degC"`` into (value, unit)."""
    match = _QUANTITY.match(text or "")
    if not match:
        raise NeuroMLError(f"{where}: {text!r} is not a number with an optional unit")
    return float(match.group(1)), match.group(2)


def to_ms(text: str, where: str) -> float:
    """A NeuroML time quantity (``"300ms"``, ``"0.5 s"``, ``"20us"``) in milliseconds."""
    value, unit = quantity(text, where)
    if unit not in _TIME_MS:
        raise NeuroMLError(f"{where}: unit {unit!r} of {text!r} is not a time unit "
                           f"(valid: {', '.join(_TIME_MS)})")
    return value * _TIME_MS[unit]


def atomic_write(path: str | os.PathLike, write: Callable[[str], None]) -> Path:
    """Call ``write(tmp_path)`` on a temporary file next to ``path``, then rename it to ``path``
    (:func:`nethub.store.atomic_path`): a failure leaves ``path`` as it was."""
    # imported here: the format registry loads this module to sniff, and nethub.store would add
    # h5py and pandas to it (134 -> 340 ms, formats/base.py)
    from nethub.store import atomic_path

    with atomic_path(path) as tmp:
        write(str(tmp))
    return Path(path)


def format_float(value) -> str:
    """Shortest text that reads back as the same float64 (``xs:float``/``xs:double`` form)."""
    x = float(value)
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "INF" if x > 0 else "-INF"
    return repr(x)
