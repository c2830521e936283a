"""Hypothesis strategies for random networks and simulation results (needs ``hypothesis``).

The networks exercise every column kind and dtype of the canonical tables (numeric dtypes,
categoricals with missing values and unused categories, ragged float and int columns), empty
tables, zero cells, unicode names and values everywhere, NaN/inf, and every model document
(cell types, synaptic mechanisms, populations, stimulation sources, spec, .mod files, params,
provenance, rxd). Use them in property tests of a format::

    from hypothesis import given
    from nethub.testing.strategies import networks

    @given(networks())
    def test_my_format(net): ...

``hypothesis`` is a development extra (``pip install 'nethub[dev]'``); ``nethub.testing`` itself
imports without it.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from nethub.celltypes import CompartmentalCell, PointCell, Population, Section, StimSource, SynMech
from nethub.embedded import FILE_ROLES, EmbeddedFile
from nethub.network import ROTATION_COLUMNS, TABLE_SCHEMAS, Network
from nethub.results import Results, Traces
from nethub.table import Categorical, Ragged, Table

__all__ = [
    "CHARS", "NAMES", "RUN_NAMES", "FLOATS", "FINITE", "NUMERIC_DTYPES", "JSON", "JSON_NO_NAN",
    "AWKWARD", "unique_names", "sections", "cell_type", "categorical", "ragged", "extra_columns",
    "table", "networks", "awkward_network", "results", "named_runs", "embedded_files",
    "v2_columns", "FILE_NAMES",
]

# HDF5 variable-length strings cannot hold U+0000 (documented in docs/store.md); surrogates are
# not UTF-8.
CHARS = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
NAMES = st.text(CHARS, min_size=1, max_size=6)
RUN_NAMES = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00/."),
                    min_size=1, max_size=6)
FLOATS = st.floats(allow_nan=True, allow_infinity=True)
FINITE = st.floats(allow_nan=False, allow_infinity=False, width=64)
NUMERIC_DTYPES = ["int64", "int32", "float64", "float32", "bool", "uint8"]

# JSON values as the store keeps them (NaN/inf allowed: json_equal treats NaN == NaN)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | FLOATS | st.text(CHARS, max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(NAMES, inner, max_size=3),
    max_leaves=8,
)
# run documents are compared with ==, so no NaN there
JSON_NO_NAN = st.recursive(
    st.none() | st.booleans() | st.integers(-1000, 1000) | FINITE | st.text(CHARS, max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(NAMES, inner, max_size=3),
    max_leaves=6,
)


def unique_names(min_size: int = 0, max_size: int = 3):
    """Lists of distinct names (unicode, no NUL)."""
    return st.lists(NAMES, min_size=min_size, max_size=max_size, unique=True)


@st.composite
def sections(draw) -> dict[str, Section]:
    """Sections of a compartmental cell: geometry, pt3d, mechanisms, ions, point processes."""
    out = {}
    for i, name in enumerate(draw(unique_names(1, 3))):
        nseg = draw(st.integers(1, 3))
        pt3d = draw(st.none() | hnp.arrays(np.float64, (draw(st.integers(0, 3)), 4),
                                           elements=FLOATS))
        mech = draw(NAMES)
        out[name] = Section(
            geom={"L": draw(FLOATS), "diam": draw(FINITE), "nseg": nseg},
            pt3d=pt3d,
            parent=None if i == 0 else next(iter(out)),
            mechs={mech: {"g": draw(st.lists(FLOATS, min_size=nseg, max_size=nseg)),
                          "e": draw(FLOATS)}},
            ions=draw(st.dictionaries(NAMES, st.fixed_dictionaries({"e": FLOATS}), max_size=2)),
            point_processes=draw(st.lists(st.fixed_dictionaries(
                {"mod": NAMES, "loc": st.floats(0, 1), "note": st.text(CHARS, max_size=4)}),
                max_size=1)),
            spike_gen_loc=draw(st.none() | st.floats(0, 1)),
        )
    return out


@st.composite
def cell_type(draw, name: str):
    """A compartmental or point cell type named ``name``."""
    if draw(st.booleans()):
        secs = draw(sections())
        return CompartmentalCell(
            name=name, tags=draw(st.dictionaries(NAMES, JSON, max_size=2)), sections=secs,
            section_lists={"all": list(secs)}, spike_source=(next(iter(secs)), 0.5),
            threshold=draw(st.none() | FINITE), globals={"celsius": draw(FINITE)},
        )
    return PointCell(name=name, model=draw(NAMES),
                     params=draw(st.dictionaries(NAMES, JSON, max_size=2)))


def categorical(draw, n: int, names: list[str], missing: bool = True) -> Categorical:
    """Codes into ``names`` plus unused extra categories; -1 (missing) if allowed."""
    extra = [c for c in draw(unique_names(0, 2)) if c not in names]
    cats = list(names) + extra
    if draw(st.booleans()):
        cats = cats[::-1]
    used = [cats.index(c) for c in names]
    choices = used + ([-1] if missing or not used else [])
    codes = [draw(st.sampled_from(choices)) for _ in range(n)]
    return Categorical(np.array(codes, dtype=np.int32), cats)


def ragged(draw, n: int) -> Ragged:
    """A ragged column of ``n`` rows (0-3 values each) of a random numeric dtype."""
    dtype = draw(st.sampled_from(["float64", "int64", "int32", "float32"]))
    lens = draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))
    values = draw(hnp.arrays(dtype, sum(lens)))
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lens, out=offsets[1:])
    return Ragged(values, offsets)


def extra_columns(draw, n: int, taken: set[str]) -> dict:
    """Up to three undeclared columns (numeric, categorical or ragged) not named in ``taken``
    (names without a dot: dotted names are per-format or ``param.*`` columns, which have rules
    of their own, see :func:`v2_columns`)."""
    cols = {}
    for name in draw(unique_names(0, 3)):
        if name in taken or "." in name:
            continue
        kind = draw(st.sampled_from(NUMERIC_DTYPES + ["category", "ragged"]))
        if kind == "category":
            cols[name] = categorical(draw, n, draw(unique_names(0, 3)))
        elif kind == "ragged":
            cols[name] = ragged(draw, n)
        else:
            cols[name] = draw(hnp.arrays(kind, n))
    return cols


def table(draw, tname: str, n: int, gid_cols: dict[str, list[int]],
          refs: dict[str, list[str]]) -> Table:
    """A table ``tname`` of ``n`` rows: gid columns drawn from ``gid_cols``, categorical
    references from ``refs``, other declared columns drawn or left to their defaults, extras."""
    schema = TABLE_SCHEMAS[tname]
    cols: dict = {}
    for cname, spec in schema.items():
        if tname == "cells" and cname == "gid":
            cols[cname] = np.array(gid_cols["gid"], dtype=np.int64)
        elif cname in gid_cols:
            cols[cname] = np.array([draw(st.sampled_from(gid_cols[cname])) for _ in range(n)],
                                   dtype=np.int64)
        elif spec.kind == "category":
            names = refs[cname] if cname in refs else draw(unique_names(0, 2))
            cols[cname] = categorical(draw, n, names)
        elif draw(st.booleans()):  # else: left to the declared default
            cols[cname] = draw(hnp.arrays(spec.kind, n, elements=FLOATS
                                          if spec.kind == "float64" else None))
    extra = v2_columns(draw, tname, n)
    cols.update(extra_columns(draw, n, set(schema) | set(extra)))
    cols.update(extra)
    return Table(cols, schema, n=n)


#: Embedded file names (relative POSIX paths, as ``nethub.embedded`` requires).
FILE_NAMES = st.lists(st.text(st.characters(whitelist_categories=("Ll", "Lu", "Nd", "Lo"),
                                            whitelist_characters="_-.é"), min_size=1,
                              max_size=5).filter(lambda p: p not in (".", "..")),
                      min_size=1, max_size=3).map("/".join)
FILE_ROLES_DRAWN = [r for r in FILE_ROLES if r != "mod"] + ["x-custom"]


def embedded_files(draw) -> dict[str, EmbeddedFile]:
    """0-2 embedded files (any bytes, roles other than 'mod')."""
    out = {}
    for name in draw(st.lists(FILE_NAMES, max_size=2, unique=True)):
        out[name] = EmbeddedFile(name, draw(st.sampled_from(FILE_ROLES_DRAWN)),
                                 draw(st.text(CHARS, max_size=8)) or name,
                                 draw(st.binary(max_size=24)))
    return out


def v2_columns(draw, tname: str, n: int) -> dict:
    """Some of store schema v2's known extra columns: rotations and a per-format id on cells,
    ``param.tau2`` and ``nml.segment_id`` on connections (each drawn or not)."""
    cols: dict = {}
    if tname == "cells":
        if draw(st.booleans()):
            for name in ROTATION_COLUMNS:
                cols[name] = draw(hnp.arrays(np.float64, n, elements=FLOATS))
        if draw(st.booleans()):
            cols["sonata.node_type_id"] = draw(hnp.arrays(np.int64, n))
    elif tname == "connections":
        if draw(st.booleans()):
            cols["param.tau2"] = draw(hnp.arrays(np.float64, n, elements=FLOATS))
        if draw(st.booleans()):
            cols["nml.segment_id"] = draw(hnp.arrays(np.int64, n))
    return cols


@st.composite
def networks(draw) -> Network:
    """Random networks (0-10 cells) with every table, model document and column kind, and
    store schema v2's additions (embedded files, populations without a cell type, tags and
    provenance of mechanisms and sources, rotations, ``param.*`` and per-format columns)."""
    types = {n: draw(cell_type(n)) for n in draw(unique_names(0, 3))}
    small = st.dictionaries(NAMES, JSON, max_size=1)
    syns = {n: SynMech(n, draw(NAMES), draw(st.dictionaries(NAMES, JSON, max_size=2)),
                       loc=draw(st.none() | st.floats(0, 1)), tags=draw(small),
                       provenance=draw(small)) for n in draw(unique_names(0, 3))}
    pops = {n: Population(n, draw(st.none() | st.sampled_from(list(types))),
                          draw(st.integers(0, 9)),
                          tags=draw(st.dictionaries(NAMES, JSON, max_size=2)))
            for n in (draw(unique_names(0, 3)) if types else [])}
    stims = {n: StimSource(n, draw(NAMES), draw(st.dictionaries(NAMES, JSON, max_size=2)),
                           tags=draw(small), provenance=draw(small))
             for n in draw(unique_names(0, 2))}
    gids = draw(st.lists(st.integers(-(2**40), 2**40), max_size=10, unique=True))
    refs = {"pop": list(pops), "cell_type": list(types), "syn_mech": list(syns),
            "source": list(stims)}
    cells = table(draw, "cells", len(gids), {"gid": gids}, refs)
    others = {}
    for tname, target in (("connections", "post_gid"), ("pointer_conns", "post_gid"),
                          ("stim_targets", "gid")):
        n = draw(st.integers(0, 12)) if gids else 0
        gid_cols = {target: gids, "pre_gid": gids} if gids else {}
        others[tname] = table(draw, tname, n, gid_cols, refs)
    return Network(
        cell_types=types, syn_mechs=syns, populations=pops, stim_sources=stims, cells=cells,
        spec=draw(st.none() | st.fixed_dictionaries({"netParams": JSON, "simConfig": JSON})),
        mod_files=draw(st.dictionaries(NAMES, st.text(CHARS, max_size=20), max_size=2)),
        params=draw(st.dictionaries(NAMES, JSON, max_size=3)),
        provenance=draw(st.dictionaries(NAMES, JSON, max_size=2)),
        rxd=draw(st.none() | st.dictionaries(NAMES, JSON, max_size=2)),
        files=embedded_files(draw),
        **others,
    )


@st.composite
def results(draw, gids: list[int]) -> Results:
    """A random run: spikes and traces of ``gids``, maybe an LFP, and every run document."""
    n_sp = draw(st.integers(0, 20))
    some_gids = st.sampled_from(gids) if gids else st.integers(0, 100)
    n_tr, n_t = draw(st.integers(0, 3)), draw(st.integers(0, 5))
    index = Table({"label": [draw(NAMES) for _ in range(n_tr)],
                   "gid": np.array([draw(some_gids) for _ in range(n_tr)], dtype=np.int64),
                   "sec": categorical(draw, n_tr, draw(unique_names(0, 2))),
                   "loc": draw(hnp.arrays(np.float64, n_tr, elements=FLOATS)),
                   "var": [draw(NAMES) for _ in range(n_tr)]})
    lfp = lfp_time = electrodes = None
    if draw(st.booleans()):
        n_lt, n_el = draw(st.integers(0, 4)), draw(st.integers(0, 3))
        lfp = draw(hnp.arrays(np.float64, (n_lt, n_el), elements=FLOATS))
        if draw(st.booleans()):
            lfp_time = draw(hnp.arrays(np.float64, n_lt, elements=FINITE))
        if draw(st.booleans()):
            electrodes = draw(hnp.arrays(np.float64, (n_el, 3), elements=FINITE))
    return Results(
        spike_times=draw(hnp.arrays(np.float64, n_sp, elements=st.floats(0, 1e4))),
        spike_gids=np.array([draw(some_gids) for _ in range(n_sp)], dtype=np.int64),
        traces=Traces(index, draw(hnp.arrays(np.float64, n_t, elements=FINITE)),
                      draw(hnp.arrays(np.float64, (n_tr, n_t), elements=FLOATS))),
        lfp=lfp, lfp_time=lfp_time, electrodes=electrodes,
        sim_config=draw(st.dictionaries(NAMES, JSON_NO_NAN, max_size=3)),
        seeds=draw(st.dictionaries(NAMES, st.integers(0, 2**31), max_size=2)),
        versions={"nethub": draw(st.text(CHARS, max_size=5))},
        timing=draw(st.dictionaries(NAMES, FINITE, max_size=2)),
        network_hash=draw(st.text("0123456789abcdef", max_size=64)),
        nranks=draw(st.integers(1, 64)),
        meta=draw(st.dictionaries(NAMES, JSON_NO_NAN, max_size=2)),
    )


#: Strings that exercise CSV quoting and the missing-value token.
AWKWARD = ["", ",", '"', 'a"b', "x,\ny", "\r", "\r\n", " lead", "trail ", "<NA>", "NA", "nan",
           "None", "null", "1", "1.0", "True", "[1, 2]", "é\u2028"]


@st.composite
def awkward_network(draw) -> Network:
    """A network with an extra categorical cells column of awkward strings and missing values."""
    net = draw(networks())
    n = net.n_cells
    cats = draw(st.lists(st.sampled_from(AWKWARD), min_size=1, max_size=6, unique=True))
    codes = draw(st.lists(st.integers(-1, len(cats) - 1), min_size=n, max_size=n))
    cells = Table(dict(net.cells.columns), net.cells.schema, n=n)
    if "awkward, \"col\"\n" not in cells:
        cells["awkward, \"col\"\n"] = Categorical(np.array(codes, dtype=np.int32), cats)
    return net.replace(cells=cells)


@st.composite
def named_runs(draw, gids: list[int], min_size: int = 0, max_size: int = 3) -> list[Results]:
    """A list of runs of ``results(gids)`` with unique names."""
    runs = draw(st.lists(results(gids), min_size=min_size, max_size=max_size))
    names = draw(st.lists(RUN_NAMES, min_size=len(runs), max_size=len(runs), unique=True))
    for r, name in zip(runs, names):
        r.name = name
    return runs
