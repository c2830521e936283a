"""Bit-exact, vectorized numpy re-implementation of NEURON's Random123 random streams.

NetPyNE draws all its randomness from NEURON's ``h.Random()`` in Random123 mode; Philox4x32-10 is
counter based, so draw ``k`` of a stream is a pure function of the stream key and ``k`` and many
streams and indices are computed at once. Everything here reproduces NEURON 9.0.x bit for bit.
The facts this relies on (with the NEURON sources), the floating-point rules and the measured
speed are in ``docs/design/random123.md``. This package imports neither ``neuron`` nor NetPyNE.

Modules: :mod:`.philox` (the generator), :mod:`.libm` (C-exact ``log``/``pow``/``exp``),
:mod:`.stream` (:class:`Random123Stream`), :mod:`.hocrandom` (:class:`NrnRandom`, a stateful
``h.Random()``), :mod:`.netpyne` (NetPyNE's hashes, positions and connectivity draws).
"""

from __future__ import annotations

from .hocrandom import NrnRandom
from .netpyne import (
    ProbConnRands,
    netpyne_density_samples,
    netpyne_hash_list,
    netpyne_hash_str,
    netpyne_positions,
    netpyne_prob_rands,
    netpyne_rand_unique_int,
    uniform_at,
)
from .philox import SHIFT32, philox4x32
from .stream import Random123Stream

__all__ = [
    "SHIFT32",
    "philox4x32",
    "Random123Stream",
    "NrnRandom",
    "ProbConnRands",
    "uniform_at",
    "netpyne_hash_str",
    "netpyne_hash_list",
    "netpyne_positions",
    "netpyne_density_samples",
    "netpyne_prob_rands",
    "netpyne_rand_unique_int",
]
