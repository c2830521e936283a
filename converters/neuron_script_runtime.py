"""The fixed part of a plain-NEURON network script (:mod:`nethub.converters.neuron_script`):
the code that loads the mechanisms, creates cells, connections and stimuli from the script's
data, records, runs and writes the spikes. It repeats, step by step and in the same order, what
nethub's simulator does on one rank (``nethub.sim.engine`` and ``nethub.sim``'s run set-up), so
the script gives nethub's spikes. It is text here, never run by nethub.
"""

from __future__ import annotations

__all__ = ["RUNTIME"]

RUNTIME = r'''
# ----------------------------------------------------------------------------- mechanisms
def find_library(folder):
    """The compiled mechanism library nrnivmodl left in ``folder``, or None."""
    for sub in ("x86_64", "arm64", "aarch64", "."):
        for rel in (".libs/libnrnmech.so", "libnrnmech.so", ".libs/libnrnmech.dylib",
                    "libnrnmech.dylib"):
            path = os.path.join(folder, sub, rel)
            if os.path.exists(path):
                return path
    return None


def load_mechanisms():
    """Compile MOD_DIR with nrnivmodl (once) and load it."""
    if MOD_DIR is None:
        return
    lib = find_library(MOD_DIR)
    if lib is None:
        subprocess.run(["nrnivmodl"], cwd=MOD_DIR, check=True)
        lib = find_library(MOD_DIR)
    h.nrn_load_dll(lib)


# ----------------------------------------------------------------------------- cells
class PointCellObjects:
    """An artificial cell: its NEURON object (``point``) and what must stay alive."""

    def __init__(self, point):
        self.point, self.keep = point, []


def netstim_noise(obj, ids, keep):
    """NetStim noise stream Random123(ids), as NetPyNE's preRun sets it."""
    if RUN["netstim_random123"]:
        obj.noiseFromRandom123(*ids)
        return
    r = h.Random()
    r.Random123(*ids)
    r.negexp(1)
    obj.noiseFromRandom(r)
    keep.append(r)


def point_cell(gid, model, params):
    obj = getattr(h, model)()
    cell = PointCellObjects(obj)
    intervals, times = params.get("dynamicRates.intervals"), params.get("dynamicRates.times")
    if intervals and times:
        ivec, tvec = h.Vector(intervals), h.Vector(times)
        ivec.play(obj._ref_interval, tvec)
        cell.keep += [ivec, tvec]
    if model == "VecStim":
        vec = h.Vector(params["spkTimes"])
        obj.play(vec)
        cell.keep.append(vec)
    else:
        for k, v in params.items():
            if k == "rate":
                if "interval" not in params:
                    obj.interval = 1000.0 / float(v)
            elif k not in POINT_RESERVED and isinstance(v, (int, float)):
                setattr(obj, k, v)
        if model == "NetStim":
            if "number" not in params:
                obj.number = 1e9
            netstim_noise(obj, params["noise_ids"], cell.keep)
    pc.set_gid2node(gid, 0)
    nc = h.NetCon(obj, None)
    nc.threshold = DEFAULT_THRESHOLD
    pc.cell(gid, nc, 1)
    return cell


def _own(own, key, default):
    """A cell's own value of ``key`` (an expression of its type drawn for it), else the type's."""
    if key in own:
        return own[key]
    if default is None:
        raise ValueError(f"no per-cell value {key!r} (the cell type holds an expression there)")
    return default


def _range_set(sec, mech, name, val):
    """A density mechanism parameter: one value, or one per segment."""
    for i, seg in enumerate(sec):
        v = val
        if isinstance(val, list):
            v = val[0] if len(val) == 1 else val[i]
        if v is not None:
            setattr(getattr(seg, mech), name, v)


def create_cells():
    cells = {}
    for gid, ctype, x, y, z in CELLS:
        if ctype in CELL_CLASSES:
            own = (CELL_OWN[gid],) if gid in CELL_OWN else ()
            cell = CELL_CLASSES[ctype](x, y, z, *own)
            pc.set_gid2node(gid, 0)
            pc.cell(gid, cell.connect2target(None), 1)
        else:
            model, params = POINT_TYPES[ctype]
            cell = point_cell(gid, model, {**params, **POINT_PARAMS.get(gid, {})})
        cells[gid] = cell
    return cells


# ----------------------------------------------------------------------------- synapses
def synapse(cell, ctype, mech, sec, loc):
    """The object a connection drives: the artificial cell itself, the point process named
    by the section's ``vref`` (NetPyNE's Izhikevich-style cells), or a new synapse."""
    if isinstance(cell, PointCellObjects) or sec is None:
        return cell.point
    vref = VREF.get(ctype, {}).get(sec)
    if vref is not None:
        return cell.pointps[vref[0]]
    model, params = SYN_MECHS[mech]
    syn = getattr(h, model)(loc, sec=cell.secs[sec])
    for k, v in params:
        setattr(syn, k, v)
    SYNAPSES.append(syn)
    return syn


def create_connections(cells, ctypes):
    pre, post, mech, sec, loc, weight, delay, widx = (CONNS[k] for k in (
        "pre", "post", "mech", "sec", "loc", "weight", "delay", "widx"))
    for i in range(len(pre)):
        target = synapse(cells[post[i]], ctypes[post[i]], mech[i], sec[i], loc[i])
        nc = pc.gid_connect(pre[i], target)
        nc.weight[widx[i]] = weight[i]
        nc.delay = delay[i]
        NETCONS.append(nc)
    for gid, threshold in SOURCE_THRESHOLDS:
        pc.threshold(gid, threshold)


def create_stims(cells, ctypes):
    for source, gid, sec, loc, mech, weight, delay, params in STIMS:
        model = STIM_MODELS[source]
        cell = cells[gid]
        if model == "NetStim":
            ns = h.NetStim()
            rate = params["rate"] if "rate" in params else 1000.0 / float(params["interval"])
            ns.interval = float(rate) ** -1 * 1e3
            ns.noise = params.get("noise", 0.0)
            ns.start = params.get("start", 0.0)
            ns.number = params.get("number", 1e9)
            netstim_noise(ns, params["noise_ids"], KEEP)
            target = synapse(cell, ctypes[gid], mech, sec, loc)
            nc = h.NetCon(ns, target)
            syn_list = VREF.get(ctypes[gid], {}).get(sec, (0, []))[1]
            nc.weight[syn_list.index(mech) if mech in syn_list else 0] = weight
            nc.delay = delay
            KEEP.append(ns)
            NETCONS.append(nc)
        else:
            hsec = cell.secs[sec] if sec is not None else None
            obj = getattr(h, model)(loc, sec=hsec) if hsec is not None else getattr(h, model)()
            for k, v in params.items():
                if isinstance(v, (list, tuple)) and k in ("amp", "dur"):
                    arr = getattr(obj, k)
                    for j, x in enumerate(v):
                        arr[j] = x
                elif isinstance(v, (int, float)):
                    setattr(obj, k, v)
            KEEP.append(obj)


# ----------------------------------------------------------------------------- run
def setup_run():
    cv = h.CVode()
    cv.active(int(RUN["cvode_active"]))
    cv.cache_efficient(int(RUN["cache_efficient"]))
    cv.atol(RUN["cvode_atol"])
    for k, v in RUN["globals"].items():
        setattr(h, k, v)
    h.dt = RUN["dt"]
    h.tstop = RUN["duration"]
    h.Random().Random123_globalindex(RUN["random123_global_index"])
    pc.set_maxstep(10)
    pc.setup_transfer()


def record(cells):
    spk_t, spk_id = h.Vector(), h.Vector()
    if RECORD_SPIKES is None:
        pc.spike_record(-1, spk_t, spk_id)
    else:
        for gid in RECORD_SPIKES:
            pc.spike_record(gid, spk_t, spk_id)
    traces = []
    for label, gid, sec, loc, var, mech, step in TRACES:
        seg = cells[gid].secs[sec](loc)
        ptr = getattr(getattr(seg, mech) if mech else seg, "_ref_" + var)
        traces.append((label, gid, h.Vector().record(ptr, step)))
    return spk_t, spk_id, traces


def cell_type_globals():
    """The cell types' NEURON globals that the run's own do not set (first type wins)."""
    for key, value in CELL_GLOBALS:
        h(f"{key}={value!r}")


def main(argv):
    out = argv[1] if len(argv) > 1 else os.path.splitext(os.path.abspath(__file__))[0] + \
        ".spikes.json"
    load_mechanisms()
    h.load_file("stdrun.hoc")
    cells = create_cells()
    ctypes = {gid: ctype for gid, ctype, _, _, _ in CELLS}
    create_connections(cells, ctypes)
    create_stims(cells, ctypes)
    setup_run()
    spk_t, spk_id, traces = record(cells)
    cell_type_globals()
    h.finitialize(RUN["v_init"])
    pc.psolve(RUN["duration"])
    t, g = list(spk_t), [int(x) for x in spk_id]
    order = sorted(range(len(t)), key=lambda i: (t[i], g[i]))
    result = {"spike_times": [t[i] for i in order], "spike_gids": [g[i] for i in order],
              "traces": [{"label": lab, "gid": gid, "values": list(vec)}
                         for lab, gid, vec in traces]}
    with open(out, "w") as f:
        json.dump(result, f)
    print(f"{len(t)} spikes of {len(cells)} cells in {RUN['duration']} ms -> {out}")
    return 0


pc = h.ParallelContext()
SYNAPSES, NETCONS, KEEP = [], [], []

if __name__ == "__main__":
    sys.exit(main(sys.argv))
'''
