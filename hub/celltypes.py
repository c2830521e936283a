"""Cell types, synaptic mechanisms, stimulation sources and populations of the canonical model.

These are small, hierarchical descriptions (one per type, not per cell), kept as typed
dataclasses with a lossless ``to_dict`` / ``from_dict`` pair; the store keeps them as JSON.

Units are NEURON's: µm, ms, mV, nA, µS, S/cm², Ω·cm, µF/cm².
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

__all__ = [
    "Section",
    "CompartmentalCell",
    "PointCell",
    "CellType",
    "SynMech",
    "StimSource",
    "Population",
    "cell_type_from_dict",
    "jsonable",
    "json_equal",
]

# A mechanism or point-process parameter: a scalar, a per-segment list, or a string expression
# that has not been resolved yet (kept as text, evaluated by the builder, never by eval).
Param = Any


def jsonable(value: Any) -> Any:
    """Turn numpy scalars/arrays and tuples into plain JSON-able Python values (recursively)."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    return value


@dataclass
class Section:
    """One NEURON section of a compartmental cell type.

    Attributes
    ----------
    geom : dict
        ``L``, ``diam``, ``Ra``, ``cm``, ``nseg`` and any other section geometry value (scalars).
    pt3d : ndarray of shape (n, 4) or None
        3-D points ``x, y, z, diam`` relative to the cell position.
    parent : str or None
        Name of the parent section; ``parent_x`` is where on it this section attaches and
        ``child_x`` which end of this section attaches.
    mechs : dict
        Mechanism name to parameter dict; each value a scalar or a per-segment list.
    ions : dict
        Ion name to ``{'e': ..., 'i': ..., 'o': ...}`` (any of them).
    point_processes : list of dict
        NetPyNE-style point processes (``mod``, ``loc``, parameters, ``vref``, ``synList``).
    syn_mechs : list of dict
        Synaptic mechanisms placed on the section by the cell type itself.
    spike_gen_loc : float or None
        Location of the spike detector when this section is the spike source.
    vinit, threshold : float or None
        Per-section initial voltage and spike threshold.
    weight_norm : list of float or None
        Per-segment weight normalisation factors.
    """

    geom: dict[str, Param] = field(default_factory=dict)
    pt3d: np.ndarray | None = None
    parent: str | None = None
    parent_x: float = 1.0
    child_x: float = 0.0
    mechs: dict[str, dict[str, Param]] = field(default_factory=dict)
    ions: dict[str, dict[str, Param]] = field(default_factory=dict)
    point_processes: list[dict[str, Param]] = field(default_factory=list)
    syn_mechs: list[dict[str, Param]] = field(default_factory=list)
    spike_gen_loc: float | None = None
    vinit: float | None = None
    threshold: float | None = None
    weight_norm: list[float] | None = None

    def __post_init__(self) -> None:
        if self.pt3d is not None:
            self.pt3d = np.asarray(self.pt3d, dtype=np.float64).reshape(-1, 4)

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["pt3d"] = None if self.pt3d is None else self.pt3d.tolist()
        return jsonable(out)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Section:
        return cls(**{k: v for k, v in d.items() if k in _SECTION_FIELDS})

    def equals(self, other: Section) -> bool:
        return json_equal(self.to_dict(), other.to_dict())


_SECTION_FIELDS = {f.name for f in fields(Section)}


@dataclass
class _CellTypeBase:
    name: str
    tags: dict[str, Any] = field(default_factory=dict)
    mod_files: list[str] = field(default_factory=list)
    provenance: dict[str, Any] = field(default_factory=dict)

    kind = "abstract"

    def to_dict(self) -> dict[str, Any]:
        out = {"kind": self.kind}
        for f in fields(self):
            v = getattr(self, f.name)
            if f.name in _RUN_MODE_FIELDS and v == _RUN_MODE_FIELDS[f.name]:
                continue  # the default snapshot mode: written as before (same hash)
            if f.name == "sections":
                v = {k: s.to_dict() for k, s in v.items()}
            out[f.name] = v
        return jsonable(out)

    def equals(self, other: object) -> bool:
        return isinstance(other, _CellTypeBase) and json_equal(self.to_dict(), other.to_dict())


@dataclass
class CompartmentalCell(_CellTypeBase):
    """A cell made of NEURON sections.

    Attributes
    ----------
    sections : dict of str to Section
        In creation order; parents come before children.
    section_lists : dict of str to list of str
        Named section lists (NetPyNE ``secLists``).
    spike_source : (str, float)
        Section and location of the spike detector (NetPyNE ``spikeGenLoc``).
    threshold : float or None
        Spike detection threshold (mV); ``None`` means the network default.
    globals : dict
        NEURON global variables the type sets (e.g. ``{'celsius': 34}``).
    vars : dict
        Free per-type variables (NetPyNE ``vars``), usable in expressions.
    run_mode : str
        ``"snapshot"`` (the sections above are built as data) or ``"template"`` (the imported
        template in ``template`` is instantiated at run time; needs trust), docs/store.md §5.1.
    template : dict
        For imported templates: ``file`` (key of ``Network.files``), ``kind`` (``hoc`` or
        ``python``), ``name``, ``args``, ``kwargs``, ``sections`` (cell-type name -> name in
        the template), ``max_dv`` (max |dV| in mV of snapshot vs template at import) and
        optionally ``offset`` (a shift of its 3-D points, from ``somaAtOrigin``),
        ``arg_files`` and ``companions`` (embedded files it is given or loads itself).
    """

    sections: dict[str, Section] = field(default_factory=dict)
    section_lists: dict[str, list[str]] = field(default_factory=dict)
    spike_source: tuple[str, float] | None = None
    threshold: float | None = None
    globals: dict[str, Any] = field(default_factory=dict)
    vars: dict[str, Any] = field(default_factory=dict)
    run_mode: str = "snapshot"
    template: dict[str, Any] = field(default_factory=dict)

    kind = "compartmental"

    def __post_init__(self) -> None:
        self.sections = {
            k: (s if isinstance(s, Section) else Section.from_dict(s))
            for k, s in self.sections.items()
        }
        if self.spike_source is not None:
            self.spike_source = (str(self.spike_source[0]), float(self.spike_source[1]))

    @property
    def nseg_total(self) -> int:
        """Total number of segments (a cost estimate for load balancing)."""
        return int(sum(int(s.geom.get("nseg", 1)) for s in self.sections.values()))


