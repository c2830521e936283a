"""The conformance tests every format plugin should pass, as a base class to subclass.

A plugin's test module subclasses :class:`RoundTripTests` (pytest collects the inherited
``test_*`` methods of a class named ``Test...``)::

    from nethub.testing import RoundTripTests

    class TestMyFormat(RoundTripTests):
        format_name = "my-format"
        suffix = ".myf"
        expected_losses = ["provenance of the network"]

        def networks(self):
            return [my_small_network()]

Each test writes through the public API (``nethub.save`` / ``nethub.read``, with
``format=format_name``) into a temporary folder of its own.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

import nethub
from nethub.errors import NethubError
from nethub.formats import get_format, guess_format
from nethub.formats.base import Document
from nethub.network import Network
from nethub.results import Results

from .compare import diff_networks, diff_results
from .examples import example_network, example_results

__all__ = ["RoundTripTests", "example_network", "example_results", "losses_match", "Unwritable"]

Loss = str | re.Pattern


def losses_match(reported: Sequence[str], expected: Sequence[Loss]) -> list[str]:
    """How ``reported`` loss messages differ from ``expected`` ones (empty when they match).

    Each expected item is a string (equal to one message) or a compiled regular expression
    (``re.fullmatch`` of one message); every message must be matched by exactly one expected
    item and every expected item must match one message. Order does not matter.

    Returns
    -------
    list of str
        Lines naming the unexpected messages and the expected ones not reported.
    """
    left = list(reported)
    problems = []
    for want in expected:
        hit = next((i for i, msg in enumerate(left) if _matches(want, msg)), None)
        if hit is None:
            problems.append(f"expected loss not reported: {_pattern_text(want)!r}")
        else:
            left.pop(hit)
    problems += [f"unexpected loss reported: {msg!r}" for msg in left]
    return problems


def _matches(want: Loss, msg: str) -> bool:
    if isinstance(want, re.Pattern):
        return want.fullmatch(msg) is not None
    return want == msg


def _pattern_text(want: Loss) -> str:
    return want.pattern if isinstance(want, re.Pattern) else want


class Unwritable:
    """A value no format can serialise (not JSON, not picklable, no array form): put in a
    network's documents, it makes a write fail part-way, to test that writes are atomic."""

    __slots__ = ()

    def __reduce__(self) -> Any:
        raise TypeError("nethub.testing.Unwritable cannot be serialised")

    def __array__(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("nethub.testing.Unwritable cannot be an array")

    def __repr__(self) -> str:
        return "Unwritable()"


@contextmanager
def _folder() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="nethub-conformance-") as tmp:
        yield Path(tmp)


def _listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def _snapshot(path: Path) -> dict[str, bytes]:
    """The bytes of a file, or of every file below a folder, by relative name."""
    if path.is_file():
        return {"": path.read_bytes()}
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*"))
            if p.is_file()}


