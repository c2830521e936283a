"""Which recorded frames a SONATA report holds.

A SONATA report's ``mapping/time`` is ``[start, end, dt]`` with ``(end - start) / dt`` frames,
``end`` excluded, and BMTK's reports end at ``tstop`` (``end_time <= tstop``). A trace that
NEURON recorded up to and including ``tstop`` (``Vector.record`` samples ``t = 0 .. tstop``) has
one frame more, and whether float time reaches ``tstop`` exactly varied from run to run
(5001 frames for 500 ms, 10000 for 1000 ms). For the reports a SONATA simulation config asked for
(trace labels ``sonata:<report>``) the writer keeps the frames before ``tstop``, so such a
report of a run of ``tstop`` ms at step ``dt`` has ``tstop / dt`` frames, as BMTK's. Other
traces (a NetPyNE run's) are written whole.
"""

from __future__ import annotations

import numpy as np

from nethub.results import Traces


def before_end(traces: Traces, duration: float | None) -> Traces:
    """``traces`` without the frames at or after ``duration`` (ms; None: all kept).

    Parameters
    ----------
    traces : Traces
    duration : float or None
        The run's duration (SONATA ``run.tstop``).

    Returns
    -------
    Traces
        The same object when nothing is dropped.
    """
    t = np.asarray(traces.time, float)
    if duration is None or t.size < 2:
        return traces
    half = 0.5 * float(t[1] - t[0])
    keep = t < float(duration) - half
    if keep.all() or not keep.any():
        return traces
    return Traces(traces.index, t[keep], traces.data[:, keep])
