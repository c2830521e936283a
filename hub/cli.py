"""The ``nethub`` command line.

Subcommands are entries of :data:`SUBCOMMANDS`: a name mapped to its one-line help, a function
that adds its arguments to an :class:`argparse.ArgumentParser`, and a handler that takes the
parsed arguments and returns an exit code. Either function may be given as a
``"module:function"`` string; only the chosen subcommand's functions are imported, so that
``nethub info`` never imports the simulator. Another module adds a subcommand with::

    from nethub.cli import add_subcommand
    add_subcommand("run", "simulate a model in NEURON", add_run_arguments, run)

or, to keep it lazy, with an entry in ``SUBCOMMANDS`` below naming ``"module:function"``s.

Exit codes
----------
0
    Success (``validate``: no errors; warnings allowed).
1
    The command was understood but failed: a file is missing or unreadable, no format matches
    it, a format needs an extra that is not installed, a conversion failed, ``validate``
    found errors, or any other error (MemoryError, RecursionError, a NEURON hoc error, ...).
    One line ``nethub: error: <message>`` goes to stderr, never a traceback (under MPI only
    rank 0 writes it: an error with a true ``quiet`` attribute is not printed).
2
    The command line is wrong: unknown subcommand or option, missing argument, malformed
    ``KEY=VALUE`` (argparse's usage errors), an unknown format name given with ``--format``,
    ``--to`` or ``--from``, a reader/writer option the format does not accept or whose value
    is invalid, or a :class:`CommandLineError` from a handler.
130
    Interrupted (Ctrl-C).

``--debug`` lets errors propagate with their traceback; ``-v`` logs INFO, ``-vv`` DEBUG to
stderr (by default only warnings).
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import __version__
from .errors import NethubError
from .formats import OptionError

__all__ = ["main", "build_parser", "add_subcommand", "Subcommand", "SUBCOMMANDS",
           "CommandLineError"]

logger = logging.getLogger(__name__)

AddArguments = Callable[[argparse.ArgumentParser], None]
Handler = Callable[[argparse.Namespace], int]


class CommandLineError(NethubError):
    """A handler found the command line inconsistent (exit code 2, like argparse's errors)."""


@dataclass(frozen=True)
class Subcommand:
    """One ``nethub <name>`` subcommand; the functions may be ``"module:function"`` strings."""

    help: str
    add_arguments: AddArguments | str
    handler: Handler | str


def _resolve(fn: Callable | str) -> Callable:
    if not isinstance(fn, str):
        return fn
    module, _, attr = fn.partition(":")
    return getattr(importlib.import_module(module), attr)


def out(text: str = "") -> None:
    """Write one line of command output to stdout (the only output function of nethub)."""
    sys.stdout.write(text + "\n")


def _error(message: str) -> None:
    sys.stderr.write(f"nethub: error: {' '.join(message.splitlines())}\n")


# ----------------------------------------------------------------------------- info
def _add_info(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", help="a store or any readable model file")
    p.add_argument("--format", metavar="FORMAT", help="format name (default: guessed)")
    p.add_argument("--json", action="store_true", help="machine-readable JSON output")
    _add_trust(p)


def _add_trust(p: argparse.ArgumentParser) -> None:
    p.add_argument("--trust", "--trust-pickle", dest="trust", action="store_true",
                   help="trust code carried by the input: read a pickle (unpickling runs code "
                        "from the file; the same as -r trusted=true) or compile .mod files with "
                        "VERBATIM (C code). Only for files you trust; see docs/safety.md")


def _trusted(path: str, format: str | None, trust: bool) -> tuple[Any, dict[str, Any]]:
    """With --trust: the reader of ``path`` and ``{"trusted": True}`` if it takes it."""
    import os

    from .formats import guess_format

    if not trust or not os.path.exists(path):
        return None, {}
    fmt = guess_format(path, "read", format)
    return fmt, ({"trusted": True} if "trusted" in (fmt.read_options or {}) else {})


def _check_format_names(*names: str | None) -> None:
    """Unknown format names on the command line are usage errors (exit code 2)."""
    from .formats import get_format

    for name in names:
        if name is not None:
            try:
                get_format(name)
            except NethubError as exc:
                raise CommandLineError(str(exc)) from exc


def _run_info(args: argparse.Namespace) -> int:
    from . import api

    _check_format_names(args.format)
    fmt, trust = _trusted(args.file, args.format, args.trust)
    data = ({"format": fmt.name, **fmt.info(args.file, **trust)} if trust else
            api.info(args.file, format=args.format))
    if args.json:
        out(json.dumps(data, indent=2, default=str))
    else:
        out(format_info(data))
    return 0


def _human_size(n: int) -> str:
    size = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{int(size)} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{n} B"  # pragma: no cover - unreachable


def _grid(headers: Sequence[str], rows: Sequence[Sequence[Any]], right: Sequence[int] = ()
          ) -> list[str]:
    """Lines of a plain-text table; columns whose index is in ``right`` are right-aligned."""
    cells = [[str(h) for h in headers]] + [["-" if v is None else str(v) for v in r]
                                           for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = []
    for r in cells:
        parts = [v.rjust(w) if i in right else v.ljust(w) for i, (v, w) in
                 enumerate(zip(r, widths))]
        lines.append("  ".join(parts).rstrip())
    return lines


def _pop_type(pop: dict[str, Any]) -> str | None:
    """A population's cell type, or ``mixed: A, B`` for one whose cells mix types."""
    if pop.get("cell_type") is None and pop.get("cell_types"):
        return "mixed: " + ", ".join(pop["cell_types"])
    return pop.get("cell_type")


def format_info(data: dict[str, Any]) -> str:
    """The human-readable text of ``nethub info`` for the dict of :func:`nethub.info`."""
    head = data.get("header", {})
    facts = [f"schema {head['schema_version']}" if "schema_version" in head else None,
             head.get("creator"), f"created {head['created']}" if "created" in head else None]
    facts_s = ", ".join(f for f in facts if f)
    lines = [f"{data['file']}: {data.get('format', '?')} format"
             + (f" ({facts_s})" if facts_s else "")
             + f", {_human_size(data.get('file_size', 0))}", ""]
    pops = data.get("populations", {})
    lines += _grid(["population", "cell type", "cells"],
                   [(k, _pop_type(v), f"{v['cells']:,}") for k, v in pops.items()],
                   right=(2,)) if pops else ["populations: none"]
    lines.append("")
    types = data.get("cell_types", {})
    from .runmodes import trust_note  # h5py: only when a store is summarised

    modes = data.get("run_modes", {})  # nethub.runmodes: snapshot / template
    lines += _grid(["cell type", "kind", "run mode"], [(k, v, modes.get(k)) for k, v in
                                                       types.items()]) if types else [
        "cell types: none"]
    lines += ["", (
        f"cells {data.get('n_cells', 0):,}, connections {data.get('n_connections', 0):,}, "
        f"pointer connections {data.get('n_pointer_conns', 0):,}, "
        f"stim targets {data.get('n_stim_targets', 0):,} "
        f"({data.get('n_stim_sources', 0)} sources)")]
    for key, label in (("syn_mechs", "synaptic mechanisms"), ("mod_files", "mod files")):
        if key in data:
            lines.append(f"{label}: {', '.join(data[key]) or 'none'}")
    if data.get("files"):  # schema 2: embedded files per role
        lines.append("embedded files: " + ", ".join(f"{role} {n}" for role, n in
                                                     data["files"].items()))
    for item in data.get("native_code", []):
        lines.append(f"native code (running needs --trust): {', '.join(item['mechanisms'])} in "
                     f"{item['file']}: {item['reason']}")
    merging = data.get("synapse_merging")
    if merging:  # nethub.sim.merge.store_savings
        lines.append(f"synapse objects: {merging['n_objects']:,} with merging, "
                     f"{merging['n_unmerged']:,} without (saved "
                     f"{merging['n_unmerged'] - merging['n_objects']:,})")
    if trust_note(modes):
        lines.append(f"note: {trust_note(modes)}")
    runs = data.get("runs", [])
    lines.append("")
    lines += _grid(["run", "spikes", "duration (ms)", "ranks", "created"],
                   [(r["name"], f"{r['n_spikes']:,}", r.get("duration"), r.get("nranks"),
                     r.get("created")) for r in runs], right=(1, 2, 3)) if runs else [
        "runs: none"]
    lines += [f"not carried over: {note}" for note in data.get("lost", [])]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- validate
def _add_validate(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", help="the file to check")
    p.add_argument("--format", metavar="FORMAT", help="format name (default: guessed)")


def _run_validate(args: argparse.Namespace) -> int:
    from . import api

    _check_format_names(args.format)
    findings = api.validate(args.file, format=args.format)
    n_err = sum(1 for f in findings if f.level == "error")
    for f in findings:
        out(f"{f.level.upper()} {f.path or '/'}: {f.message}")
    from .runmodes import store_run_modes, trust_note
    from .storeschema import describe_store

    facts = describe_store(args.file)  # schema version and embedded files of a store
    if facts:
        out(f"{args.file}: {facts}")
    modes = store_run_modes(args.file, imported_only=True)  # imported templates
    if modes:
        out(f"{args.file}: run modes: " + ", ".join(f"{k} {m}" for k, m in modes.items()))
    if trust_note(modes):
        out(f"{args.file}: note: {trust_note(modes)}")
    if not findings:
        out(f"{args.file}: valid")
    else:
        out(f"{args.file}: {n_err} error(s), {len(findings) - n_err} warning(s)")
    return 1 if n_err else 0


# ----------------------------------------------------------------------------- convert
def _key_value(text: str) -> tuple[str, Any]:
    """Parse ``KEY=VALUE``; VALUE is JSON if it parses as JSON, else a string."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key.strip(), json.loads(value)
    except ValueError:
        return key.strip(), value


def _add_convert(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", help="the file to read")
    p.add_argument("output", nargs="?",
                   help="the file to write (replaced atomically if it exists; a store given "
                        "results only, e.g. an NWB run, gains them as a run)")
    p.add_argument("--to", metavar="FORMAT", help="format of OUTPUT (default: from its suffix)")
    p.add_argument("--run", metavar="NAME", help="the run to write where a file holds one "
                   "(NWB), or the name given to the run read into a store")
    p.add_argument("--into", metavar="STORE", help="the store with the network the results "
                   "were simulated with (checked by content hash); OUTPUT defaults to it")
    p.add_argument("--from", dest="from_", metavar="FORMAT",
                   help="format of INPUT (default: guessed from content and suffix)")
    p.add_argument("-r", "--read-opt", metavar="KEY=VALUE", action="append", type=_key_value,
                   default=[], help="reader option (repeatable; VALUE parsed as JSON if it can)")
    p.add_argument("-w", "--write-opt", metavar="KEY=VALUE", action="append", type=_key_value,
                   default=[], help="writer option, e.g. compression=gzip (repeatable)")
    p.add_argument("--lems", metavar="LEMS_OUT.xml", help="NeuroML export: also write a LEMS "
                   "Simulation of the model's run (the same as -w lems=LEMS_OUT.xml)")
    p.add_argument("--template", metavar="NAME", help="INPUT is a .hoc/.py cell template: "
                   "import template (or Python class/function) NAME (docs/hoc-templates.md)")
    p.add_argument("--args", nargs="*", default=[], metavar="ARG",
                   help="arguments of the template (KEY=VALUE for Python keywords)")
    p.add_argument("--mode", choices=("auto", "snapshot", "template"), default="auto",
                   help="run mode of the imported cell type (default: decided at import)")
    p.add_argument("--name", help="INPUT is a .swc/.asc morphology: the cell type's name "
                   "(default: the file's stem; docs/hoc-templates.md)")
    p.add_argument("--dL", type=float, metavar="UM", help="morphology: maximum segment length")
    _add_trust(p)


def _run_convert(args: argparse.Namespace) -> int:
    from . import api

    if args.template:  # a cell template (issue 14)
        from .converters.hoc_convert import convert_template

        imp = convert_template(args.input, args.output, args.template, trusted=args.trust,
                               args=args.args, mode=args.mode)
        out(f"imported {args.template} from {args.input} -> {args.output}: run mode "
            f"{imp.cell_type.run_mode} (max |dV| {imp.max_dv} mV), "
            f"{len(imp.cell_type.sections)} sections")
        for k, v in imp.globals_changed.items():
            out(f"the template sets the NEURON global {k} = {v}")
        return 0
    if Path(args.input).suffix.lower() in (".swc", ".asc") and not args.from_:
        return _run_convert_morphology(args)
    if args.name or args.dL:
        raise CommandLineError("convert: --name and --dL are for .swc/.asc morphologies")
    _check_format_names(args.to, args.from_)
    trust = _trusted(args.input, args.from_, args.trust)[1]
    output = args.output or args.into
    if output is None:
        raise CommandLineError("convert: give OUTPUT (or --into STORE)")
    ropts, wopts = {**trust, **dict(args.read_opt)}, dict(args.write_opt)
    if args.lems:
        wopts["lems"] = args.lems
    _run_into_options(args, output, ropts, wopts)
    lost = api.convert(args.input, output, to=args.to, from_=args.from_,
                       read_options=ropts, write_options=wopts)
    out(f"converted {args.input} -> {output}")
    for note in lost:
        out(f"not carried over: {note}")
    return 0


def _run_convert_morphology(args: argparse.Namespace) -> int:
    """``nethub convert cell.swc OUT.h5 [--name T] [--dL UM]`` (issue 14)."""
    from .converters.morph_convert import convert_morphology

    if not args.output:
        raise CommandLineError("convert: give OUTPUT (the store to write)")
    net = convert_morphology(args.input, args.output, name=args.name, dL=args.dL)
    ct = next(iter(net.cell_types.values()))
    out(f"imported morphology {args.input} -> {args.output}: cell type {ct.name}, "
        f"{len(ct.sections)} sections (no mechanisms: NEURON defaults Ra, cm)")
    return 0


def _run_into_options(args: argparse.Namespace, output: str, ropts: dict, wopts: dict) -> None:
    """``--into`` (another OUTPUT: the reader's ``network``) and ``--run`` (the writer's
    ``run`` if it takes one, else the reader's)."""
    import os

    from .formats import guess_format

    if args.into and os.path.abspath(args.into) != os.path.abspath(output):
        ropts.setdefault("network", args.into)
    if args.run is None:
        return
    if "run" in (guess_format(output, "write", args.to).write_options or {}):
        wopts.setdefault("run", args.run)
    elif "run" in (guess_format(args.input, "read", args.from_).read_options or {}):
        ropts.setdefault("run", args.run)
    else:
        raise CommandLineError(f"--run: neither {args.input} nor {output} has a run to choose "
                               "or name this way")


# ----------------------------------------------------------------------------- formats
def _add_formats(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="machine-readable JSON output")


def _run_formats(args: argparse.Namespace) -> int:
    from .formats import formats

    rows = [{"name": f.name, "read": f.can_read, "write": f.can_write,
             "suffixes": list(f.suffixes), "extra": f.extra, "installed": f.available,
             "description": f.description} for f in formats()]
    if args.json:
        out(json.dumps(rows, indent=2))
        return 0
    flags = {True: "yes", False: "no"}
    for line in _grid(["format", "read", "write", "suffixes", "installed", "description"],
                      [(r["name"], flags[r["read"]], flags[r["write"]], " ".join(r["suffixes"]),
                        flags[r["installed"]] if r["installed"] or not r["extra"] else
                        f"no: pip install 'nethub[{r['extra']}]'", r["description"])
                       for r in rows]):
        out(line)
    return 0


def _add_compact(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", help="the store to compact")
    p.add_argument("-o", "--output", metavar="OUT.h5",
                   help="write the compacted store here (default: replace FILE atomically)")


def _run_compact(args: argparse.Namespace) -> int:
    from .storemaint import compact, mb

    sizes = compact(args.file, args.output)
    out(f"compacted {args.file}{' -> ' + args.output if args.output else ''}: "
        f"{mb(sizes['before'])} -> {mb(sizes['after'])}")
    return 0


SUBCOMMANDS: dict[str, Subcommand] = {
    "info": Subcommand("summarise a model file: populations, counts, stored runs",
                       _add_info, _run_info),
    "validate": Subcommand("check a store and list located problems", _add_validate,
                           _run_validate),
    "convert": Subcommand("convert a model file to another format (or re-write it)",
                          _add_convert, _run_convert),
    "formats": Subcommand("list the known file formats", _add_formats, _run_formats),
    "run": Subcommand("simulate a store or spec in NEURON (--np N for MPI) and store the results",
                      "nethub.runcli:add_run_arguments", "nethub.runcli:run"),
    "plot": Subcommand("plot a run: raster, rates, PSD, traces, connectivity, LFP, ...",
                       "nethub.runcli:add_plot_arguments", "nethub.runcli:plot"),
    "report": Subcommand("write a self-contained HTML report of a run",
                         "nethub.analysis.cli:add_report_arguments",
                         "nethub.analysis.cli:report"),
    "compact": Subcommand("rewrite a store without dead space (atomically, keeping every run)",
                          _add_compact, _run_compact),
    "build": Subcommand("build a NetPyNE-style spec (netParams/simConfig) into a store",
                        "nethub.builder.cli:add_arguments", "nethub.builder.cli:run"),
    "sonata-results": Subcommand("write a run of a store as SONATA spikes.h5 and reports",
                                 "nethub.sonatacli:add_arguments", "nethub.sonatacli:run"),
    "swap": Subcommand("give a population or selection another cell type (and back)",
                       "nethub.cellswap:add_arguments", "nethub.cellswap:run"),
    "verify": Subcommand("re-simulate a stored run and report what differs (docs/archiving.md)",
                         "nethub.verifycli:add_verify_arguments", "nethub.verifycli:run_verify"),
    "manifest": Subcommand("write a JSON sign-off of a store (hashes, tools) to deposit beside it",
                           "nethub.verifycli:add_manifest_arguments",
                           "nethub.verifycli:run_manifest"),
}


def add_subcommand(name: str, help: str, add_arguments: AddArguments | str,
                   handler: Handler | str) -> None:
    """Add (or replace) the subcommand ``nethub <name>``.

    Parameters
    ----------
    name : str
    help : str
        One line for ``nethub --help``.
    add_arguments : callable or str
        ``f(parser)`` adding the subcommand's arguments, or ``"module:function"``.
    handler : callable or str
        ``f(args) -> int`` running it and returning the exit code, or ``"module:function"``.
    """
    SUBCOMMANDS[name] = Subcommand(help, add_arguments, handler)


# ----------------------------------------------------------------------------- parser
def _global_options(p: argparse.ArgumentParser, suppress: bool) -> None:
    default: dict[str, Any] = {"default": argparse.SUPPRESS} if suppress else {}
    p.add_argument("--debug", action="store_true", help="show tracebacks of errors",
                   **default)
    p.add_argument("-v", "--verbose", action="count", help="log INFO (-v) or DEBUG (-vv)",
                   **({"default": 0} | default))


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The argument parser. With ``argv``, only the chosen subcommand's arguments are added
    (so only its module is imported); without, every subcommand's."""
    parser = argparse.ArgumentParser(
        prog="nethub", description="Convert, inspect, validate and run NEURON network models.")
    parser.add_argument("--version", action="version", version=f"nethub {__version__}")
    _global_options(parser, suppress=False)
    common = argparse.ArgumentParser(add_help=False)
    _global_options(common, suppress=True)
    subs = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    # the first word that is not an option names the subcommand: global options take no value
    chosen = next((a for a in argv if not a.startswith("-")), None) if argv is not None else None
    for name, cmd in SUBCOMMANDS.items():
        sub = subs.add_parser(name, help=cmd.help, description=cmd.help, parents=[common])
        if argv is None or name == chosen:
            _resolve(cmd.add_arguments)(sub)
            sub.set_defaults(handler=cmd.handler)
    return parser


def _configure_logging(verbose: int) -> Callable[[], None]:
    """Log to stderr at WARNING/INFO/DEBUG; returns a function undoing it."""
    level = logging.WARNING if verbose <= 0 else logging.INFO if verbose == 1 else logging.DEBUG
    root = logging.getLogger("nethub")
    handler = logging.StreamHandler(sys.stderr)
    fmt = "nethub: %(levelname)s: %(message)s" if verbose < 2 else (
        "nethub: %(levelname)s %(name)s: %(message)s")
    handler.setFormatter(logging.Formatter(fmt))
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(level)

    def undo() -> None:
        root.removeHandler(handler)
        root.setLevel(old_level)

    return undo


def _message(exc: BaseException) -> str:
    if isinstance(exc, OSError) and not isinstance(exc, NethubError) and exc.filename:
        return f"{exc.filename}: {exc.strerror or exc}"
    text = str(exc) or type(exc).__name__
    if isinstance(exc, NethubError):
        return text
    hint = _HINTS.get(type(exc).__name__)
    if hint is None:
        hint = next((v for k, v in _HINTS.items() if k in {c.__name__ for c in type(exc).mro()}),
                    None)
    if isinstance(exc, json.JSONDecodeError):
        return f"not valid JSON: {text}"
    if isinstance(exc, RuntimeError) and "hoc" in text:
        return "NEURON (hoc) error: " + text.replace("hocobj_call error: ", "").replace(
            "hoc_execerror: ", "") + " (NEURON's message is above)"
    return f"{type(exc).__name__}: {text}" + (f" ({hint})" if hint else "")


#: a short explanation of builtin errors that reach the command line
_HINTS = {
    "MemoryError": "not enough memory for this model or file",
    "RecursionError": "the input is nested too deeply",
    "OverflowError": "a number is too large",
    "ZeroDivisionError": "a division by zero",
}


def _report(exc: BaseException) -> int:
    """The exit code for an error; its one line (``nethub: error: ...``) goes to stderr."""
    if isinstance(exc, KeyboardInterrupt):
        _error("interrupted")
        return 130
    if not getattr(exc, "quiet", False):  # an MPI rank other than 0: rank 0 reports it
        _error(_message(exc))
    if isinstance(exc, (CommandLineError, OptionError)):
        return 2
    return 1


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``nethub <argv>`` and return its exit code (see module docs).

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name; ``sys.argv[1:]`` by default.

    Returns
    -------
    int
        0 success, 1 failure, 2 usage error, 130 interrupted. Every error, whatever its
        type, becomes one line ``nethub: error: ...`` on stderr (with ``--debug``, the
        exception propagates with its traceback).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version and usage errors end here
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    undo_logging = _configure_logging(args.verbose)
    try:
        return int(_resolve(args.handler)(args))
    except (Exception, KeyboardInterrupt) as exc:  # noqa: BLE001 - the user sees one line
        if args.debug:
            raise
        return _report(exc)
    finally:
        undo_logging()
