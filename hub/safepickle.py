"""A restricted unpickler for NetPyNE's pickles (saved output, cell rules).

It resolves only NetPyNE's dict classes (read as plain dicts), ``OrderedDict``, ``copyreg``'s
reconstructor and numpy arrays/scalars; any other global is an ``UnpicklingError``. It lowers
the risk of a pickle but does not remove it: reading one still needs the user's trust
(docs/safety.md). Shared in one place by :mod:`nethub.formats.netpyne` and
:mod:`nethub.specs.cellrules`.
"""

from __future__ import annotations

import copyreg
import pickle
from collections import OrderedDict
from typing import IO, Any

__all__ = ["load"]

_NUMPY_GLOBALS = {
    ("numpy", "dtype"), ("numpy", "ndarray"), ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"), ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
}


class _PickledDict(dict):
    """Stands in for NetPyNE's ``Dict``/``ODict`` and netParams classes while unpickling."""

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, dict):
            self.update(state)


class _Unpickler(pickle.Unpickler):
    """Resolves only NetPyNE's dict classes (as dicts), numpy data and ``OrderedDict``."""

    def find_class(self, module: str, name: str) -> Any:
        if module == "netpyne" or module.startswith("netpyne."):
            return _PickledDict
        if (module, name) == ("collections", "OrderedDict"):
            return OrderedDict
        if (module, name) == ("copyreg", "_reconstructor"):
            return copyreg._reconstructor
        if (module, name) in _NUMPY_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(
            f"the pickle refers to {module}.{name}, which nethub does not load (only NetPyNE's "
            "dict classes, numpy arrays and scalars, OrderedDict)")


def load(fh: IO[bytes]) -> Any:
    """Unpickle ``fh`` as NetPyNE wrote it (``encoding='latin1'``), resolving only the
    globals above."""
    return _Unpickler(fh, encoding="latin1").load()
