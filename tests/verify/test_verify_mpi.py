"""A run made on 2 MPI ranks is verified on 1 and on 2 ranks.

Runs under ``mpiexec -n 2 python -m pytest -m mpi tests/verify/test_verify_mpi.py``: both ranks
simulate the store (each its own share of the cells); rank 0 then verifies the stored run with
re-runs of its own (``mpiexec -n 2`` for two ranks).
"""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.mpi, pytest.mark.neuron]


def test_two_rank_run_verified_on_one_and_two(tmp_path_factory):
    import nethub
    from nethub.examples import example_path
    from nethub.runner import store_run_config
    from nethub.sim import _neuron, run_store
    from nethub.verifyrun import verify

    h, pc = _neuron()
    if int(pc.nhost()) < 2:
        pytest.fail("this test must run under mpiexec -n 2 (marker mpi)")
    rank = int(pc.id())
    path = None
    if rank == 0:
        net_params, cfg = nethub.load_spec(example_path())
        cfg.duration = 150
        path = str(tmp_path_factory.mktemp("verify_mpi") / "ei.h5")
        nethub.save(nethub.build(net_params, cfg), path)
    path = pc.py_broadcast(path, 0)
    res = run_store(path, store_run_config(path))
    if rank != 0:
        return
    assert res.nranks == 2
    one = verify(path, nprocs=1, shared_cache=True)
    assert one.ok, one.text()
    assert any(c.what == "rank count" and (c.old, c.new) == (2, 1) for c in one.changes)
    two = verify(path, nprocs=2, shared_cache=True)
    assert two.ok, two.text()
    assert two.rerun["nranks"] == 2 and not any(c.what == "rank count" for c in two.changes)
