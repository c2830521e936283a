"""``nethub build NETPARAMS [--cfg CFG] -o OUT.h5``: build a spec into a store."""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from ..cli import out
from ..examples import example_path
from ..limits import set_memory_limit
from ..store import write_network
from .fromfile import build_spec_file

__all__ = ["add_arguments", "run"]

logger = logging.getLogger(__name__)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("netparams", help="NetPyNE-style model file (.py defining netParams, .json, "
                   "or NetPyNE's index.npjson); 'example' for the bundled example")
    p.add_argument("--cfg", metavar="CFG", help="simConfig file (.py defining cfg, or .json)")
    p.add_argument("-o", "--output", required=True, metavar="OUT.h5", help="store to write")
    p.add_argument("--compression", choices=("blosc-lz4", "gzip", "none"),
                   default="blosc-lz4", help="dataset compression (default: blosc-lz4)")
    p.add_argument("--progress", action="store_true", help="show a progress bar")
    p.add_argument("--max-memory", metavar="SIZE", help="refuse models estimated to need "
                   "more memory than SIZE (e.g. 64G; 'off': no check; default: this machine's "
                   "memory; env NETHUB_MAX_MEMORY)")
    p.add_argument("--mod", metavar="DIR", action="append", default=None,
                   help="folder of .mod files the model needs (repeatable; stored with the "
                        "network; default: the index's mod_folder, or mod/ or mods/ beside the "
                        "spec or at the model root, or the sources of x86_64/ compiled in this "
                        "folder)")


def run(args: argparse.Namespace) -> int:
    path = args.netparams
    if path == "example":
        path = str(example_path())
    set_memory_limit(getattr(args, "max_memory", None))
    t0 = time.perf_counter()
    net = build_spec_file(path, args.cfg, args.mod, progress=args.progress)[0]
    t2 = time.perf_counter()
    write_network(net, Path(args.output), compression=args.compression)
    t3 = time.perf_counter()
    out(f"built {net!r}")
    out(f"wrote {args.output} (load and build {t2 - t0:.2f} s, write {t3 - t2:.2f} s)")
    return 0
