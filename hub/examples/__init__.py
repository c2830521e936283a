"""Bundled example models (NetPyNE-style specs) used by the README's demo and the tests."""

from __future__ import annotations

from pathlib import Path

EXAMPLES_DIR = Path(__file__).parent


def example_path(name: str = "ei_net.py") -> Path:
    """Path of a bundled example file."""
    path = EXAMPLES_DIR / name
    if not path.exists():
        names = sorted(p.name for p in EXAMPLES_DIR.iterdir() if p.suffix in (".py", ".json")
                       and not p.name.startswith("_"))
        raise FileNotFoundError(f"no bundled example {name!r} (have: {', '.join(names)})")
    return path
