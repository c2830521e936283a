"""High-level NetPyNE specs (netParams / simConfig) as files: JSON and a Python script.

``spec-json`` (``.spec.json``; any ``.json`` whose content is a spec when reading)
    ``{"netParams": {...}, "simConfig": {...}}``. NetPyNE reads it with
    ``sim.loadNetParams(f, variable='netParams')`` and ``sim.loadSimCfg(f, variable='simConfig')``
    (or ``specs.NetParams(json.load(f)['netParams'])``); nethub with ``nethub.specs.load_spec``.
    Reading also accepts a bare netParams dict (with ``popParams``/``cellParams`` ...). NetPyNE's
    *saved output* (top level ``net``/``simData``) is another format and is not claimed here.
``spec-py`` (``.py``)
    A readable Python script that builds ``netParams`` and ``simConfig`` with
    ``netpyne.specs`` and, run as ``python model.py``, calls ``sim.createSimulateAnalyze``.
    nethub loads it (and any NetPyNE-style model file) with ``nethub.specs.load_spec``, which
    runs the file with a stand-in ``netpyne``: reading a ``.py`` file runs it, as the user
    asked. Values are written as Python literals (``repr``; ``float('nan')``/``float('inf')``),
    never by text substitution, so strings survive intact.

Reading builds the network the spec describes (:func:`nethub.build`). Writing describes a
network as a spec (:mod:`nethub.converters.spec`): its own spec when it was built from one,
else explicit ``cellsList``/``connList`` rules; what a spec cannot say is returned as notes.
"""

from __future__ import annotations

import json
import keyword
import logging
import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nethub.errors import ConversionError, FormatError, NethubError
from nethub.specrules import spec_rules
from nethub.version import __version__

from .base import Document, Format, OptionError

# nethub's model modules (table, network, store: numpy and pandas, ~0.3 s measured with
# ``python -X importtime``) are imported inside the functions that need them: listing and
# sniffing formats imports every plugin module and stays fast.

__all__ = ["SpecJsonFormat", "SpecPyFormat", "py_literal", "spec_json_text", "spec_py_text"]

logger = logging.getLogger(__name__)

WIDTH = 99  # line length of the script
_SNIFF_BYTES = 1 << 16
_FULL_PARSE = 8 << 20  # JSON files up to this size are parsed to sniff them
_FOREIGN_KEYS = ("net", "simData", "netpyne_version", "netpyne_changeset")
_FIRST_KEY = re.compile(rb'^\s*\{\s*"((?:[^"\\]|\\.)*)"\s*:')