@dataclass
class PointCell(_CellTypeBase):
    """An artificial cell: one NEURON ARTIFICIAL_CELL (IntFire1/2/4, NetStim, VecStim, ...).

    Attributes
    ----------
    model : str
        The NEURON mechanism name.
    params : dict
        Its parameters (per-cell values live in the cells table as extra columns).
    """

    model: str = "NetStim"
    params: dict[str, Any] = field(default_factory=dict)

    kind = "point"


CellType = CompartmentalCell | PointCell

_KINDS = {"compartmental": CompartmentalCell, "point": PointCell}


def cell_type_from_dict(d: dict[str, Any]) -> CellType:
    """Inverse of ``CellType.to_dict``."""
    d = dict(d)
    kind = d.pop("kind", None)
    if kind not in _KINDS:
        raise ValueError(f"unknown cell type kind {kind!r} (valid: {', '.join(_KINDS)})")
    cls = _KINDS[kind]
    names = {f.name for f in fields(cls)}
    unknown = set(d) - names
    if unknown:
        raise ValueError(f"unknown field(s) {sorted(unknown)} for {kind} cell type")
    if "spike_source" in d and d["spike_source"] is not None:
        d["spike_source"] = tuple(d["spike_source"])
    return cls(**d)


@dataclass
class SynMech:
    """A synaptic mechanism: a NEURON point process and its parameters.

    ``pointer`` describes pointer-based connections (gap junctions, graded synapses):
    ``{'source_var': ..., 'target_var': ..., 'bidirectional': bool}``; ``None`` for NetCon-driven
    synapses. ``self_netcon`` is NetPyNE's ``selfNetCon`` dict, ``loc`` a default location.
    ``tags`` are free tags (e.g. a source format's labels), ``provenance`` where the mechanism
    came from (schema version 2; both omitted from ``to_dict`` when empty, as in version 1).
    """

    name: str
    model: str
    params: dict[str, Any] = field(default_factory=dict)
    pointer: dict[str, Any] | None = None
    self_netcon: dict[str, Any] | None = None
    loc: float | None = None
    tags: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return _dict_without_empty(self, _OPTIONAL_DOCS)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SynMech:
        return cls(**d)

    def equals(self, other: object) -> bool:
        return isinstance(other, SynMech) and json_equal(self.to_dict(), other.to_dict())


@dataclass
class StimSource:
    """A stimulation source: a NEURON object type (NetStim, IClamp, ...) and its parameters,
    with free ``tags`` and ``provenance`` (schema version 2; omitted from ``to_dict`` when
    empty)."""

    name: str
    model: str
    params: dict[str, Any] = field(default_factory=dict)
    tags: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return _dict_without_empty(self, _OPTIONAL_DOCS)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> StimSource:
        return cls(**d)

    def equals(self, other: object) -> bool:
        return isinstance(other, StimSource) and json_equal(self.to_dict(), other.to_dict())


@dataclass
class Population:
    """A named group of cells; its gids are the cells whose ``pop`` is it.

    The cell type is per cell (the cells table's ``cell_type``); ``cell_type`` here is the
    population's single type, or None when its cells mix types (or it is unknown).
    """

    name: str
    cell_type: str | None = None
    size: int = 0
    tags: dict[str, Any] = field(default_factory=dict)
    extent: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return jsonable({f.name: getattr(self, f.name) for f in fields(self)})

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Population:
        return cls(**d)

    def equals(self, other: object) -> bool:
        return isinstance(other, Population) and json_equal(self.to_dict(), other.to_dict())


#: Cell-type fields written only when not at their default (new in schema 2, issue 14)
_RUN_MODE_FIELDS: dict[str, Any] = {"run_mode": "snapshot", "template": {}}

#: Fields written only when not empty, so that schema-1 documents (and hashes) stay as they were.
_OPTIONAL_DOCS = ("tags", "provenance")


def _dict_without_empty(obj: Any, optional: tuple[str, ...]) -> dict[str, Any]:
    return jsonable({f.name: getattr(obj, f.name) for f in fields(obj)
                     if not (f.name in optional and not getattr(obj, f.name))})


def json_equal(a: Any, b: Any) -> bool:
    """Deep equality of JSON-like values where NaN equals NaN and int 1 differs from float 1.0.

    Parameters
    ----------
    a, b : any
        JSON-like values (dicts compare with their key order, lists element by element).

    Returns
    -------
    bool
        Whether ``a`` and ``b`` are equal: same types, NaN equal to NaN, ``1`` not ``1.0``.
    """
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return a == b
