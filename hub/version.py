"""nethub's version, in a module of its own so the model can name it without importing the package
root (which is a face: it imports the API)."""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