# ----------------------------------------------------------------------------- Python literals
def _atom(v: Any) -> str:
    if v is None or isinstance(v, (bool, int, str)):
        return repr(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "float('nan')"
        if math.isinf(v):
            return "float('inf')" if v > 0 else "-float('inf')"
        return repr(v)
    raise ConversionError(f"a {type(v).__name__} ({v!r:.60}) cannot be written as a Python "
                          "literal in a spec")


def _inline(v: Any, budget: int) -> str | None:
    """``v`` as a one-line literal, or None when it would be longer than ``budget``."""
    if isinstance(v, dict):
        parts, used = [], 2
        for k, x in v.items():
            s = _inline(x, budget - used)
            if s is None:
                return None
            parts.append(f"{_atom(k)}: {s}")
            used += len(parts[-1]) + 2
            if used > budget:
                return None
        return "{" + ", ".join(parts) + "}"
    if isinstance(v, (list, tuple)):
        if 2 * len(v) > budget:
            return None
        parts, used = [], 2
        for x in v:
            s = _inline(x, budget - used)
            if s is None:
                return None
            parts.append(s)
            used += len(s) + 2
            if used > budget:
                return None
        return "[" + ", ".join(parts) + "]"
    s = _atom(v)
    return s if len(s) <= budget else None


def _emit(v: Any, indent: int, out: list[str], prefix: str = "", suffix: str = "") -> None:
    """Append the lines of ``prefix + literal(v) + suffix`` at ``indent``."""
    pad = " " * indent
    s = _inline(v, WIDTH - indent - len(prefix) - len(suffix))
    if s is not None:
        out.append(pad + prefix + s + suffix)
        return
    if isinstance(v, dict):
        out.append(pad + prefix + "{")
        for k, x in v.items():
            _emit(x, indent + 4, out, f"{_atom(k)}: ", ",")
        out.append(pad + "}" + suffix)
        return
    if not isinstance(v, (list, tuple)):
        out.append(pad + prefix + _atom(v) + suffix)  # a long string
        return
    out.append(pad + prefix + "[")
    items = [_inline(x, 160) for x in v]  # data rows may exceed WIDTH rather than wrap
    if all(s is not None and len(s) <= 40 for s in items):
        _pack(items, indent + 4, out)
    elif all(s is not None for s in items):
        out += [" " * (indent + 4) + s + "," for s in items]
    else:
        for x in v:
            _emit(x, indent + 4, out, "", ",")
    out.append(pad + "]" + suffix)


def _pack(items: list[str], indent: int, out: list[str]) -> None:
    """Short literals, several per line."""
    pad, line = " " * indent, []
    used = indent
    for s in items:
        if line and used + len(s) + 2 > WIDTH:
            out.append(pad + " ".join(line))
            line, used = [], indent
        line.append(s + ",")
        used += len(s) + 2
    if line:
        out.append(pad + " ".join(line))


def py_literal(value: Any, indent: int = 0) -> str:
    """``value`` (JSON-like: dicts, lists, str, int, float, bool, None) as Python source that
    evaluates to an equal value (floats exactly; NaN and infinities as ``float(...)``)."""
    out: list[str] = []
    _emit(value, indent, out)
    return "\n".join(out)


# ----------------------------------------------------------------------------- the texts
def _assign(obj: str, name: str, value: Any, out: list[str]) -> None:
    if name.isidentifier() and not keyword.iskeyword(name):
        _emit(value, 0, out, f"{obj}.{name} = ")
    else:
        _emit(value, 0, out, f"setattr({obj}, {name!r}, ", ")")


def _comment(lines: list[str]) -> list[str]:
    return ["# " + " ".join(str(x).split()) for x in lines]


def spec_py_text(net_params: Mapping[str, Any], sim_config: Mapping[str, Any],
                 notes: list[str] = (), title: str = "NetPyNE model") -> str:
    """A Python script defining ``netParams`` and ``simConfig`` (see the module docstring)."""
    RULE_FAMILIES = spec_rules().RULE_FAMILIES  # noqa: N806

    out = _comment([f"{title}, written by nethub {__version__}.",
                    "Run it with NetPyNE: python this_file.py; load it in nethub: "
                    "nethub.specs.load_spec(this_file) or nethub build this_file."])
    if notes:
        out += ["#", "# Not carried over from the network:"] + _comment(
            [f"- {n}" for n in notes])
    out += ["", "from netpyne import specs", "", "netParams = specs.NetParams()",
            "simConfig = specs.SimConfig()", "", "# ---- simulation configuration"]
    for k, v in sim_config.items():
        if not k.startswith("_"):
            _assign("simConfig", k, v, out)
    out += ["", "# ---- network parameters"]
    families = [k for k in net_params if k in RULE_FAMILIES]
    for k, v in net_params.items():
        if k not in families and not k.startswith("_"):
            _assign("netParams", k, v, out)
    for fam in families:
        if net_params[fam]:
            out += ["", f"# ---- {fam}"]
        for label, rule in net_params[fam].items():
            _emit(rule, 0, out, f"netParams.{fam}[{label!r}] = ")
    out += ["", "if __name__ == '__main__':", "    from netpyne import sim", "",
            "    sim.createSimulateAnalyze(netParams=netParams, simConfig=simConfig)", ""]
    return "\n".join(out)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, allow_nan=True, separators=(", ", ": "))


