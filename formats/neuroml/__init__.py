"""NeuroML2 and LEMS files: reading (``.nml`` with includes, ``.nml.h5``, LEMS Simulation
files), writing (``.nml``, ``.nml.h5``, atomically) and NMODL for their mechanisms.

Needs the ``neuroml`` extra (libNeuroML, pyNeuroML); importing this package does not import
them: they load when a file is read or written.
"""

from ._common import NeuroMLError
from .build import network_from_summary
from .lems import (
                   EventOutputFile,
                   EventSelection,
                   LemsModel,
                   LemsSimulation,
                   OutputColumn,
                   OutputFile,
                   read_lems,
)
from .mechanisms import NmodlResult, generate_nmodl, neuron9_random, random_ids
from .nmlread import NeuroMLModel, read_neuroml, read_nml
from .summary import (
                   CONNECTION_FIELDS,
                   INPUT_FIELDS,
                   ExplicitInputSummary,
                   InputListSummary,
                   NetworkSummary,
                   PopulationSummary,
                   ProjectionSummary,
)
from .write import write_nml, write_nml_h5

__all__ = [
    "CONNECTION_FIELDS", "INPUT_FIELDS", "EventOutputFile", "EventSelection",
    "ExplicitInputSummary", "InputListSummary", "LemsModel", "LemsSimulation", "NetworkSummary",
    "NeuroMLError", "NeuroMLModel", "OutputColumn", "OutputFile", "PopulationSummary",
    "ProjectionSummary", "read_lems", "read_neuroml", "read_nml",
    "NmodlResult", "generate_nmodl", "neuron9_random", "random_ids", "network_from_summary",
    "write_nml", "write_nml_h5",
]
