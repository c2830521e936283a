"""On-disk formats of nethub: one plugin module per format, in one registry.

See :mod:`nethub.formats.base` for the plugin contract and :mod:`nethub.formats.registry` for
lookup by name, content and suffix.
"""

from .base import Document, Format, OptionError
from .registry import FormatRegistry, formats, get_format, guess_format, register, unregister

__all__ = [
    "Document",
    "Format",
    "FormatRegistry",
    "OptionError",
    "formats",
    "get_format",
    "guess_format",
    "register",
    "unregister",
]
