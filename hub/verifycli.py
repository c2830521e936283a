"""``nethub verify STORE [--run NAME] [--np N] [--manifest M.json] [--json]`` and
``nethub manifest STORE [-o M.json] [--author NAME] [--note TEXT]``.

``verify`` exits 0 when the run is reproduced and the store unaltered, 1 when results differ,
the store (or its manifest) changed, or the re-run failed; the report goes to stdout.
"""

from __future__ import annotations

import argparse
import json

from .cli import out

__all__ = ["add_verify_arguments", "run_verify", "add_manifest_arguments", "run_manifest"]


def _non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def _ranks(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of ranks >= 1, got {text!r}")
    return int(text)


def add_verify_arguments(p: argparse.ArgumentParser) -> None:
    from .verifyrun import DEFAULT_ATOL, DEFAULT_RTOL

    p.add_argument("store", help="the store whose run to re-simulate")
    p.add_argument("--run", metavar="NAME", help="the run (default: the latest)")
    p.add_argument("--np", type=_ranks, default=None, metavar="N",
                   help="MPI ranks of the re-run (default: the original's, at most this "
                        "machine's CPUs); results are rank-invariant")
    p.add_argument("--manifest", metavar="M.json", help="also check the store against this "
                   "manifest (nethub manifest)")
    p.add_argument("--atol", type=_non_negative, default=DEFAULT_ATOL,
                   help=f"absolute tolerance of traces and LFP (default {DEFAULT_ATOL:g})")
    p.add_argument("--rtol", type=_non_negative, default=DEFAULT_RTOL,
                   help=f"relative tolerance of traces and LFP (default {DEFAULT_RTOL:g})")
    p.add_argument("--no-sim", dest="simulate", action="store_false",
                   help="check integrity (and the manifest) only, without re-simulating")
    p.add_argument("--shared-cache", action="store_true",
                   help="use this machine's compiled mechanisms instead of compiling the "
                        "store's .mod sources afresh")
    p.add_argument("--timeout", type=_non_negative, default=None, metavar="SECONDS",
                   help="stop the re-run after SECONDS")
    p.add_argument("--trust", action="store_true", help="compile native code (VERBATIM) the "
                   "store's .mod files carry and run the templates of its template-mode cell "
                   "types (nethub info shows them); see docs/safety.md")
    p.add_argument("--json", action="store_true", help="the report as JSON")


def run_verify(args: argparse.Namespace) -> int:
    from .verifyrun import verify

    report = verify(args.store, args.run, nprocs=args.np, manifest=args.manifest,
                    atol=args.atol, rtol=args.rtol, trusted=args.trust,
                    shared_cache=args.shared_cache, timeout=args.timeout or None,
                    simulate=args.simulate)
    out(json.dumps(report.to_dict(), indent=2, default=str) if args.json else report.text())
    return 0 if report.ok else 1


def add_manifest_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("store", help="the store to sign off")
    p.add_argument("-o", "--output", metavar="M.json",
                   help="where to write it (default: STORE.manifest.json beside the store)")
    p.add_argument("--author", help="who signs it off (default: the login name)")
    p.add_argument("--note", help="free text: a paper, a DOI, a dataset id")


def run_manifest(args: argparse.Namespace) -> int:
    from .manifest import write_manifest

    path = write_manifest(args.store, args.output, args.author, args.note)
    out(f"wrote {path}; check it with: nethub verify {args.store} --manifest {path}")
    return 0
