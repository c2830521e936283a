"""The launcher's error message when a rank's last words never reach its output."""

import os
import sys

import pytest

from nethub.errors import SimulationError
from nethub.sim.launch import ERROR_FILE_ENV, run_job

#: a "rank" that aborts after leaving its message only in the job's error file (as MPICH may
#: drop the output of a rank that calls MPI_Abort on a busy machine)
_SILENT_ABORT = (f"import os; fh = open(os.environ['{ERROR_FILE_ENV}'], 'a'); "
                 "fh.write('rank 1 failed in run: hoc error: boom (the other ranks are blocked "
                 "in a collective: ending the MPI job)\\n'); fh.close(); raise SystemExit(1)")


def test_message_from_the_error_file(capsys):
    with pytest.raises(SimulationError) as err:
        run_job([sys.executable, "-c", _SILENT_ABORT], dict(os.environ))
    assert str(err.value) == "rank 1 failed in run: hoc error: boom"


def test_output_lines_win_and_the_error_file_is_removed(tmp_path):
    code = (f"import os; print(os.environ['{ERROR_FILE_ENV}']); "
            "print('nethub: error: rank 0 failed in read: bad.h5'); raise SystemExit(1)")
    out = tmp_path / "out.txt"
    with open(out, "w") as fh, pytest.raises(SimulationError) as err:
        run_job([sys.executable, "-c", code], dict(os.environ), output=fh)
    assert str(err.value) == "rank 0 failed in read: bad.h5"
    assert not os.path.exists(out.read_text().splitlines()[0])
