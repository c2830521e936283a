"""Small example networks and runs for conformance tests: every feature of the canonical model
(store schema v2) in a few cells."""

from __future__ import annotations

import dataclasses
import json

import numpy as np

import nethub
from nethub.celltypes import CompartmentalCell, PointCell, Population, Section, StimSource, SynMech
from nethub.embedded import EmbeddedFile
from nethub.network import Network
from nethub.results import Results, Traces, trace_index

__all__ = ["example_network", "example_results", "with_v2_features", "example_files",
           "EXAMPLE_MORPHOLOGY", "EXAMPLE_PARAMS"]

NAN = float("nan")

#: The morphology the example embeds (``morphologies/pyr.swc``, role ``morphology``).
EXAMPLE_MORPHOLOGY = (b"# a two-point soma\n"
                      b"1 1 0.0 0.0 0.0 9.4 -1\n"
                      b"2 1 0.0 18.8 0.0 9.4 1\n")
#: The parameter JSON the example embeds (``params/ampa.json``, role ``params``).
EXAMPLE_PARAMS = json.dumps({"level_of_detail": "exp2syn", "tau1": 0.1, "tau2": 5.0,
                             "erev": 0.0}, indent=1).encode()


def _cell_types() -> dict:
    soma = Section(geom={"L": 18.8, "diam": 18.8, "Ra": 123.0, "nseg": 1},
                   mechs={"hh": {"gnabar": 0.12, "gkbar": 0.036, "gl": 0.003, "el": -70.0}})
    bas = Section(geom={"L": 10.0, "diam": 10.0, "Ra": 100.0, "nseg": 1},
                  mechs={"pas": {"g": 0.0001, "e": -65.0}})
    return {"PYR": CompartmentalCell("PYR", sections={"soma": soma},
                                     section_lists={"all": ["soma"]},
                                     spike_source=("soma", 0.5),
                                     provenance={"morphology": "morphologies/pyr.swc"}),
            "BAS": CompartmentalCell("BAS", sections={"soma": bas},
                                     section_lists={"all": ["soma"]},
                                     spike_source=("soma", 0.5)),
            "ART": PointCell("ART", model="IntFire1", params={"tau": 10.0})}


def example_network() -> Network:
    """A small network with every feature of the canonical model (store schema v2).

    Six cells: a *mixed* population ``E`` (``cell_type`` None; three ``PYR`` cells and one
    ``BAS`` cell) and a point-cell population ``A`` (``IntFire1``). Cells carry rotations
    (``rot_x``, ``rot_y``, ``rot_z``) and a namespaced column ``sonata.node_type_id``.
    Six NetCon connections through an ``Exp2Syn`` mechanism with tags and provenance, a
    per-connection synapse parameter ``param.tau2`` (NaN: the mechanism's), a namespaced
    ``nml.segment_id``, and one connection onto an artificial cell without synMech. Two
    stimulation sources (one with tags and provenance). Two embedded files: a morphology
    (``morphologies/pyr.swc``) and a parameter JSON (``params/ampa.json``). No spec, no .mod
    files.
    """
    net = Network(
        cell_types=_cell_types(),
        syn_mechs={"AMPA": SynMech("AMPA", "Exp2Syn", {"tau1": 0.1, "tau2": 5.0, "e": 0.0},
                                   tags={"sonata.model_template": "exp2syn"},
                                   provenance={"params_file": "params/ampa.json"})},
        populations={"E": Population("E", None, 4), "A": Population("A", "ART", 2)},
        stim_sources={"bg": StimSource("bg", "NetStim", {"rate": 10.0, "noise": 0.5},
                                       tags={"label": "background"},
                                       provenance={"from": "nethub.testing"}),
                      "ic": StimSource("ic", "IClamp", {"del": 5.0, "dur": 10.0, "amp": 0.1})},
        cells={"gid": np.arange(6), "pop": ["E"] * 4 + ["A"] * 2,
               "cell_type": ["PYR", "PYR", "BAS", "PYR", "ART", "ART"],
               "x": np.arange(6.0) * 10.0, "y": np.linspace(0.0, 50.0, 6), "z": np.zeros(6),
               "rot_x": np.array([0.1, 0.0, NAN, 0.3, NAN, NAN]),
               "rot_y": np.array([0.5, 1.5, 0.25, NAN, NAN, NAN]),
               "rot_z": np.array([0.0, 0.2, NAN, NAN, NAN, NAN]),
               "sonata.node_type_id": np.array([100, 100, 101, 100, 102, 102], dtype=np.int64)},
        connections={"pre_gid": [0, 1, 2, 3, 4, 0], "post_gid": [1, 2, 3, 0, 0, 5],
                     "syn_mech": ["AMPA"] * 5 + [None], "post_sec": ["soma"] * 5 + [None],
                     "post_loc": [0.5] * 5 + [NAN],
                     "weight": [0.01, 0.02, 0.03, 0.04, 0.05, 0.5],
                     "delay": [1.0, 2.0, 3.0, 4.0, 5.0, 1.5],
                     "param.tau2": [3.0, NAN, 7.5, NAN, NAN, NAN],
                     "nml.segment_id": np.array([0, 0, 1, 0, 0, -1], dtype=np.int64)},
        stim_targets={"source": ["bg", "ic"], "gid": [0, 1], "sec": ["soma", "soma"],
                      "loc": [0.5, 0.5], "syn_mech": ["AMPA", None], "weight": [0.01, NAN],
                      "delay": [1.0, NAN]},
        params={"celsius": 6.3},
        provenance={"creator": "nethub.testing.example_network"},
        files=example_files(),
    )
    return net