def spec_json_text(net_params: Mapping[str, Any], sim_config: Mapping[str, Any]) -> str:
    """``{"netParams": ..., "simConfig": ...}`` with one rule per line."""
    RULE_FAMILIES = spec_rules().RULE_FAMILIES  # noqa: N806

    lines = ['{"netParams": {']
    items = []
    for k, v in net_params.items():
        if k in RULE_FAMILIES and isinstance(v, Mapping) and v:
            rules = ",\n".join(f"  {_dumps(str(label))}: {_dumps(r)}" for label, r in v.items())
            items.append(f" {_dumps(k)}: {{\n{rules}\n }}")
        else:
            items.append(f" {_dumps(k)}: {_dumps(v)}")
    lines.append(",\n".join(items))
    lines.append("},")
    lines.append(f'"simConfig": {_dumps(dict(sim_config))}}}')
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- the plugins
def _write_text(path: str | os.PathLike, text: str) -> None:
    from nethub.store import atomic_path

    with atomic_path(path, suffix=".nhtmp") as tmp:
        tmp.write_text(text, encoding="utf-8")


def _sample(value: Any, n: int = 8) -> Any:
    """``value`` with every list cut to its first ``n`` items (recursively)."""
    if isinstance(value, dict):
        return {k: _sample(v, n) for k, v in value.items()}
    if isinstance(value, list):
        return [_sample(v, n) for v in value[:n]]
    return value


def _json_spec(path: Path) -> tuple[dict, dict] | None:
    """netParams and simConfig dicts of a spec JSON file (None: leave it to the loader).

    Explicit-rules specs list every cell and connection; the spec model checks every list
    item in Python, which takes minutes for millions of connections. Here the rules are checked
    on a sample (lists cut to 8 items: keys, types and structure), and the builder checks
    the full lists as it uses them (lengths, index ranges)."""
    rules = spec_rules()
    data = _load_json(path)
    if not isinstance(data, dict) or any(k in data for k in _FOREIGN_KEYS):
        return None
    np_dict = data["netParams"] if isinstance(data.get("netParams"), dict) else data
    cfg = data.get("simConfig") if isinstance(data.get("simConfig"), dict) else {}
    try:
        rules.NetParams.from_dict(_sample(np_dict))
        rules.SimConfig.from_dict(cfg)
    except NethubError as err:
        raise type(err)(f"{path}: {err}") from err
    return np_dict, cfg


def _load_json(path: Path) -> Any:
    from nethub.limits import ResourceLimitError, loads_json

    try:
        return loads_json(path.read_text(encoding="utf-8"), str(path))
    except ResourceLimitError as err:
        raise FormatError(str(err)) from None
    except (OSError, ValueError) as err:
        raise FormatError(f"{path}: not a readable JSON spec ({err})") from err


def _read_spec(path: str | os.PathLike, cfg: Any, mod_dir: Any) -> Document:
    rules = spec_rules()
    mods = rules.read_mod_dir(mod_dir) if mod_dir is not None else _found_mods(path)
    dicts = _json_spec(Path(path)) if cfg is None and str(path).lower().endswith(".json") \
        else None
    net_params, sim_config = dicts if dicts is not None else rules.load_spec(path, cfg_path=cfg)
    return Document(network=rules.build(net_params, sim_config, mod_files=mods))


def _found_mods(path: str | os.PathLike) -> dict[str, str] | None:
    """The .mod files found for a spec as NetPyNE users keep them (nethub.mechsource)."""
    from nethub.mechsource import find_mod_sources

    src = find_mod_sources(path)
    return dict(src.files) if src is not None else None


