"""``nethub sonata-results STORE [-o DIR] [--run RUN] [--sort time|id|none]``: a run of any store
as SONATA output files (``spikes.h5`` and one element report per recorded trace label), via
:func:`nethub.formats.sonata.results.write_run_outputs`."""

from __future__ import annotations

import argparse

from .cli import out

__all__ = ["add_arguments", "run"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("store", help="a nethub store with at least one run")
    p.add_argument("-o", "--output-dir", dest="output_dir", metavar="DIR", default=None,
                   help="folder for the files (default: the output_dir of the SONATA "
                        "simulation config the run came from)")
    p.add_argument("--run", default="-1", metavar="RUN",
                   help="run name or position (default -1: the latest)")
    p.add_argument("--sort", choices=("time", "id", "none"), default=None,
                   help="order of the spikes in the file (default: the config's "
                        "spikes_sort_order, else time)")


def run(args: argparse.Namespace) -> int:
    # imported here: h5py/pandas writers load only for this subcommand
    from .formats.sonata.results import write_run_outputs

    which: int | str = int(args.run) if args.run.lstrip("-").isdigit() else args.run
    written = write_run_outputs(args.store, which, args.output_dir, sort=args.sort)
    for name, path in written.items():
        out(f"{name}: {path}")
    return 0
