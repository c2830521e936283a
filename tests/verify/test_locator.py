"""The integrity digests: a SHA-256 that sees every change, and a locator that names the one
element that changed (or says it cannot)."""

from __future__ import annotations

import numpy as np
import pytest

from nethub import verifyhash
from nethub.verifyhash import PRIME, array_digest, locate_change, tree_sha256

RNG = np.random.default_rng(17)


@pytest.mark.parametrize("dtype", ["<f8", "<i8", "<i4", "|u1", "<f4", "|b1"])
def test_one_changed_element_is_located(dtype):
    a = (RNG.random(5000) * 200).astype(dtype)
    for pos in (0, 1, 2345, 4999):
        b = a.copy()
        b.view(np.uint8)[pos * a.itemsize] ^= 1  # one bit of one element
        old, new = array_digest(a), array_digest(b)
        assert old["sha256"] != new["sha256"]
        assert locate_change(old, new) == pos


def test_two_dimensional_position_is_flat():
    a = RNG.random((7, 30))
    b = a.copy()
    b[4, 11] += 1e-12
    assert np.unravel_index(locate_change(array_digest(a), array_digest(b)), a.shape) == (4, 11)


def test_strings_are_located():
    a = np.array(["E", "I", "Körb", "stim"], dtype=object)
    b = a.copy()
    b[2] = "Korb"
    assert locate_change(array_digest(a), array_digest(b)) == 2


def test_several_changes_are_not_misnamed():
    a = RNG.random(1000)
    b = a.copy()
    b[[3, 700]] += 1.0
    assert array_digest(a)["sha256"] != array_digest(b)["sha256"]
    assert locate_change(array_digest(a), array_digest(b)) is None


def test_shape_change_is_not_located():
    a = RNG.random(10)
    assert locate_change(array_digest(a), array_digest(a[:9])) is None


def test_arrays_are_hashed_in_chunks(monkeypatch):
    """Over several chunks the sums are those of one pass and still locate the change."""
    a = np.arange(5000, dtype=np.int64)
    whole = array_digest(a)
    monkeypatch.setattr(verifyhash, "_CHUNK", 999)
    assert array_digest(a) == whole
    b = a.copy()
    b[4501] = -1
    assert locate_change(whole, array_digest(b)) == 4501
    assert all(0 <= v < PRIME for v in whole["loc"])


def test_tree_hash_is_order_free_and_sensitive():
    t = {"/a": {"sha256": "1"}, "/b": {"sha256": "2"}}
    assert tree_sha256(t) == tree_sha256(dict(reversed(list(t.items()))))
    assert tree_sha256(t) != tree_sha256({**t, "/b": {"sha256": "3"}})


def test_many_embedded_files_are_hashed_for_every_run(tmp_path):
    """A tree too large for an HDF5 attribute is not cached; the run is still written with
    its hashes and checked."""
    import h5py

    from nethub.api import validate
    from nethub.network import Network
    from nethub.results import Results
    from nethub.store import append_run, write_network
    from nethub.verifycheck import MAX_CACHED

    net = Network()
    for i in range(150):
        net.add_file(f"morphologies/c{i}.swc", f"1 1 0 0 {i} 5 -1\n".encode(), "morphology")
    path = write_network(net, tmp_path / "many.h5")
    append_run(path, Results(), "r")
    with h5py.File(path, "r") as f:
        assert "integrity" not in f["network"].attrs
        assert len(f["results/r/integrity"][()]) > MAX_CACHED
    assert validate(path) == []
    with h5py.File(path, "r+") as f:
        f["model/files/f149"][0] ^= 1
    assert any("embedded file 'morphologies/c149.swc' (morphology): byte 0" in x.message
               for x in validate(path))