def _truncate(path: Path) -> None:
    """Cut the file (every file of a folder or zip) to half its size."""
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    for p in files:
        data = p.read_bytes()
        p.write_bytes(data[:len(data) // 2])


def _is_strategy(obj: Any) -> bool:
    return hasattr(obj, "example") and hasattr(obj, "map") and hasattr(obj, "filter")


class RoundTripTests:
    """Conformance tests of a format plugin; subclass it in a class named ``Test...``.

    Attributes
    ----------
    format_name : str
        The plugin's registry name.
    suffix : str
        File name ending to write (one of the plugin's ``suffixes``).
    read_options, write_options : dict
        Passed to ``nethub.read`` / ``nethub.save`` (e.g. ``{"trusted": True}``).
    expected_losses : sequence of str or re.Pattern
        Exactly the loss messages a write of each example network reports (strings equal a
        message, compiled patterns ``fullmatch`` one); empty for a lossless format. Override
        :meth:`losses` when they depend on the network.
    expected_result_losses : sequence of str or re.Pattern
        The messages added when the example runs are written with the network.
    compare : dict
        Keyword arguments of :func:`~nethub.testing.assert_network_equal` for comparing what
        is read back with what was written (``ignore``, ``rtol``, ``atol``, ``ordered``):
        what the declared losses say is not kept.
    results_compare : dict
        The same for :func:`~nethub.testing.assert_results_equal`.
    compare_with_results : dict
        Replaces ``compare`` for the network written together with runs (e.g. NetPyNE files
        keep the run's simConfig instead of the spec's).
    canonical_order : bool
        Compare ``canonical()`` forms (cells sorted by gid, connection-like tables by target
        gid; a stable sort, so the order within one target still counts).
    hypothesis_settings : dict
        ``hypothesis.settings`` used when :meth:`networks` returns a strategy.
    """

    format_name: ClassVar[str] = ""
    suffix: ClassVar[str] = ""
    read_options: ClassVar[Mapping[str, Any]] = {}
    write_options: ClassVar[Mapping[str, Any]] = {}
    expected_losses: ClassVar[Sequence[Loss]] = ()
    expected_result_losses: ClassVar[Sequence[Loss]] = ()
    compare: ClassVar[Mapping[str, Any]] = {}
    results_compare: ClassVar[Mapping[str, Any]] = {}
    compare_with_results: ClassVar[Mapping[str, Any]] = {}
    canonical_order: ClassVar[bool] = True
    hypothesis_settings: ClassVar[Mapping[str, Any]] = {
        "max_examples": 10, "deadline": None, "derandomize": True}

    # ------------------------------------------------------------------ what to test with
    def networks(self) -> Any:
        """Example networks (a list) or a hypothesis strategy of networks."""
        return [example_network()]

    def results(self, network: Network) -> list[Results]:
        """The runs written with ``network`` by :meth:`test_results_round_trip`."""
        return [example_results(network)]

    def expected_network(self, network: Network) -> Network:
        """What reading back a write of ``network`` must give (before ``compare``): the
        network itself by default; override it to state exactly what a declared loss changes
        (e.g. booleans read back as integers)."""
        return network

    def losses(self, network: Network, runs: Sequence[Results]) -> Sequence[Loss]:
        """The loss messages expected when writing ``network`` with ``runs``."""
        return [*self.expected_losses, *(self.expected_result_losses if runs else ())]

    def unwritable(self) -> Document:
        """A document the format cannot write: the write must raise and leave nothing.

        The default puts an :class:`Unwritable` value in :meth:`example`'s params,
        provenance and spec; override it for formats that write none of those.
        """
        net = self.example()
        spec = dict(net.spec or {})
        spec["netParams"] = {**dict(spec.get("netParams") or {}), "unwritable": Unwritable()}
        return Document(network=net.replace(params={**net.params, "unwritable": Unwritable()},
                                            provenance={"unwritable": Unwritable()},
                                            spec=spec))

    # ------------------------------------------------------------------ helpers
    def example(self) -> Network:
        """The network of the single-file tests (sniffing, truncation, failed writes, runs):
        the first of :meth:`networks`, or :func:`example_network` when that is a strategy."""
        nets = self.networks()
        return example_network() if _is_strategy(nets) else list(nets)[0]

    @property
    def format(self) -> Any:
        """The plugin under test."""
        return get_format(self.format_name)

    def _each_network(self, check: Any) -> None:
        nets = self.networks()
        if not _is_strategy(nets):
            for net in nets:
                check(net)
            return
        # hypothesis is a dev extra: imported only when a subclass gives a strategy
        from hypothesis import HealthCheck, given, settings

        opts = {"suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
                **self.hypothesis_settings}
        settings(**opts)(given(nets)(check))()

    def _path(self, folder: Path, stem: str = "net") -> Path:
        return folder / f"{stem}{self.suffix}"

    def _save(self, obj: Any, path: Path) -> list[str]:
        return nethub.save(obj, path, format=self.format_name, **self.write_options)

    def _read(self, path: Path, results: bool = True) -> Document:
        return nethub.read(path, format=self.format_name, results=results, **self.read_options)

    def network_differences(self, back: Network | None, net: Network, **extra: Any
                            ) -> list[str]:
        """The differences between ``expected_network(net)`` and the network read back
        (``compare`` options, updated by ``extra``), in canonical order if so configured."""
        if back is None:
            return ["the format read back no network"]
        net = self.expected_network(net)
        if self.canonical_order:
            back, net = back.canonical(), net.canonical()
        return diff_networks(net, back, **{**self.compare, **extra})

    @staticmethod
    def _fail(title: str, lines: list[str]) -> None:
        if lines:
            raise AssertionError(f"{title}:\n  " + "\n  ".join(lines[:20]))

    # ------------------------------------------------------------------ the tests
    def test_format_registered(self) -> None:
        """The plugin is registered under ``format_name``, reads, writes, claims ``suffix``."""
        fmt = self.format
        assert fmt.name == self.format_name
        assert fmt.can_read and fmt.can_write, f"{fmt.name} must read and write"
        assert fmt.matches_suffix(f"x{self.suffix}"), f"{self.suffix} not in {fmt.suffixes}"
        if fmt.lossless:
            assert not self.expected_losses and not self.expected_result_losses, \
                f"{fmt.name} says it is lossless but losses are expected"

    def test_round_trip(self) -> None:
        """write -> read gives the network back (what ``compare`` ignores aside)."""
        def check(net: Network) -> None:
            with _folder() as tmp:
                path = self._path(tmp)
                self._save(net, path)
                doc = self._read(path)
                self._fail(f"{self.format_name}: network read back differs (written vs read)",
                           self.network_differences(doc.network, net))
                self._fail(f"{self.format_name}: reading its own output reported losses",
                           [repr(x) for x in doc.lost])
        self._each_network(check)

    def test_losses_exact(self) -> None:
        """A write reports exactly the expected losses, no more, no less; a lossless format
        reads back an equal network with nothing ignored."""
        def check(net: Network) -> None:
            with _folder() as tmp:
                lost = self._save(net, self._path(tmp))
                self._fail(f"{self.format_name}: losses of a write", losses_match(
                    lost, self.losses(net, [])))
                if self.format.lossless:
                    back = self._read(self._path(tmp)).network
                    self._fail(f"{self.format_name} is declared lossless but",
                               self.network_differences(back, net, ignore=()))
        self._each_network(check)

    def test_write_twice_same(self) -> None:
        """Writing the same network twice gives the same bytes, or equal networks."""
        def check(net: Network) -> None:
            with _folder() as tmp:
                a, b = self._path(tmp, "a"), self._path(tmp, "b")
                self._save(net, a)
                self._save(net, b)
                if _snapshot(a) == _snapshot(b):
                    return
                na, nb = self._read(a).network, self._read(b).network
                assert na is not None and nb is not None
                self._fail(f"{self.format_name}: two writes of one network read back different",
                           diff_networks(na, nb))
        self._each_network(check)

    def test_failed_write_leaves_nothing(self) -> None:
        """A write that fails part-way raises, leaves an existing file as it was and leaves
        no new file (nor temporary debris) behind."""
        bad = self.unwritable()
        with _folder() as tmp:
            fresh = self._path(tmp, "fresh")
            _expect_failure(lambda: self._save(bad, fresh), self.format_name)
            assert _listing(tmp) == [], f"a failed write left {_listing(tmp)}"
            old = self._path(tmp, "old")
            self._save(self.example(), old)
            before, names = _snapshot(old), _listing(tmp)
            _expect_failure(lambda: self._save(bad, old), self.format_name)
            assert _listing(tmp) == names, f"a failed write left {_listing(tmp)}"
            assert _snapshot(old) == before, "a failed write changed the existing file"

    def test_unwritable_place_errors(self) -> None:
        """Writing where no file can be made (below a regular file) raises and creates
        nothing."""
        with _folder() as tmp:
            blocker = tmp / "a_file"
            blocker.write_text("not a folder")
            _expect_failure(lambda: self._save(self.example(),
                                               self._path(blocker)), self.format_name)
            assert _listing(tmp) == ["a_file"]

    def test_truncated_file_error(self) -> None:
        """Reading a truncated file raises a nethub error naming the file."""
        with _folder() as tmp:
            path = self._path(tmp)
            self._save(self.example(), path)
            _truncate(path)
            _expect_named_error(lambda: self._read(path), path)

    def test_foreign_file_error(self) -> None:
        """Reading a file of another kind (bytes, empty, a JSON list) raises a nethub error
        naming the file."""
        with _folder() as tmp:
            for i, content in enumerate((b"\x00\x01 not this format\n", b"",
                                         b'["a JSON list", 1, 2]\n')):
                path = self._path(tmp, f"foreign{i}")
                path.write_bytes(content)
                _expect_named_error(lambda p=path: self._read(p), path)

    def test_sniff_own_output(self) -> None:
        """The plugin recognises what it wrote, and the registry picks it for that file."""
        with _folder() as tmp:
            path = self._path(tmp)
            self._save(self.example(), path)
            assert self.format.sniff(path), f"{self.format_name} does not sniff its output"
            assert guess_format(path).name == self.format_name, \
                f"the registry reads {path.name} as {guess_format(path).name!r}"

    def test_results_round_trip(self) -> None:
        """With runs: a format that holds results gives them back (what ``results_compare``
        ignores aside); one that does not reports their loss."""
        net = self.example()
        runs = self.results(net)
        with _folder() as tmp:
            path = self._path(tmp)
            lost = self._save((net, runs), path)
            self._fail(f"{self.format_name}: losses of a write with runs",
                       losses_match(lost, self.losses(net, runs)))
            doc = self._read(path)
            self._fail(f"{self.format_name}: network read back with runs differs",
                       self.network_differences(doc.network, net,
                                              **(self.compare_with_results or self.compare)))
            if not self.format.holds_results:
                assert doc.results == [], "a format that holds no results read some"
                return
            self._fail(f"{self.format_name}: runs read back differ (written vs read)",
                       diff_results(runs, doc.results, **self.results_compare))
            assert self._read(path, results=False).results == [], \
                "results=False still read the runs"


def _expect_failure(write: Any, name: str) -> None:
    try:
        write()
    except Exception:  # what fails is the format's business; that it fails is checked
        return
    raise AssertionError(f"{name}: the write did not fail")


def _expect_named_error(read: Any, path: Path) -> None:
    try:
        read()
    except NethubError as err:
        assert os.fspath(path) in str(err), \
            f"the error does not name {path}: {err}"
        return
    except Exception as err:
        raise AssertionError(f"reading {path.name} raised {type(err).__name__}, not a "
                             f"NethubError naming the file: {err}") from err
    raise AssertionError(f"reading {path.name} did not fail")

