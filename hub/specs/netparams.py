"""NetPyNE-compatible ``NetParams``: network rules with attribute and item access.

Behaves like ``netpyne.specs.NetParams`` (NetPyNE 1.1) for the code found in model files:
``netParams.popParams['E'] = {...}``, ``netParams.addConnParams(label, params)``,
``netParams.sizeX = 200``, arbitrary extra attributes used in expression strings
(``netParams.probLengthConst = 150``) and ``netParams.importCellParams(...)``.

Differences from NetPyNE, on purpose:

* rules are checked against :mod:`nethub.specs.schema` when assigned (unknown keys and wrong
  types raise :class:`~nethub.errors.SpecError` naming the key path); :meth:`NetParams.validate`
  re-checks everything, including changes made to a rule after it was assigned, required keys
  and references between rules;
* ``importCellParams`` / ``importCellParamsFromNet`` do not run NEURON: they record an
  import request under the cell rule's ``'_import'`` key, and the network builder performs
  the import when the network is built (in a separate process, :mod:`nethub.converters.hoc`).
  Writes into the returned rule are kept as an overlay, applied after the import (and after
  the recorded ``renameSecs``); *reading* imported content (iterating its sections, ...)
  raises ``SpecError``;
* ``loadCellParamsRule`` reads ``.json`` rules, and ``.pkl`` rules only with trust
  (:mod:`nethub.specs.cellrules`);
* rule labels are strings (NetPyNE's automatic integer labels become ``'0'``, ``'1'``, ...), so
  that :meth:`NetParams.to_dict` round-trips through JSON exactly.
"""

from __future__ import annotations

import copy
import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import SpecError
from ..names import close_key
from .cellrules import read_cell_rule, write_cell_rule
from .schema import (
    NETPARAMS_KEYS,
    RULE_FAMILIES,
    jsonable_problems,
    problems_error,
    show,
    value_problems,
)
from .specdict import (
    MODEL_DIR,
    RuleDict,
    SpecDict,
    _get,
    _items,
    _PendingRule,
    _read_json,
    _resolve,
    dotify,
    to_plain,
)

__all__ = ["NetParams", "RuleDict", "SpecDict", "MODEL_DIR", "to_plain", "dotify"]

logger = logging.getLogger(__name__)

# NetPyNE runtime caches that appear in some saved files; they hold compiled functions.
_RUNTIME_ONLY = ("_cellParamStringFuncs", "_synMechStringFuncs")


def _adder(family: str, what: str) -> Any:
    def add(self: NetParams, label: str | None = None, params: Mapping | None = None) -> None:
        self._add(family, label, params)

    add.__name__ = add.__qualname__ = "add" + family[0].upper() + family[1:]
    add.__doc__ = (f"Add a {what} rule to ``{family}`` (a :class:`SpecDict` copy of "
                   "``params``; automatic label when ``label`` is empty).")
    return add


# --------------------------------------------------------------------------------------------
# NetParams
# --------------------------------------------------------------------------------------------


class _UserAttrs:
    """What NetParams and SimConfig share: attributes that are not NetPyNE keys are kept as the
    model's own (logged, with a guess when the name is close to a key), and the mapping view
    (``obj[name]``, ``name in obj``, ``obj.get``) of the public attributes."""

    _WHAT = ""  # "netParams" or "cfg": the name errors and logs use
    _KEYS: Mapping = {}
    _NOUN = "attribute"  # what a NetPyNE key is called in the log

    def _set_user_attr(self, name: str, value: Any) -> None:
        if name not in self._user_attrs:
            self._user_attrs.append(name)
            guess = close_key(name, self._KEYS, cutoff=0.85)
            if guess:
                logger.warning("%s.%s is not a NetPyNE %s; kept as a user attribute (did you "
                               "mean %r?)", self._WHAT, name, self._NOUN, guess)
            else:
                logger.debug("%s.%s kept as a user attribute", self._WHAT, name)
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        object.__delattr__(self, name)
        if name in self._user_attrs:
            self._user_attrs.remove(name)

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(f"{self._WHAT} has no attribute {name!r}")

    def __getitem__(self, name: str) -> Any:
        if name not in self:
            raise KeyError(name)
        return getattr(self, name)

    def __setitem__(self, name: str, value: Any) -> None:
        setattr(self, name, value)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and not name.startswith("_") and name in vars(self)

    def get(self, name: str, default: Any = None) -> Any:
        """``obj[name]`` or ``default``."""
        return self[name] if name in self else default

    @property
    def user_attributes(self) -> tuple[str, ...]:
        """Names of attributes that are not NetPyNE keys (the model's own variables)."""
        return tuple(self._user_attrs)