class _SpecFormat(Format):
    """What the two spec formats share: build on read, describe on write."""

    can_read = True
    can_write = True
    holds_network = True
    holds_results = False
    holds_spec = True
    lossless = False
    read_options = {
        "cfg": "a separate simConfig file (.py or .json) for a netParams file",
        "mod_dir": "folder of the model's .mod files, kept with the network (default: "
                   "found as for nethub run: index mod_folder, mod/ or mods/ beside the spec "
                   "or at the model root, x86_64/ sources in the working directory)",
    }
    write_options = {
        "mode": "'auto' (the network's own spec if it has one, else explicit rules), "
                "'spec' or 'rules'",
        "check": "rebuild the written spec and report every difference (default true)",
    }

    def read(self, path: str | os.PathLike, results: bool = True, cfg: Any = None,
             mod_dir: Any = None) -> Document:
        """Load the spec and build the network it describes."""
        return _read_spec(path, cfg, mod_dir)

    def write(self, doc: Document, path: str | os.PathLike, mode: str = "auto",
              check: bool = True) -> list[str]:
        """Describe the network as a spec and write it; returns what the spec lost."""
        from nethub.converters.spec import MODES, from_network

        if mode not in MODES:
            raise OptionError(f"unknown mode {mode!r} for format '{self.name}' "
                              f"(valid: {', '.join(MODES)})")
        if doc.network is None:
            raise ConversionError(f"format '{self.name}' needs a network to write")
        out = from_network(doc.network, mode=mode, check=bool(check))
        _write_text(path, self._text(out, Path(path)))
        logger.info("wrote %s (%s mode, %d notes)", path, out.mode, len(out.lost))
        return list(out.lost)

    def _text(self, out: Any, path: Path) -> str:
        raise NotImplementedError


class SpecJsonFormat(_SpecFormat):
    """netParams/simConfig as JSON (``{"netParams": ..., "simConfig": ...}``)."""

    name = "spec-json"
    description = "NetPyNE high-level spec as JSON: {'netParams': ..., 'simConfig': ...}"
    # a plain .json is NetPyNE's saved output when written; spec JSON is recognised by content
    suffixes = (".spec.json",)

    def sniff(self, path: str | os.PathLike) -> bool:
        """A JSON object with a ``netParams`` dict, or a bare netParams dict; never NetPyNE's
        saved output (``net``/``simData`` at the top)."""
        NETPARAMS_KEYS = spec_rules().NETPARAMS_KEYS  # noqa: N806

        p = Path(path)
        if not p.is_file():
            return False
        with open(p, "rb") as fh:
            head = fh.read(_SNIFF_BYTES)
        if not head.lstrip().startswith(b"{"):
            return False
        if p.stat().st_size > _FULL_PARSE:
            m = _FIRST_KEY.match(head)
            return bool(m) and m.group(1).decode(errors="replace") in ("netParams",
                                                                       "popParams",
                                                                       "cellParams")
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError):
            return False
        if not isinstance(data, dict) or any(k in data for k in _FOREIGN_KEYS):
            return False
        if isinstance(data.get("netParams"), dict):
            return True
        return any(k in data for k in ("popParams", "cellParams")) and \
            all(k in NETPARAMS_KEYS or not k.endswith("Params") for k in data)

    def _text(self, out: Any, path: Path) -> str:
        return spec_json_text(out.net_params, out.sim_config)


class SpecPyFormat(_SpecFormat):
    """netParams/simConfig as a Python script that NetPyNE and nethub both run."""

    name = "spec-py"
    description = "NetPyNE high-level spec as a Python script (runs in NetPyNE and nethub)"
    suffixes = (".py",)

    def sniff(self, path: str | os.PathLike) -> bool:
        """A Python file that mentions netpyne and netParams."""
        p = Path(path)
        if not p.is_file() or p.suffix.lower() != ".py":
            return False
        with open(p, "rb") as fh:
            head = fh.read(_SNIFF_BYTES)
        return b"netParams" in head and (b"netpyne" in head or b"NetParams" in head)

    def _text(self, out: Any, path: Path) -> str:
        return spec_py_text(out.net_params, out.sim_config, out.lost,
                            title=f"NetPyNE model {path.stem!r}")
