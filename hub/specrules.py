"""NetPyNE's spec semantics, for the converters and formats that need them, provided by a face.

Some conversions need what only the spec builder knows: the NetPyNE saved-output reader rebuilds
cell types from ``cellParams`` rules and re-evaluates their string expressions as NetPyNE's
loader does; the spec export checks what it writes by building it; the spec formats load and
build specs. The builder is a sibling layer (DESIGN.md "Layers": converters and formats import
only the model and converters), so they do not import it: a face installs a provider with
:func:`install` (the package root installs :mod:`nethub.builder.services`, imported on first
use), and they call :func:`spec_rules`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from nethub.errors import ConversionError

__all__ = ["SpecRules", "install", "spec_rules"]


class SpecRules(Protocol):
    """What a spec provider offers (:mod:`nethub.builder.services` documents each name)."""

    POP_STRUCTURAL_KEYS: frozenset[str]
    RULE_FAMILIES: Any
    NETPARAMS_KEYS: Any
    NetParams: Any
    SimConfig: Any

    def build(self, net_params: Any, sim_config: Any = None, **kwargs: Any) -> Any: ...

    def read_mod_dir(self, path: Any) -> dict[str, str]: ...

    def load_spec(self, path: Any, **kwargs: Any) -> tuple[dict, dict]: ...

    def cell_type_from_rules(self, name: str, rules: list[tuple[str, dict]]) -> Any: ...

    def section_from_spec(self, sec: dict[str, Any], where: str) -> Any: ...

    def section_labels(self, cell: Any, sec: Any, where: str = "") -> list[str]: ...

    def evaluate_cell_expressions(self, net_params: Mapping[str, Any],
                                  sim_config: Mapping[str, Any], cells: Any,
                                  cell_types: dict[str, Any]) -> None: ...

    def point_cell_columns(self, net_params: Mapping[str, Any], sim_config: Mapping[str, Any],
                           cells: Any, runs: list[tuple[str, int, int]],
                           pop_params: Mapping[str, Any], cell_types: dict[str, Any]) -> None: ...


_factory: Callable[[], SpecRules] | None = None
_rules: SpecRules | None = None


def install(factory: Callable[[], SpecRules]) -> None:
    """Install the spec provider: ``factory()`` returns it, called once, on first use."""
    global _factory, _rules
    _factory, _rules = factory, None


def spec_rules() -> SpecRules:
    """The installed spec provider.

    Raises
    ------
    ConversionError
        No provider is installed (``import nethub`` installs the builder's).
    """
    global _rules
    if _rules is None:
        if _factory is None:
            raise ConversionError("this conversion needs NetPyNE's spec semantics and no spec "
                                  "provider is installed (import nethub installs the builder's)")
        _rules = _factory()
    return _rules
