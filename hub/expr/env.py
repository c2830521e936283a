"""NetPyNE's contextual variables of an expression (cell coordinates, normalized coordinates,
pre/post distances, border correction), computed lazily per column for cells or candidate pairs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .functions import _XYZ, CELL_VARS, CONN_VARS, _as_float, _pow2


# ---------------------------------------------------------------------------------------------
# NetPyNE contextual variables
# ---------------------------------------------------------------------------------------------
class _Coords:
    """Lazy per-axis columns (``x`` ... ``znorm``) of one side's positions."""

    def __init__(self, xyz: Any, norm: Any, size_xyz: Any) -> None:
        self.xyz = _as_float(xyz)
        self.norm = None if norm is None else _as_float(norm)
        self.size = None if size_xyz is None else _as_float(size_xyz)

    def __getitem__(self, name: str) -> np.ndarray:
        i = _XYZ.index(name[0])
        if not name.endswith("norm"):
            return self.xyz[..., i]
        if self.norm is not None:
            return self.norm[..., i]
        if self.size is None:
            raise ValueError(f"'{name}' needs normalised positions: give either norm or size_xyz")
        return self.xyz[..., i] / self.size[i]


def cell_env(
    xyz: Any, norm: Any = None, size_xyz: Any = None, prefix: str = ""
) -> dict[str, np.ndarray]:
    """Cell location variables (``x``, ..., ``znorm``) for cell, stim or synMech expressions.

    Parameters
    ----------
    xyz : array_like, shape (..., 3)
        Cell positions in um.
    norm : array_like, shape (..., 3), optional
        Normalised positions; computed as ``xyz / size_xyz`` when omitted.
    size_xyz : array_like, shape (3,), optional
        Network size (``netParams.sizeX/Y/Z``); needed only when ``norm`` is omitted.
    prefix : str, optional
        Name prefix: ``''`` for :data:`CELL_VARS`, ``'post_'`` for :data:`STIM_VARS`.

    Returns
    -------
    dict of str to numpy.ndarray
        One array per variable.
    """
    side = _Coords(xyz, norm, size_xyz)
    return {prefix + name: side[name] for name in sorted(CELL_VARS)}


def border_correction(xyz: Any, low: Any, high: Any, threshold: Any) -> np.ndarray:
    """NetPyNE's per-cell ``borderCorrect``: ``max(0, threshold - distance to nearest border)``.

    Parameters
    ----------
    xyz : array_like, shape (..., 3)
        Cell positions in um.
    low, high : array_like, shape (..., 3)
        Borders per axis (NetPyNE: ``correctBorder['xborders']`` times ``sizeX``, else the
        population's ``xRange`` or ``xnormRange * sizeX``, else ``[0, sizeX]``).
    threshold : array_like, shape (3,)
        ``netParams.correctBorder['threshold']``.

    Returns
    -------
    numpy.ndarray
        Corrections of shape ``(..., 3)``.
    """
    xyz = _as_float(xyz)
    dist = np.minimum(np.abs(xyz - _as_float(low)), np.abs(xyz - _as_float(high)))
    return np.maximum(0.0, _as_float(threshold) - dist)


def _dist_vars(pre: _Coords, post: _Coords) -> dict[str, Callable[[], np.ndarray]]:
    d = {c: (lambda c=c: np.abs(pre[c] - post[c])) for c in _XYZ}
    dn = {c: (lambda c=c: np.abs(pre[c + "norm"] - post[c + "norm"])) for c in _XYZ}
    return {
        **{f"dist_{c}": d[c] for c in _XYZ},
        **{f"dist_{c}norm": dn[c] for c in _XYZ},
        "dist_3D": lambda: np.sqrt(_pow2(d["x"]()) + _pow2(d["y"]()) + _pow2(d["z"]())),
        "dist_2D": lambda: np.sqrt(_pow2(d["x"]()) + _pow2(d["z"]())),
        "dist_norm3D": lambda: np.sqrt(dn["x"]() ** 2 + dn["y"]() ** 2 + dn["z"]() ** 2),
        "dist_norm2D": lambda: np.sqrt(dn["x"]() ** 2 + dn["z"]() ** 2),
    }


def conn_env(
    pre_xyz: Any,
    post_xyz: Any,
    pre_norm: Any = None,
    post_norm: Any = None,
    size_xyz: Any = None,
    *,
    post_border: Any = None,
    clip_border: bool = False,
    names: set[str] | frozenset[str] | None = None,
) -> dict[str, np.ndarray]:
    """Connection variables (:data:`CONN_VARS`) for arrays of pre/post cell pairs.

    ``dist_2D`` is in the x-z plane, ``sqrt(dx**2 + dz**2)`` (y is cortical depth); the
    normalised distances are Euclidean, as NetPyNE documents (its code has a bug, see the module
    docstring). ``dist_3D_border`` follows NetPyNE's code (undocumented):
    ``sqrt(sum_i (|d_i| - b_i)**2)`` with ``b`` the post cell's :func:`border_correction`;
    NetPyNE's formula makes pairs closer than ``b_i`` along an axis *farther* apart, and
    ``clip_border=True`` uses ``max(|d_i| - b_i, 0)`` instead.

    Parameters
    ----------
    pre_xyz, post_xyz : array_like, shape (..., 3)
        Positions in um, broadcast together (e.g. ``(n, 3)`` pair arrays, or ``(npre, 1, 3)``
        and ``(1, npost, 3)`` for a grid).
    pre_norm, post_norm : array_like, shape (..., 3), optional
        Normalised positions; ``xyz / size_xyz`` when omitted.
    size_xyz : array_like, shape (3,), optional
        Network size; needed only when a normalised position is omitted.
    post_border : array_like, shape (..., 3), optional
        Post cells' border corrections; zero (``dist_3D_border == dist_3D``) when omitted.
    clip_border : bool, optional
        Clip each corrected axis distance at zero (see above).
    names : set of str, optional
        Compute only these variables (e.g. ``expr.variables``); all of them by default.

    Returns
    -------
    dict of str to numpy.ndarray
        One array per requested variable.
    """
    wanted = CONN_VARS if names is None else frozenset(names) & CONN_VARS
    pre = _Coords(pre_xyz, pre_norm, size_xyz)
    post = _Coords(post_xyz, post_norm, size_xyz)
    lazy: dict[str, Callable[[], np.ndarray]] = {
        **{"pre_" + k: (lambda k=k: pre[k]) for k in CELL_VARS},
        **{"post_" + k: (lambda k=k: post[k]) for k in CELL_VARS},
        **_dist_vars(pre, post),
    }
    border = np.zeros(3) if post_border is None else _as_float(post_border)

    def dist_border() -> np.ndarray:
        total = 0.0
        for i, c in enumerate(_XYZ):
            t = np.abs(pre[c] - post[c]) - border[..., i]
            total = total + _pow2(np.maximum(t, 0.0) if clip_border else t)
        return np.sqrt(total)

    lazy["dist_3D_border"] = dist_border
    return {name: lazy[name]() for name in sorted(wanted)}