def example_files() -> dict[str, EmbeddedFile]:
    """The example's embedded files: a morphology and a parameter JSON, by name."""
    return {"morphologies/pyr.swc": EmbeddedFile("morphologies/pyr.swc", "morphology",
                                                 "/home/u/model/morph/pyr.swc",
                                                 EXAMPLE_MORPHOLOGY),
            "params/ampa.json": EmbeddedFile("params/ampa.json", "params", "params/ampa.json",
                                             EXAMPLE_PARAMS)}


def with_v2_features(network: Network) -> Network:
    """``network`` with the store schema v2 additions that fit any network: the example's
    embedded files, rotations (``rot_x``/``rot_y``/``rot_z``, some NaN) and a namespaced
    ``sonata.node_type_id`` on cells, ``param.tau2`` (some NaN) and ``nml.segment_id`` on
    connections (if it has any), tags and provenance on the first synaptic mechanism and
    stimulation source.

    For testing what a format does with them on networks it otherwise carries (e.g. a
    NetPyNE-built network written as NetPyNE output).
    """
    n, m = network.n_cells, network.n_connections
    cells = dict(network.cells.columns)
    k = np.arange(n)
    cells["rot_x"] = np.where(k % 3 == 0, 0.1 * k, NAN)
    cells["rot_y"] = np.where(k % 2 == 0, 0.25 + 0.0 * k, NAN)
    cells["rot_z"] = np.where(k % 4 == 0, -0.5 + 0.0 * k, NAN)
    cells["sonata.node_type_id"] = (100 + k % 3).astype(np.int64)
    conns = dict(network.connections.columns)
    if m:  # (columns of no rows would say nothing)
        j = np.arange(m)
        conns["param.tau2"] = np.where(j % 2 == 0, 3.0 + j, NAN)
        conns["nml.segment_id"] = (j % 3).astype(np.int64)
    syns, stims = dict(network.syn_mechs), dict(network.stim_sources)
    for docs in (syns, stims):
        if docs:
            name = next(iter(docs))
            docs[name] = dataclasses.replace(docs[name], tags={"x.label": name},
                                             provenance={"from": "nethub.testing"})
    return network.replace(cells=cells, connections=conns, syn_mechs=syns, stim_sources=stims,
                           files={**network.files, **example_files()})


def example_results(network: Network, name: str = "run") -> Results:
    """A small run for ``network``: a few spikes of its first cells and two voltage traces.

    Parameters
    ----------
    network : Network
        Must have at least one cell.
    name : str
        The run's name.
    """
    gids = np.asarray(network.gids)
    pick = gids[np.arange(min(3, len(gids)))]
    spikes = np.resize(pick, 5)
    t = np.arange(0.0, 2.0, 0.25)
    two = np.resize(pick, 2)
    index = trace_index(["V_soma"] * 2, two, ["soma"] * 2, [0.5] * 2, ["v"] * 2)
    data = np.vstack([-65.0 + np.sin(t), -65.0 + np.cos(t)])
    return Results(spike_times=np.array([1.0, 2.5, 2.5, 3.25, 7.5]), spike_gids=spikes,
                   traces=Traces(index, t, data),
                   sim_config={"duration": 10.0, "dt": 0.025, "seeds": {"conn": 1}},
                   seeds={"conn": 1},
                   versions={"nethub": nethub.__version__}, timing={"run": 0.5},
                   network_hash=network.content_hash(), nranks=1, meta={}, name=name)