class NetParams(_UserAttrs):
    """Network parameters in NetPyNE's ``netParams`` format.

    Parameters
    ----------
    netParamsDict : Mapping, optional
        Initial content, as accepted by ``netpyne.specs.NetParams(netParamsDict)``. Rule dicts
        are copied. Use :meth:`from_dict` to also accept NetPyNE's saved-output layout and to
        validate completely.

    Notes
    -----
    Catalogued attributes (:data:`nethub.specs.schema.NETPARAMS_KEYS`) start at NetPyNE's
    defaults and are type-checked when set. Any other public attribute is kept as a *user
    attribute* (NetPyNE models use them as variables in expression strings); it must be
    JSON-compatible by the time the spec is validated or serialised.
    """

    _WHAT = "netParams"
    _KEYS = NETPARAMS_KEYS

    def __init__(self, netParamsDict: Mapping | None = None):  # noqa: N803
        object.__setattr__(self, "_user_attrs", [])
        for name, key in NETPARAMS_KEYS.items():
            if name in RULE_FAMILIES:
                object.__setattr__(self, name, RuleDict(name))
            elif key.has_default:
                object.__setattr__(self, name, dotify(copy.deepcopy(key.default)))
        if netParamsDict:
            self._fill(netParamsDict)

    def _fill(self, data: Mapping) -> None:
        for name, value in _items(data):
            if name in _RUNTIME_ONLY:
                logger.debug("dropping NetPyNE runtime cache netParams.%s", name)
            elif name in RULE_FAMILIES:
                if not isinstance(value, Mapping):
                    raise SpecError(f"netParams.{name}: expected dict, got {show(value)}")
                container = getattr(self, name)
                for label, rule in _items(value):
                    container[label] = dotify(rule)
            else:
                setattr(self, name, dotify(value))

    # -- attribute protocol ------------------------------------------------------------------

    def __setattr__(self, name: str, value: Any) -> None:
        if name in RULE_FAMILIES:
            if not isinstance(value, Mapping):
                raise SpecError(f"netParams.{name}: expected dict, got {show(value)}")
            object.__setattr__(self, name, RuleDict(name, value))
        elif name in NETPARAMS_KEYS:
            problems = value_problems(NETPARAMS_KEYS[name], value, f"netParams.{name}")
            if problems:
                raise problems_error(f"netParams.{name}", problems)
            object.__setattr__(self, name, value)
        elif name.startswith("_"):
            object.__setattr__(self, name, value)
        else:
            self._set_user_attr(name, value)

    def __repr__(self) -> str:
        counts = ", ".join(f"{f}={len(dict(_items(getattr(self, f))))}" for f in RULE_FAMILIES)
        return f"NetParams({counts})"

    # -- rule helpers (NetPyNE API) -----------------------------------------------------------

    def _next_label(self, label: Any) -> Any:
        if label:
            return label
        label = str(self._labelid)
        object.__setattr__(self, "_labelid", self._labelid + 1)
        return label

    def _add(self, family: str, label: Any, params: Mapping | None) -> None:
        getattr(self, family)[self._next_label(label)] = dotify(dict(params or {}))

    addCellParams = _adder("cellParams", "cell")
    addPopParams = _adder("popParams", "population")
    addSynMechParams = _adder("synMechParams", "synaptic mechanism")
    addConnParams = _adder("connParams", "connectivity")
    addSubConnParams = _adder("subConnParams", "subcellular connectivity")
    addStimSourceParams = _adder("stimSourceParams", "stimulation source")
    addStimTargetParams = _adder("stimTargetParams", "stimulation target")

    # -- cell import (recorded, performed by the builder) -------------------------------------

    def importCellParams(  # noqa: N802
        self, label: str | None, fileName: str, cellName: str | None = None,  # noqa: N803
        conds: Mapping | None = None, cellArgs: Any = None, importSynMechs: bool = False,  # noqa: N803
        somaAtOrigin: bool = True, cellInstance: bool = False,  # noqa: N803
    ) -> SpecDict:
        """Record a cell import; the network builder performs it (in a separate process).

        Parameters
        ----------
        label : str or None
            Cell rule label (automatic when empty).
        fileName : str
            ``.hoc``, ``.py`` or ``.swc`` file; recorded as given, with ``baseDir`` (the model
            folder, or the working directory outside the loader).
        cellName, conds, cellArgs, importSynMechs, somaAtOrigin, cellInstance
            As in NetPyNE; recorded in ``rule['_import']``.

        Returns
        -------
        SpecDict
            The new cell rule. Writes into it (``rule['secs']['soma']['mechs']['hh'] = ...``)
            are kept and applied over the imported cell; reading imported content raises
            :class:`~nethub.errors.SpecError`.
        """
        label = self._next_label(label)
        request = {"function": "importCellParams", "fileName": os.fspath(fileName),
                   "cellName": cellName, "cellArgs": cellArgs if cellArgs is not None else {},
                   "importSynMechs": bool(importSynMechs), "somaAtOrigin": bool(somaAtOrigin),
                   "cellInstance": bool(cellInstance)}
        return self._record_import(label, request, conds)

    def importCellParamsFromNet(  # noqa: N802
        self, labelList: list, condsList: list, fileName: str, cellNameList: list,  # noqa: N803
        importSynMechs: bool = False,  # noqa: N803
    ) -> RuleDict:
        """Record one import per cell of a network file (see :meth:`importCellParams`)."""
        for label, conds, cellName in zip(labelList, condsList, cellNameList):  # noqa: N806
            request = {"function": "importCellParamsFromNet", "fileName": os.fspath(fileName),
                       "cellName": cellName, "importSynMechs": bool(importSynMechs)}
            self._record_import(label, request, conds)
        return self.cellParams

    def _record_import(self, label: str, request: dict, conds: Mapping | None) -> SpecDict:
        request["baseDir"] = os.fspath(MODEL_DIR.get() or Path.cwd())
        why = (f"cellParams[{label!r}] is imported from {request['fileName']!r} by "
               f"{request['function']}; its sections exist only after the network builder runs "
               "the import (in a separate process, when the network is built), so they cannot "
               "be read or iterated while the model file is loaded; values written into the "
               "rule are kept and applied after the import")
        rule = _PendingRule(why)
        rule["conds"] = dotify(dict(conds or {}))
        rule["_import"] = request
        self.cellParams[label] = rule
        logger.info("recorded %s(%r, %r) for cellParams[%r]; the import runs when the network "
                    "is built", request["function"], request["fileName"], request["cellName"],
                    label)
        return rule

    def loadCellParamsRule(self, label: str, fileName: str) -> None:  # noqa: N802, N803
        """Load a saved cell rule into ``cellParams[label]``: ``.json`` always, ``.pkl`` only
        with trust (see :mod:`nethub.specs.cellrules`)."""
        rule = read_cell_rule(_resolve(fileName, "loadCellParamsRule"))
        self.cellParams[label] = dotify(rule)

    loadCellParams = loadCellParamsRule  # noqa: N815

    def saveCellParamsRule(self, label: str, fileName: str) -> None:  # noqa: N802, N803
        """Write ``cellParams[label]`` to ``.json`` or ``.pkl``, as NetPyNE does."""
        if label not in self.cellParams:
            raise SpecError(f"saveCellParamsRule: no cellParams rule {label!r} (defined: "
                            f"{', '.join(self.cellParams) or 'none'})")
        rule = self.cellParams[label]
        if _get(rule, "_import") is not None:
            self._concrete_rule(label, "saveCellParamsRule")
        write_cell_rule(to_plain(rule, f"cellParams[{label!r}]"), fileName)

    saveCellParams = saveCellParamsRule  # noqa: N815

    def renameCellParamsSec(self, label: str, oldSec: str, newSec: str) -> None:  # noqa: N802, N803
        """Rename a section and the topology references to it (recorded for imported cells)."""
        rule = self.cellParams[label]
        request = _get(rule, "_import")
        if request is not None:
            request.setdefault("renameSecs", {})[oldSec] = newSec
            secs = _get(rule, "secs")
            if isinstance(secs, dict) and dict.__contains__(secs, oldSec):
                dict.__setitem__(secs, newSec, dict.pop(secs, oldSec))
            return
        if self.cellParams.rename(oldSec, newSec, (label, "secs")):
            for sec in _items(rule.get("secs", {})):
                topol = _get(sec[1], "topol") or {}
                if topol.get("parentSec") == oldSec:
                    topol["parentSec"] = newSec

    def addCellParamsSecList(self, label: str, secListName: str,  # noqa: N802, N803
                             somaDist: list | None = None, somaDistY: list | None = None) -> None:  # noqa: N803
        """Add a section list of the sections whose 3-D midpoint lies in a distance range."""
        rule = self._concrete_rule(label, "addCellParamsSecList")
        secs = rule["secs"]
        bounds = somaDist if somaDist is not None else somaDistY
        if bounds is None or len(bounds) != 2:
            raise SpecError("addCellParamsSecList: give somaDist or somaDistY as [min, max]")
        chosen = []
        for name, sec in _items(secs):
            pt3d = sec.get("geom", {}).get("pt3d")
            if not pt3d:
                raise SpecError(f"addCellParamsSecList: cellParams[{label!r}]['secs'][{name!r}] "
                                "has no pt3d points")
            x, y, z = pt3d[len(pt3d) // 2][:3]
            dist = float(np.linalg.norm([x, y, z])) if somaDist is not None else y
            if bounds[0] <= dist <= bounds[1]:
                chosen.append(name)
        rule.setdefault("secLists", {})[secListName] = chosen

    def swapCellParamsPt3d(self, label: str, origIndex: int, targetIndex: int) -> None:  # noqa: N802, N803
        """Swap two coordinates (0-3 = x, y, z, diam) of every 3-D point of a cell rule."""
        if origIndex not in range(4) or targetIndex not in range(4):
            raise SpecError("swapCellParamsPt3d: indices must be 0, 1, 2 or 3 (x, y, z, diam)")
        for _, sec in _items(self._concrete_rule(label, "swapCellParamsPt3d")["secs"]):
            pt3d = sec.get("geom", {}).get("pt3d", [])
            for i, pt in enumerate(pt3d):
                pt = [float(c) for c in pt]
                pt[origIndex], pt[targetIndex] = pt[targetIndex], pt[origIndex]
                pt3d[i] = pt

    def _concrete_rule(self, label: str, what: str) -> Any:
        rule = self.cellParams[label]
        request = _get(rule, "_import")
        if request is not None:
            raise SpecError(f"{what}: cellParams[{label!r}] is imported from "
                            f"{request.get('fileName')!r}; its sections exist only after the "
                            "network builder runs the import (in a separate process, when the "
                            "network is built); set values in the rule instead, they are "
                            "applied after the import")
        return rule

    def addCellParamsWeightNorm(self, label: str, fileName: str, threshold: float = 1000) -> None:  # noqa: N802, N803
        """Not supported: NetPyNE reads the normalisation factors from a pickle."""
        raise SpecError(f"addCellParamsWeightNorm({label!r}, {fileName!r}) reads a pickle file; "
                        "set cellParams[...]['secs'][sec]['weightNorm'] lists instead")

    def addCellParamsTemplate(self, label: str, conds: Mapping | None = None,  # noqa: N802
                              template: str | None = None) -> None:
        """Add one of NetPyNE's template cells (``'Simple_HH'`` or ``'BallStick_HH'``)."""
        hh = {"gnabar": 0.12, "gkbar": 0.036, "gl": 0.0003, "el": -54.3}
        secs: dict = {}
        if template == "Simple_HH":
            secs["soma"] = {"geom": {"diam": 20, "L": 20, "Ra": 100.0, "cm": 1},
                            "mechs": {"hh": hh}}
        elif template == "BallStick_HH":
            secs["soma"] = {"geom": {"diam": 12, "L": 12, "Ra": 100.0, "cm": 1},
                            "mechs": {"hh": hh}}
            secs["dend"] = {"geom": {"diam": 1.0, "L": 200.0, "Ra": 100.0, "cm": 1},
                            "topol": {"parentSec": "soma", "parentX": 1.0, "childX": 0},
                            "mechs": {"pas": {"g": 0.001, "e": -70}}}
        else:
            raise SpecError(f"addCellParamsTemplate: unknown template {template!r} "
                            "(valid: Simple_HH, BallStick_HH)")
        self.cellParams[label] = dotify({"conds": dict(conds or {}), "secs": secs})

    # -- cfg mapping (NetPyNE API) ------------------------------------------------------------

    def setNestedParam(self, paramLabel: Any, paramVal: Any) -> None:  # noqa: N802, N803
        """Set a value by dotted path or key list, e.g. ``'popParams.E.numCells'``."""
        keys = paramLabel.split(".") if isinstance(paramLabel, str) else list(paramLabel)
        container: Any = self
        for key in keys[:-1]:
            container = container[key]
        container[keys[-1]] = paramVal

    def setCfgMapping(self, cfg: Any) -> None:  # noqa: N802
        """Copy ``cfg`` attributes into netParams as described by ``netParams.mapping``."""
        for cfg_key, target in _items(self.mapping):
            if cfg_key in cfg:
                self.setNestedParam(target, cfg[cfg_key])

    # -- validation and (de)serialisation -----------------------------------------------------

    def problems(self, complete: bool = True) -> list[str]:
        """Every finding as ``"<key path>: <what is wrong>"`` (empty when valid).

        Parameters
        ----------
        complete : bool
            Also check required keys and references between rules (default). ``False`` gives
            the checks applied while a model file is still being run.

        Returns
        -------
        list of str
        """
        out: list[str] = []
        for name, value in vars(self).items():
            if name in RULE_FAMILIES:
                out += value.problems(complete)
            elif name in NETPARAMS_KEYS:
                out += value_problems(NETPARAMS_KEYS[name], value, f"netParams.{name}")
            elif name in self._user_attrs:
                out += jsonable_problems(value, f"netParams.{name}")
        return out + (self._reference_problems() if complete else [])

    def _reference_problems(self) -> list[str]:
        out: list[str] = []
        sources = list(self.stimSourceParams)
        for label, rule in _items(self.stimTargetParams):
            source = _get(rule, "source")
            if isinstance(source, str) and source not in sources:
                out.append(f"stimTargetParams[{label!r}]['source']: {source!r} is not a "
                           f"stimSourceParams label (defined: {', '.join(sources) or 'none'})")
        imports_syns = any(_get(_get(r, "_import"), "importSynMechs")
                           for _, r in _items(self.cellParams))
        if not imports_syns:
            out += self._synmech_reference_problems()
        for label, rule in _items(self.cellParams):
            if _get(rule, "_import") is None:
                out += _topology_problems(label, rule)
        return out

    def _synmech_reference_problems(self) -> list[str]:
        out: list[str] = []
        known = list(self.synMechParams)
        for family, key in (("connParams", "synMech"), ("stimTargetParams", "synMech"),
                            ("subConnParams", "groupSynMechs")):
            for label, rule in _items(getattr(self, family)):
                refs = _get(rule, key)
                for ref in [refs] if isinstance(refs, str) else refs or []:
                    if isinstance(ref, str) and ref not in known:
                        out.append(f"{family}[{label!r}][{key!r}]: {ref!r} is not a "
                                   f"synMechParams label (defined: {', '.join(known) or 'none'})")
        return out

    def validate(self) -> None:
        """Raise :class:`~nethub.errors.SpecError` listing every finding, if any."""
        problems = self.problems()
        if problems:
            raise problems_error("netParams", problems)

    def to_dict(self, validate: bool = True) -> dict:
        """Plain, JSON-compatible dict in NetPyNE's layout; ``from_dict`` round-trips it.

        Parameters
        ----------
        validate : bool
            Run :meth:`validate` first (default).

        Returns
        -------
        dict
            Every attribute, including NetPyNE's defaults, ``_labelid`` and user attributes;
            tuples and arrays become lists, numpy scalars Python numbers.
        """
        if validate:
            self.validate()
        out = {}
        for name, value in vars(self).items():
            if name.startswith("_") and name != "_labelid":
                continue
            out[name] = to_plain(value, name if name in RULE_FAMILIES else f"netParams.{name}")
        return out

    todict = to_dict

    @classmethod
    def from_dict(cls, data: Mapping, validate: bool = True) -> NetParams:
        """Build from a netParams dict or a NetPyNE saved-output dict.

        Parameters
        ----------
        data : Mapping
            A bare netParams dict, ``{'net': {'params': {...}}, ...}`` (NetPyNE saved output)
            or ``{'netParams': {...}}``. Rules are copied.
        validate : bool
            Check completely (required keys, references) after building (default).

        Returns
        -------
        NetParams

        Raises
        ------
        nethub.errors.SpecError
            Naming the key path of every problem.
        """
        if not isinstance(data, Mapping):
            raise SpecError(f"netParams: expected dict, got {show(data)}")
        net = data.get("net")
        if isinstance(net, Mapping) and isinstance(net.get("params"), Mapping):
            data = net["params"]
        elif isinstance(data.get("netParams"), Mapping):
            data = data["netParams"]
        obj = cls(data)
        if validate:
            obj.validate()
        return obj

    @classmethod
    def from_json(cls, path: str | os.PathLike, validate: bool = True) -> NetParams:
        """Read a JSON file holding a netParams dict or NetPyNE saved output.

        Parameters
        ----------
        path : str or path-like
            The JSON file.
        validate : bool
            See :meth:`from_dict`.

        Returns
        -------
        NetParams
        """
        return cls.from_dict(_read_json(path), validate=validate)

    def save(self, filename: str | os.PathLike) -> None:
        """Write ``{'net': {'params': ...}}`` JSON, as ``netpyne.specs.NetParams.save`` does."""
        Path(filename).write_text(json.dumps({"net": {"params": self.to_dict()}}, indent=1))


def _topology_problems(label: str, rule: Any) -> list[str]:
    secs = _get(rule, "secs")
    if not isinstance(secs, dict):
        return []
    out = []
    for name, sec in _items(secs):
        parent = _get(_get(sec, "topol"), "parentSec")
        if isinstance(parent, str) and parent not in secs:
            out.append(f"cellParams[{label!r}]['secs'][{name!r}]['topol']['parentSec']: "
                       f"{parent!r} is not a section of this cell (sections: {', '.join(secs)})")
    return out
