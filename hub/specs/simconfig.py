"""NetPyNE-compatible ``SimConfig`` (``cfg``): simulation options with attribute and item access.

Every option NetPyNE 1.1 knows (:data:`nethub.specs.schema.SIMCONFIG_KEYS`) starts at NetPyNE's
default and is type-checked when set. As in NetPyNE, models may add their own attributes
(``cfg.myParam = 5``, read back as ``cfg.myParam`` in netParams files); those are kept and
recorded as *user attributes* (:attr:`SimConfig.user_attributes`).
"""

from __future__ import annotations

import copy
import json
import logging
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from ..errors import SpecError
from .netparams import _items, _read_json, _UserAttrs, dotify, to_plain
from .schema import (
    SIMCONFIG_KEYS,
    jsonable_problems,
    problems_error,
    show,
    value_problems,
)

__all__ = ["SimConfig"]

logger = logging.getLogger(__name__)

_SAVE_FLAGS = ("savePickle", "saveJson", "saveMat", "saveCSV", "saveDpk", "saveHDF5", "saveDat")


class SimConfig(_UserAttrs):
    """Simulation configuration in NetPyNE's ``simConfig`` format.

    Parameters
    ----------
    simConfigDict : Mapping, optional
        Initial values, as accepted by ``netpyne.specs.SimConfig(simConfigDict)``.

    Examples
    --------
    >>> cfg = SimConfig()
    >>> cfg.duration = 500
    >>> cfg.analysis['plotRaster'] = {'saveFig': True}
    >>> cfg.myGain = 2.0          # a user attribute, as in NetPyNE
    >>> cfg.user_attributes
    ('myGain',)
    """

    _WHAT = "cfg"
    _KEYS = SIMCONFIG_KEYS
    _NOUN = "option"

    def __init__(self, simConfigDict: Mapping | None = None):  # noqa: N803
        object.__setattr__(self, "_user_attrs", [])
        for name, key in SIMCONFIG_KEYS.items():
            if key.has_default:
                object.__setattr__(self, name, dotify(copy.deepcopy(key.default)))
        for name, value in _items(simConfigDict or {}):
            setattr(self, name, dotify(value))

    # -- attribute protocol ------------------------------------------------------------------

    def __setattr__(self, name: str, value: Any) -> None:
        if not isinstance(name, str):
            raise SpecError(f"cfg attribute names must be strings, got {show(name)}")
        if name in SIMCONFIG_KEYS:
            problems = value_problems(SIMCONFIG_KEYS[name], value, f"cfg.{name}")
            if problems:
                raise problems_error(f"cfg.{name}", problems)
        elif not name.startswith("_"):
            self._set_user_attr(name, value)
            return
        object.__setattr__(self, name, value)

    def __iter__(self) -> Iterator[str]:
        return iter([k for k in vars(self) if not k.startswith("_")])

    def __repr__(self) -> str:
        return f"SimConfig(duration={self.duration!r}, dt={self.dt!r}, user={self._user_attrs})"

    # -- NetPyNE API -------------------------------------------------------------------------

    def setParam(self, param: str, value: Any) -> None:  # noqa: N802
        """Set one option (``cfg.setParam('duration', 500)``)."""
        setattr(self, param, value)

    def addAnalysis(self, func: str, params: Any) -> None:  # noqa: N802
        """Request an analysis function: ``cfg.analysis[func] = params``."""
        self.analysis[func] = params

    def update(self, simConfigDict: Mapping | None = None, **kwargs: Any) -> None:  # noqa: N803
        """Set several attributes; without arguments a no-op.

        NetPyNE's batch tools replace this method to apply batch parameters; model cfg files
        therefore often end with a bare ``cfg.update()``.
        """
        for name, value in _items(dict(simConfigDict or {}, **kwargs)):
            setattr(self, name, value)

    def validateDataSaveOptions(self, printWarning: bool = True) -> bool:  # noqa: N802, N803
        """Whether any output format is enabled (NetPyNE API; logs instead of printing)."""
        if any(getattr(self, flag) for flag in _SAVE_FLAGS):
            return True
        if printWarning:
            logger.warning("no output format enabled (cfg.saveJson, cfg.savePickle, ...)")
        return False

    # -- validation and (de)serialisation -----------------------------------------------------

    def problems(self) -> list[str]:
        """Every finding as ``"cfg.<key path>: <what is wrong>"`` (empty when valid)."""
        out: list[str] = []
        for name, value in vars(self).items():
            if name in SIMCONFIG_KEYS:
                out += value_problems(SIMCONFIG_KEYS[name], value, f"cfg.{name}")
            elif name in self._user_attrs:
                out += jsonable_problems(value, f"cfg.{name}")
        return out

    def validate(self) -> None:
        """Raise :class:`~nethub.errors.SpecError` listing every finding, if any."""
        problems = self.problems()
        if problems:
            raise problems_error("simConfig", problems)

    def to_dict(self, validate: bool = True) -> dict:
        """Plain, JSON-compatible dict of every option and user attribute.

        Parameters
        ----------
        validate : bool
            Run :meth:`validate` first (default).

        Returns
        -------
        dict
        """
        if validate:
            self.validate()
        return {name: to_plain(value, f"cfg.{name}") for name, value in vars(self).items()
                if not name.startswith("_")}

    todict = to_dict

    @classmethod
    def from_dict(cls, data: Mapping, validate: bool = True) -> SimConfig:
        """Build from a simConfig dict or a dict holding one under ``'simConfig'``.

        Parameters
        ----------
        data : Mapping
            A simConfig dict, or NetPyNE saved output (``{'simConfig': {...}, ...}``).
        validate : bool
            Validate after building (default).

        Returns
        -------
        SimConfig
        """
        if not isinstance(data, Mapping):
            raise SpecError(f"simConfig: expected dict, got {show(data)}")
        if isinstance(data.get("simConfig"), Mapping):
            data = data["simConfig"]
        obj = cls(data)
        if validate:
            obj.validate()
        return obj

    @classmethod
    def from_json(cls, path: str | os.PathLike, validate: bool = True) -> SimConfig:
        """Read a JSON file holding a simConfig dict or NetPyNE saved output.

        Parameters
        ----------
        path : str or path-like
            The JSON file.
        validate : bool
            Validate after reading (default).

        Returns
        -------
        SimConfig
        """
        return cls.from_dict(_read_json(path), validate=validate)

    def save(self, filename: str | os.PathLike) -> None:
        """Write ``{'simConfig': ...}`` JSON, as ``netpyne.specs.SimConfig.save`` does."""
        Path(filename).write_text(json.dumps({"simConfig": self.to_dict()}, indent=1))
