"""NetPyNE 1.1.1 reference (test-only, run as a script in its own process): the cell rule
NetPyNE makes of a morphology file, printed as JSON (last line).

``.swc``: ``NetParams().importCellParams(...)`` itself. ``.asc``: NetPyNE 1.1.1's
``importCell`` refuses the suffix before reading, so the body of its ``.swc`` branch is
called directly (NetPyNE's own loader ``netpyne.support.morphology.load``, which reads ASC
too, then ``getCellParams``)."""

import contextlib
import io
import json
import sys

from netpyne import specs
from netpyne.conversion import neuronPyHoc
from netpyne.support.morphology import load
from neuron import h


def rule_of(path):
    if path.endswith(".swc"):
        return specs.NetParams().importCellParams("C", path, cellName="C").todict()
    h.initnrn()
    var_list = neuronPyHoc.mechVarList()
    glob = neuronPyHoc.getGlobals(list(var_list["mechs"]) + list(var_list["pointps"]))
    glob["v_init"] = -65
    secs, sec_lists, _, globs = neuronPyHoc.getCellParams(load(path), var_list, glob)
    return {"secs": secs, "secLists": sec_lists, "globals": globs}


def main():
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            rule = rule_of(sys.argv[1])
    except Exception as exc:  # the error NetPyNE gives is the reference too
        print(json.dumps({"error": str(exc)}))
        return
    print(json.dumps(rule, default=list))


main()
