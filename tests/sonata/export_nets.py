"""Models for the SONATA export tests: a small NetPyNE spec of IntFire1 cells driven by VecStim
sources (what BMTK can re-simulate), and helpers to import, store and export."""

from __future__ import annotations

from pathlib import Path

import nethub
from nethub.embedded import SOURCE_ROLES
from nethub.network import Network
from nethub.store import read_network, write_network

#: IntFire1 excitatory/inhibitory cells, three VecStim sources; every connection rule kind
#: (fixed and drawn delays, negative weights) that an IntFire1 network has.
NET_PARAMS = {
    "popParams": {
        "E": {"cellModel": "IntFire1", "numCells": 8, "tau": 12.0, "refrac": 3.0},
        "I": {"cellModel": "IntFire1", "numCells": 4, "tau": 6.0, "refrac": 2.0},
        "S": {"cellModel": "VecStim", "numCells": 3,
              "spkTimes": [5.0, 20.0, 40.0, 61.5, 80.2, 95.0, 120.0, 150.5]},
    },
    "synMechParams": {"exc": {"mod": "ExpSyn", "tau": 2.0}},
    "connParams": {
        "S->E": {"preConds": {"pop": "S"}, "postConds": {"pop": "E"}, "weight": 0.6,
                 "delay": 2.0, "probability": 0.8},
        "E->I": {"preConds": {"pop": "E"}, "postConds": {"pop": "I"}, "weight": 0.5,
                 "delay": "1+2*uniform(0,1)", "probability": 0.6},
        "E->E": {"preConds": {"pop": "E"}, "postConds": {"pop": "E"}, "weight": 0.3,
                 "delay": 1.5, "probability": 0.3},
        "I->E": {"preConds": {"pop": "I"}, "postConds": {"pop": "E"}, "weight": -0.4,
                 "delay": 1.5, "probability": 0.5},
    },
}
SIM_CONFIG = {"duration": 200, "dt": 0.025, "seeds": {"conn": 1, "stim": 2, "loc": 3, "cell": 4},
              "hParams": {"celsius": 30.0, "v_init": -70.0}}


def netpyne_net(netstim: bool = False) -> Network:
    """The NetPyNE spec above, built by nethub; with ``netstim`` also a Poisson population
    ``P`` (NetStim, noise 1) driving ``E``."""
    if not netstim:
        return nethub.build(NET_PARAMS, SIM_CONFIG)
    spec = {**NET_PARAMS,
            "popParams": {**NET_PARAMS["popParams"], "P": {
                "cellModel": "NetStim", "numCells": 4, "rate": 40, "noise": 1.0, "start": 0}},
            "connParams": {**NET_PARAMS["connParams"], "P->E": {
                "preConds": {"pop": "P"}, "postConds": {"pop": "E"}, "weight": 0.45,
                "delay": 1.0, "probability": 0.5}}}
    return nethub.build(spec, SIM_CONFIG)


def stored(net: Network, path: Path) -> Network:
    """``net`` written to a store and read back (the store's canonical form)."""
    write_network(net, path)
    return read_network(path)


def export(net: Network, folder: Path, **opts) -> tuple[Path, list[str]]:
    """Export ``net`` with the SONATA plugin; (simulation config, losses)."""
    lost = nethub.save(net, folder, format="sonata", **opts)
    return folder / "simulation_config.json", lost


def without_sources(net: Network) -> Network:
    """``net`` without the verbatim source documents of its import (configs, type CSVs)."""
    return net.replace(files={k: f for k, f in net.files.items()
                              if f.role not in SOURCE_ROLES})
