"""The software and platform a run was written with (recorded in its integrity document).

Read without importing NEURON or MPI (installed distributions are asked through
:mod:`importlib.metadata`), so the model layer can record it when a run is written.
"""

from __future__ import annotations

import functools
import importlib.metadata
import os
import platform
import shutil
import subprocess
import sys
from typing import Any

__all__ = ["environment", "compiler_version", "DISTRIBUTIONS"]

#: installed distributions whose versions a run records (absent ones are left out)
DISTRIBUTIONS = ("nethub", "neuron", "NEURON", "neuron-nightly", "numpy", "h5py", "hdf5plugin",
                 "scipy", "pandas", "mpi4py", "mpich", "openmpi", "impi-rt")


def _dist_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


@functools.cache
def compiler_version() -> str | None:
    """The first line of ``$CC --version`` (else ``cc``/``gcc``): the compiler ``nrnivmodl``
    builds mechanisms with; None when none is found."""
    for cc in (os.environ.get("CC"), "cc", "gcc", "clang"):
        exe = shutil.which(cc) if cc else None
        if exe is None:
            continue
        try:
            text = subprocess.run([exe, "--version"], capture_output=True, text=True,
                                  timeout=10, check=False).stdout
        except (OSError, subprocess.SubprocessError):
            continue
        if text.strip():
            return text.strip().splitlines()[0]
    return None


@functools.cache
def _static() -> dict[str, Any]:
    dists = {name.lower(): v for name in DISTRIBUTIONS if (v := _dist_version(name))}
    return {
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "system": platform.system(),
        "byteorder": sys.byteorder,
        "compiler": compiler_version(),
        "distributions": dists,
    }


def environment() -> dict[str, Any]:
    """Python, platform, machine, compiler and the versions of the installed distributions
    that make a run (nethub, NEURON, numpy, h5py, MPI, ...)."""
    return dict(_static())
