"""``nethub run INPUT [--cfg CFG | --run-config RUN.json] [--np N] [--timeout S]
[--cost-model work|count] [--engine auto|neuron|coreneuron] [--exact] [--duration MS]
[--dt MS] [-o OUT.h5]`` and ``nethub plot``.

``--cfg``, ``--engine``, ``--exact``, ``--duration`` and ``--dt`` are simConfig overrides;
:mod:`nethub.runner` maps the model's simConfig with them onto the run's
:class:`~nethub.runconfig.RunConfig` (or lays them over the model's own RunConfig).
``--run-config`` runs with a RunConfig JSON file instead (one a user wrote, or the one a
launcher hands its ranks); ``--np``, ``--timeout`` and ``--cost-model`` fill its MPI options.
"""

from __future__ import annotations

import argparse
import os

from .builder import spec_dicts
from .cli import CommandLineError, out
from .limits import set_memory_limit
from .runconfig import COST_MODELS
from .runner import read_run_config, simulate, written_store
from .sim.agree import abort_alone
from .sim.exact import FAST_NOTE
from .sim.launch import LAUNCHER_ENV
from .specs import load_simconfig
from .specs.cellrules import trusted_pickles
from .specs.values import read_overrides

__all__ = ["add_run_arguments", "run", "add_plot_arguments", "plot"]


def add_run_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", help="a store, or a NetPyNE-style spec (.py/.json), or 'example'")
    p.add_argument("--cfg", metavar="CFG", help="simConfig overrides (.json or .py with cfg)")
    p.add_argument("--np", type=_at_least_one, default=None, metavar="N",
                   help="MPI ranks (runs mpiexec when > 1; default: the RunConfig's nranks, 1)")
    p.add_argument("--cost-model", dest="cost_model", choices=COST_MODELS, default=None,
                   help="how cells are dealt to ranks: 'work' estimates each cell's work from "
                        "its mechanisms (default), 'count' from segments + incoming "
                        "connections")
    p.add_argument("--timeout", type=_positive_seconds, metavar="SECONDS",
                   help="stop the simulation (every rank) after SECONDS and fail")
    p.add_argument("--overwrite", action="store_true",
                   help="let a spec's store replace an existing store of the same name")
    p.add_argument("-o", "--output", metavar="OUT.h5",
                   help="store to write (default: the input store, or INPUT.h5 for a spec)")
    p.add_argument("--max-memory", metavar="SIZE", help="memory limit for building a spec "
                   "(e.g. 64G, 'off'; default: this machine's memory)")
    p.add_argument("--unchecked", action="store_true",
                   help="simulate without validating the store first (see docs/safety.md)")
    p.add_argument("--engine", choices=tuple(ENGINES), default=None,
                   help="simulator: 'auto' runs CoreNEURON when the model allows it, else "
                        "NEURON (the default, or the model's simConfig nethubCoreneuron); "
                        "'coreneuron' fails with the reasons when it cannot")
    p.add_argument("--exact", action="store_true",
                   help="NetPyNE's spikes bit for bit: one synapse per connection, NEURON, "
                        "NetPyNE's deal of cells over ranks (simConfig nethubExact=True); "
                        "the default merges synapses and may run CoreNEURON, which agree with "
                        "NetPyNE up to floating-point round-off")
    p.add_argument("--mod", metavar="DIR", action="append", default=None,
                   help="folder of the spec's .mod files (repeatable; default: the index's "
                        "mod_folder, or mod/ or mods/ beside the spec or at the model root, or "
                        "the sources of x86_64/ compiled in this folder); stored with the model")
    p.add_argument("--trust", "--trust-pickle", dest="trust", action="store_true",
                   help="compile native code the model carries (.mod files with VERBATIM): "
                        "only for models you trust; see docs/safety.md")
    p.add_argument("--duration", type=_positive_ms, default=None, metavar="MS",
                   help="simulated time (ms), replacing the model's (simConfig duration, "
                        "SONATA run.tstop)")
    p.add_argument("--dt", type=_positive_ms, default=None, metavar="MS",
                   help="integration time step (ms), replacing the model's")
    p.add_argument("--run-config", dest="run_config", metavar="RUN.json", default=None,
                   help="run with this RunConfig (JSON; docs/simulate.md) instead of the "
                        "model's simConfig; not with --cfg, --engine or --exact")


def _at_least_one(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number of ranks, got {text!r}"
                                         ) from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {n}")
    return n


def _positive_seconds(text: str) -> float:
    try:
        t = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if not t > 0 or t == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text}")
    return t


def _positive_ms(text: str) -> float:
    try:
        t = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected milliseconds, got {text!r}") from None
    if not t > 0 or t == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of ms, got {text}")
    return t


#: ``--engine`` value -> simConfig ``nethubCoreneuron``
ENGINES = {"auto": "auto", "neuron": False, "coreneuron": True}
_NAMES = {"neuron": "NEURON", "coreneuron": "CoreNEURON"}


