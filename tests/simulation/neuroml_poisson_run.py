"""Run nethub's NEURON 9 rewrites of jNeuroML random sources in a small hand-built model.

Usage: [mpiexec -n K] python neuroml_poisson_run.py LIBDIR N TSTOP SEED ORDER
Loads the mechanisms compiled in LIBDIR; creates N sources of each kind (one per "cell" gid,
each on its own one-compartment section; under MPI each rank the gids with gid % K == rank),
in ORDER ("forward" or "reverse") of gid, seeds
each with setRandomIds(SEED, gid, k) (k: the kind's index) and prints
{kind: {gid: [spike times]}} as JSON.
"""

import json
import sys
from pathlib import Path

from neuron import h

KINDS = ("spikeGenPoisson", "poissonFiringSyn", "transPoissonFiringSyn")


def main() -> None:
    libdir, n, tstop, seed, order, out_path = sys.argv[1:7]
    lib = next(Path(libdir).glob("x86_64/.libs/libnrnmech.so"), None) or next(
        Path(libdir).glob("*/libnrnmech.so"))
    h.nrn_load_dll(str(lib))
    h.load_file("stdrun.hoc")
    pc = h.ParallelContext()
    rank, nhost = int(pc.id()), int(pc.nhost())
    gids = [g for g in range(int(n)) if g % nhost == rank]
    if order == "reverse":
        gids.reverse()
    keep, out = [], {k: {} for k in KINDS}
    for gid in gids:
        sec = h.Section(name=f"cell{gid}")
        sec.L = sec.diam = 10
        sec.insert("pas")
        for k, kind in enumerate(KINDS):
            pp = getattr(h, kind)(sec(0.5))
            pp.setRandomIds(int(seed), gid, k)
            vec = h.Vector()
            nc = h.NetCon(pp, None)
            nc.record(vec)
            keep.append((sec, pp, nc, vec))
            out[kind][gid] = vec
    h.dt = 0.1  # spike times fall on steps (WATCH); rates and ISI statistics need no finer
    h.finitialize(-65)
    h.continuerun(float(tstop))
    mine = {k: {g: list(v) for g, v in d.items()} for k, d in out.items()}
    parts = pc.py_allgather(mine) if nhost > 1 else [mine]
    if rank == 0:  # a file, not stdout: mpiexec may split a long output line
        with open(out_path, "w") as fh:
            json.dump({k: {g: t for p in parts for g, t in p[k].items()} for k in KINDS}, fh)
    pc.barrier()
    pc.done()


if __name__ == "__main__":
    main()