def _spec_cfg(path: str | None) -> str | None:
    """A ``--cfg`` ``.py`` file is the spec's simConfig (NetPyNE's ``cfg.py``): loaded with the
    spec, whose netParams may read it; a ``.json`` file holds overrides only."""
    return path if path is not None and not path.endswith(".json") else None


def _load_cfg(path: str | None, engine: str | None = None, exact: bool = False,
              timing: dict | None = None):
    cfg = None
    if path is not None and path.endswith(".json"):
        cfg = read_overrides(path)  # checked as a spec's simConfig is
    elif path is not None:
        cfg = load_simconfig(path)
    timing = {k: v for k, v in (timing or {}).items() if v is not None}
    if engine is None and not exact and not timing:
        return cfg
    cfg = {**spec_dicts({}, cfg)[1], **timing}
    if exact and engine == "coreneuron":
        raise CommandLineError("--exact runs on NEURON (NetPyNE's simulator); it cannot be "
                               "combined with --engine coreneuron")
    if engine is not None:
        cfg["nethubCoreneuron"] = ENGINES[engine]
    if exact:
        cfg["nethubExact"] = True
        cfg["nethubMergeSynapses"] = False
        cfg["nethubCoreneuron"] = False
    return cfg


def run(args: argparse.Namespace) -> int:
    set_memory_limit(getattr(args, "max_memory", None))
    model = args.input
    if model == "example":
        from .examples import example_path

        model = str(example_path())
    if getattr(args, "run_config", None):  # a user's RunConfig, or a launched job's rank
        _alone(args)
        cfg = read_run_config(args.run_config)
    else:
        cfg = _load_cfg(args.cfg, getattr(args, "engine", None), getattr(args, "exact", False),
                        {"duration": getattr(args, "duration", None),
                         "dt": getattr(args, "dt", None)})
    try:
        # the trust flag also lets a spec's loadCellParamsRule read .pkl cell rules
        with trusted_pickles(bool(getattr(args, "trust", False))):
            res = simulate(model, cfg, nprocs=args.np, output=args.output,
                           timeout=getattr(args, "timeout", None),
                           overwrite=getattr(args, "overwrite", False),
                           checked=not getattr(args, "unchecked", False), mod_dirs=args.mod,
                           trusted=args.trust, cfg_path=_spec_cfg(args.cfg),
                           cost_model=getattr(args, "cost_model", None))
    except Exception as exc:
        abort_alone(exc)  # under MPI: an error outside the agreed phases ends every rank
        raise
    if res is not None and not os.environ.get(LAUNCHER_ENV):  # the launcher says it once
        t, engine = res.timing, res.meta.get("engine")
        out(f"{len(res.spike_times)} spikes from {len(set(res.spike_gids.tolist()))} cells in "
            f"{res.duration} ms on {res.nranks} rank(s) of {_NAMES.get(engine, 'NEURON')}; "
            f"simulate {t.get('simulate', 0):.2f} s{_exactness(res.meta)}")
        _lems_outputs(model, res)
        if res.sim_config.get("analysis"):  # NetPyNE's simConfig.analysis: draw the figures
            from .analysis.netpyne_keys import report_analysis

            report_analysis(written_store(model, args.output), res)
    return 0


def _lems_outputs(model: str, res) -> None:
    """A LEMS Simulation's OutputFiles / EventOutputFiles, beside the LEMS file as jNeuroML
    writes them (:mod:`nethub.formats.neuroml.outputs`)."""
    if not str(model).lower().endswith(".xml"):
        return
    from .formats.neuroml.outputs import lems_outputs_of, write_lems_outputs  # LEMS runs only

    if lems_outputs_of(res):
        for path in write_lems_outputs(res, os.path.dirname(os.path.abspath(model))):
            out(f"wrote {path}")


def _alone(args: argparse.Namespace) -> None:
    """``--run-config`` is the whole run configuration: simConfig overrides cannot join it."""
    clash = [flag for flag, given in (("--cfg", args.cfg), ("--engine", getattr(
        args, "engine", None)), ("--exact", getattr(args, "exact", False)),
        ("--duration", getattr(args, "duration", None)), ("--dt", getattr(args, "dt", None)))
        if given]
    if clash:
        raise CommandLineError(f"--run-config {args.run_config} is a complete RunConfig; "
                               f"{', '.join(clash)} cannot be combined with it (set its "
                               "fields in the file: engine, exact, ...)")


def _exactness(meta: dict) -> str:
    """The summary line's note on exactness (see nethub.sim.exact)."""
    if meta.get("exactness") == "exact":
        return " (exact mode)"
    if meta.get("exactness_note") == FAST_NOTE:
        return " (fast mode: equal to NetPyNE up to round-off; --exact for bit for bit)"
    return ""


def add_plot_arguments(p: argparse.ArgumentParser) -> None:
    from .analysis.cli import add_plot_arguments as add

    add(p)


def plot(args: argparse.Namespace) -> int:
    from .analysis.cli import plot as handler

    return handler(args)
