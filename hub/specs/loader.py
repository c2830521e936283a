"""Load NetPyNE specs: JSON files, NetPyNE index files, and NetPyNE-style Python model files.

A Python model file is *run*, as ``python model.py`` would run it (this is an explicit user
action; every run is logged). NetPyNE does not need to be installed: while the file runs, a
stand-in ``netpyne`` package is placed in :data:`sys.modules` whose ``specs.NetParams`` /
``specs.SimConfig`` are nethub's and whose ``sim`` only records what it is asked to do
(``sim.createSimulateAnalyze(...)`` creates, simulates and analyses nothing). Everything is
restored afterwards: ``sys.modules``, ``sys.path`` and ``__main__.cfg``.

The usual NetPyNE layouts work unchanged:

* one file defining ``netParams`` and ``simConfig``/``cfg`` (NetPyNE's tutorials);
* ``netParams.py`` doing ``from cfg import cfg`` or ``try: from __main__ import cfg`` /
  ``except: from cfg import cfg`` -- pass the cfg file as ``cfg_path`` and it is pre-seeded both
  as ``__main__.cfg`` and as an importable ``cfg`` module (and under its own file name);
* a NetPyNE index file (``index.npjson``: ``{"simConfig": "src/cfg.py", "netParams": ...}``);
* JSON: a bare netParams dict, or NetPyNE's saved output ``{"net": {"params": ...},
  "simConfig": ...}``.
"""

from __future__ import annotations

import logging
import os
import runpy
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from ..errors import SpecError
from .cellrules import trusted_pickles
from .netparams import MODEL_DIR, NetParams, SpecDict, _read_json, _resolve
from .schema import NETPARAMS_KEYS
from .simconfig import SimConfig

__all__ = ["load_spec", "load_model", "load_simconfig", "LoadedSpec", "SimCall"]

logger = logging.getLogger(__name__)

_LOCK = threading.RLock()  # the loader swaps process-wide state (sys.modules, sys.path)
_SHIM_NAMES = ("netpyne", "netpyne.specs", "netpyne.sim")


@dataclass(frozen=True)
class SimCall:
    """One call a model file made on the stand-in ``netpyne.sim`` (recorded, not performed)."""

    name: str
    args: tuple
    kwargs: dict


@dataclass
class LoadedSpec:
    """What loading a model produced.

    Attributes
    ----------
    netparams : NetParams
        The network parameters.
    simconfig : SimConfig or None
        The simulation configuration, if the model defines one.
    path : pathlib.Path
        The file that was loaded (netParams file, JSON file or index file).
    cfg_path : pathlib.Path or None
        The separate cfg file, if one was used.
    sim_calls : list of SimCall
        Calls the model file made on ``netpyne.sim`` (e.g. ``sim.createSimulateAnalyze``).
    """

    netparams: NetParams
    simconfig: SimConfig | None
    path: Path
    cfg_path: Path | None = None
    sim_calls: list[SimCall] = field(default_factory=list)


def load_spec(path: str | os.PathLike, cfg_path: str | os.PathLike | None = None,
              trusted: bool | None = None) -> tuple[NetParams, SimConfig | None]:
    """Load a NetPyNE model spec.

    Parameters
    ----------
    path : str or path-like
        A ``.py`` model/netParams file, a ``.json`` netParams or saved-output file, a NetPyNE
        index file (``.npjson``) or a folder holding ``index.npjson``.
    cfg_path : str or path-like, optional
        A separate simConfig file (``.py`` defining ``cfg`` or ``simConfig``, or ``.json``).
    trusted : bool, optional
        Let ``netParams.loadCellParamsRule`` read ``.pkl`` cell rules (unpickling can run
        code from the file). Default: as :func:`nethub.specs.cellrules.trusted_pickles` set it
        (not trusted).

    Returns
    -------
    (NetParams, SimConfig or None)

    Raises
    ------
    nethub.errors.SpecError
        The file is missing, has a syntax error, fails while running, defines no netParams,
        or the spec is invalid; the message names the file.
    """
    loaded = load_model(path, cfg_path, trusted)
    return loaded.netparams, loaded.simconfig


def load_model(path: str | os.PathLike, cfg_path: str | os.PathLike | None = None,
               trusted: bool | None = None) -> LoadedSpec:
    """Like :func:`load_spec`, returning a :class:`LoadedSpec` with the recorded sim calls.

    Parameters
    ----------
    path, cfg_path, trusted
        See :func:`load_spec`.

    Returns
    -------
    LoadedSpec
    """
    if trusted is not None:
        with trusted_pickles(trusted):
            return load_model(path, cfg_path)
    path = _existing(path)
    cfg_file = _existing(cfg_path) if cfg_path is not None else None
    with _LOCK:
        if path.is_dir():
            index = path / "index.npjson"
            if not index.is_file():
                raise SpecError(f"{path}: folder without index.npjson")
            path = index
        if path.suffix.lower() in (".json", ".npjson"):
            return _load_json(path, cfg_file)
        if path.suffix.lower() == ".py":
            return _load_python(path, cfg_file, model_dir=path.parent)
        raise SpecError(f"{path}: unsupported spec file type {path.suffix!r} (use .py or .json)")


def load_simconfig(path: str | os.PathLike, variable: str | None = None,
                   model_dir: Path | None = None) -> SimConfig:
    """Load a simConfig from a ``.py`` cfg file or a JSON file.

    Parameters
    ----------
    path : str or path-like
        A Python file defining a SimConfig (named ``cfg`` or ``simConfig`` unless
        ``variable`` says otherwise), or JSON (a simConfig dict or NetPyNE saved output).
    variable : str, optional
        Name of the SimConfig variable (NetPyNE index files' ``simConfig_variable``).
    model_dir : pathlib.Path, optional
        Folder relative file names are resolved against (default: the file's folder).

    Returns
    -------
    SimConfig
    """
    path = _existing(path)
    if path.suffix.lower() == ".json":
        return _wrap(path, lambda: SimConfig.from_json(path))
    with _LOCK:
        run = _run(path, cfg=None, model_dir=model_dir or path.parent)
    names = (variable,) if variable else ("cfg", "simConfig")
    cfg = _pick(run.globals, SimConfig, names) or run.simconfig
    if cfg is None:
        raise SpecError(f"{path} defines no SimConfig (looked for {', '.join(names)})")
    _wrap(path, cfg.validate)
    return cfg


# --------------------------------------------------------------------------------------------
# JSON and index files
# --------------------------------------------------------------------------------------------


def _load_json(path: Path, cfg_file: Path | None) -> LoadedSpec:
    data = _read_json(path)
    if not isinstance(data, dict):
        raise SpecError(f"{path}: expected a JSON object, got {type(data).__name__}")
    if isinstance(data.get("netParams"), str) or isinstance(data.get("simConfig"), str):
        return _load_index(path, data, cfg_file)
    if not _has_netparams(data):
        raise SpecError(f"{path} defines no netParams (expected a netParams dict or NetPyNE "
                        "saved output with net.params)")
    netparams = _wrap(path, lambda: NetParams.from_dict(data))
    cfg = load_simconfig(cfg_file) if cfg_file else None
    if cfg is None and isinstance(data.get("simConfig"), dict):
        cfg = _wrap(path, lambda: SimConfig.from_dict(data["simConfig"]))
    return LoadedSpec(netparams, cfg, path, cfg_file)


def _has_netparams(data: dict) -> bool:
    net = data.get("net")
    if isinstance(net, dict) and isinstance(net.get("params"), dict):
        return True
    return isinstance(data.get("netParams"), dict) or any(k in NETPARAMS_KEYS for k in data)


def _load_index(index: Path, data: dict, cfg_file: Path | None) -> LoadedSpec:
    root = index.parent
    if not isinstance(data.get("netParams"), str):
        raise SpecError(f"{index}: index file without a 'netParams' entry")
    np_file = _existing(root / data["netParams"])
    if cfg_file is None and isinstance(data.get("simConfig"), str):
        cfg_file = _existing(root / data["simConfig"])
    logger.info("loading NetPyNE index %s", index)
    np_var = data.get("netParams_variable", "netParams")
    cfg_var = data.get("simConfig_variable")
    if cfg_file == np_file and np_file.suffix.lower() == ".py":  # one file defines both
        loaded = _load_python(np_file, None, model_dir=root, netparams_var=np_var,
                              cfg_var=cfg_var or "simConfig")
    elif np_file.suffix.lower() == ".py":
        cfg = load_simconfig(cfg_file, cfg_var, root) if cfg_file else None
        loaded = _load_python(np_file, None, model_dir=root, cfg=cfg, netparams_var=np_var,
                              cfg_module=cfg_file.stem if cfg_file else None)
    else:
        loaded = _load_json(np_file, None)
        if cfg_file:
            loaded.simconfig = load_simconfig(cfg_file, cfg_var, root)
    loaded.path, loaded.cfg_path = index, cfg_file
    return loaded


# --------------------------------------------------------------------------------------------
# Python model files
# --------------------------------------------------------------------------------------------


def _load_python(path: Path, cfg_file: Path | None, model_dir: Path, cfg: SimConfig | None = None,
                 netparams_var: str = "netParams", cfg_module: str | None = None,
                 cfg_var: str | None = None) -> LoadedSpec:
    if cfg_file is not None:
        cfg = load_simconfig(cfg_file, model_dir=model_dir)
        cfg_module = cfg_file.stem
    run = _run(path, cfg=cfg, model_dir=model_dir, cfg_module=cfg_module)
    _one_model(path, run.calls)
    netparams = _pick(run.globals, NetParams, (netparams_var,)) or run.netparams
    if netparams is None:
        raise SpecError(f"{path} defines no netParams (no NetParams object named "
                        f"{netparams_var!r}, and none was passed to netpyne.sim)")
    names = (cfg_var,) if cfg_var else ("cfg", "simConfig")
    own_cfg = _pick(run.globals, SimConfig, names) or run.simconfig
    if cfg is not None and own_cfg is not None and own_cfg is not cfg:
        logger.info("%s defines its own simConfig; using the separately given one", path)
    simconfig = cfg if cfg is not None else own_cfg
    _wrap(path, netparams.validate)
    if simconfig is not None:
        _wrap(path, simconfig.validate)
    return LoadedSpec(netparams, simconfig, path, cfg_file, run.calls)


#: ``netpyne.sim`` calls that create (and run) a model: NetPyNE's wrappers and
#: ``sim.initialize``, which every hand-written create sequence starts with
_CREATES = frozenset(f"sim.{n}" for n in (
    "create", "createSimulate", "createSimulateAnalyze", "createSimulateAnalyzeInterval",
    "createSimulateAnalyzeDistributed", "createExportNeuroML2", "initialize", "runFromIndexFile",
    "loadSimulate", "loadSimulateAnalyze", "importNeuroML2SimulateAnalyze"))


def _one_model(path: Path, calls: list[SimCall]) -> None:
    """Refuse a file that creates two models (e.g. ``sim.createSimulateAnalyze`` twice): nethub
    runs one model per file, and running only one of them would be silently wrong."""
    creates = [c.name for c in calls if c.name in _CREATES]
    if len(creates) > 1:
        raise SpecError(
            f"{path}: the file creates {len(creates)} models ({', '.join(creates)}); nethub "
            "loads one model per file, and simulating only the first would be silently wrong: "
            "put each model in a file of its own and run each")


def _pick(namespace: dict, cls: type, names: tuple) -> Any:
    for name in names:
        if isinstance(namespace.get(name), cls):
            return namespace[name]
    found = {id(v): v for k, v in namespace.items() if isinstance(v, cls) and k[:1] != "_"}
    return next(iter(found.values())) if len(found) == 1 else None


@dataclass
class _Run:
    """State of one model-file run: its globals and what it asked ``netpyne.sim`` to do."""

    calls: list[SimCall] = field(default_factory=list)
    netparams: NetParams | None = None
    simconfig: SimConfig | None = None
    globals: dict = field(default_factory=dict)

    def record(self, name: str, args: tuple, kwargs: dict) -> None:
        self.calls.append(SimCall(name, args, dict(kwargs)))
        self.harvest(*args, *kwargs.values())
        logger.info("model file called %s(...): recorded, not performed", name)

    def harvest(self, *values: Any) -> None:
        for value in values:
            if isinstance(value, NetParams):
                self.netparams = value
            elif isinstance(value, SimConfig):
                self.simconfig = value


def _run(path: Path, cfg: SimConfig | None, model_dir: Path,
         cfg_module: str | None = None) -> _Run:
    run = _Run()
    seeds = {"cfg", cfg_module} - {None} if cfg is not None else set()
    with _sandbox(path.parent, model_dir, run, cfg, seeds):
        logger.info("running NetPyNE model file %s", path)
        try:
            run.globals = runpy.run_path(str(path), run_name=path.stem)
        except SpecError as err:
            raise SpecError(f"{path}: {err}") from err
        except SyntaxError as err:
            raise SpecError(f"{path}: syntax error at line {err.lineno}: {err.msg}") from err
        except ImportError as err:
            raise SpecError(_import_message(path, err)) from err
        except SystemExit as err:
            if run.netparams is None:
                raise SpecError(f"{path}: the model file exited (exit code {err.code!r}) "
                                "before defining netParams") from err
        except Exception as err:
            if run.netparams is None:
                raise SpecError(f"{path}: running the model file failed: "
                                f"{type(err).__name__}: {err}") from err
            # e.g. sim.createSimulateAnalyze(...) followed by plotting sim.allSimData: the spec
            # was complete when it was handed to sim; what follows needs simulation results.
            logger.warning("%s failed after passing netParams to %s (%s: %s); using the spec "
                           "as passed", path, run.calls[-1].name, type(err).__name__, err)
    return run


def _import_message(path: Path, err: ImportError) -> str:
    name = err.name or str(err)
    if name == "__main__":
        return (f"{path}: does `from __main__ import ...` ({err}); give the cfg file with "
                "cfg_path")
    if name.startswith("netpyne") or "netpyne" in str(err):
        return (f"{path}: imports {name!r}; nethub's stand-in for NetPyNE provides only "
                f"netpyne.specs and netpyne.sim ({err})")
    return (f"{path}: imports {name!r}, which is not available ({err}); give the cfg file "
            "with cfg_path if this is the model's cfg module")


@contextmanager
def _sandbox(folder: Path, model_dir: Path, run: _Run, cfg: SimConfig | None,
             seeds: set[str]) -> Iterator[None]:
    """Install the netpyne stand-in, seeded cfg modules and sys.path; restore on exit."""
    order = list(dict.fromkeys([folder.resolve(), model_dir.resolve()]))  # file's folder first
    folders = set(order)
    local = {p.stem for f in folders for p in f.glob("*.py")}
    local |= {p.parent.name for f in folders for p in f.glob("*/__init__.py")}
    replaced = set(_SHIM_NAMES) | seeds | local
    saved = {n: sys.modules.pop(n) for n in list(sys.modules) if n in replaced
             or n.startswith("netpyne.")}
    before, path_before = set(sys.modules), list(sys.path)
    main = sys.modules["__main__"]
    main_cfg = main.__dict__.pop("cfg", _MISSING)
    token = MODEL_DIR.set(model_dir)
    no_bytecode, sys.dont_write_bytecode = sys.dont_write_bytecode, True
    try:
        sys.path[:0] = [str(f) for f in order]
        sys.modules.update(_shim_modules(run))
        for name in seeds:
            sys.modules[name] = _cfg_module(name, cfg)
        if cfg is not None:
            main.cfg = cfg
        yield
    finally:
        MODEL_DIR.reset(token)
        sys.dont_write_bytecode = no_bytecode
        sys.path[:] = path_before
        for name in set(sys.modules) - before | replaced:
            if name in replaced or _inside(sys.modules.get(name), folders):
                sys.modules.pop(name, None)
        sys.modules.update(saved)
        main.__dict__.pop("cfg", None)
        if main_cfg is not _MISSING:
            main.cfg = main_cfg


_MISSING = object()


def _inside(module: Any, folders: set[Path]) -> bool:
    file = getattr(module, "__file__", None)
    if not file:
        return False
    resolved = Path(file).resolve()
    return any(f == resolved.parent or f in resolved.parents for f in folders)


def _cfg_module(name: str, cfg: SimConfig | None) -> ModuleType:
    module = ModuleType(name, "cfg pre-seeded by nethub's spec loader")
    module.cfg = module.simConfig = cfg
    return module


# --------------------------------------------------------------------------------------------
# the netpyne stand-in
# --------------------------------------------------------------------------------------------


def _shim_modules(run: _Run) -> dict[str, ModuleType]:
    package = ModuleType("netpyne", "nethub stand-in for NetPyNE (specs only; sim records)")
    package.__path__ = []
    package.__version__ = "1.1.0"
    package.__gui__ = False
    specs = ModuleType("netpyne.specs", "nethub stand-in for netpyne.specs")
    specs.NetParams, specs.SimConfig = NetParams, SimConfig
    specs.Dict = specs.ODict = SpecDict
    sim = _SimShim("netpyne.sim", run)
    package.specs, package.sim = specs, sim
    return {"netpyne": package, "netpyne.specs": specs, "netpyne.sim": sim}


class _CallProxy:
    """Any attribute chain on ``sim``; calling it records the call and returns a new proxy."""

    __slots__ = ("_run", "_name")

    def __init__(self, run: _Run, name: str):
        self._run, self._name = run, name

    def __getattr__(self, attr: str) -> _CallProxy:
        if attr.startswith("__"):
            raise AttributeError(attr)
        return _CallProxy(self._run, f"{self._name}.{attr}")

    def __call__(self, *args: Any, **kwargs: Any) -> _CallProxy:
        self._run.record(self._name, args, kwargs)
        return _CallProxy(self._run, f"{self._name}()")

    def __getitem__(self, key: Any) -> _CallProxy:
        # results read after a run (sim.allSimData['spkt']): empty stand-ins, so that the file
        # goes on to what follows (e.g. a second model, which is then refused)
        return _CallProxy(self._run, f"{self._name}[{key!r}]")

    def __iter__(self) -> Iterator[Any]:
        return iter(())

    def __len__(self) -> int:
        return 0

    def __repr__(self) -> str:
        return f"<recorded {self._name}>"


class _NetProxy(_CallProxy):
    """``sim.net``: ``sim.net.params`` is the netParams passed to ``sim`` so far."""

    __slots__ = ()

    def __getattr__(self, attr: str) -> Any:
        if attr == "params" and self._run.netparams is not None:
            return self._run.netparams
        return super().__getattr__(attr)


class _SimShim(ModuleType):
    """Stand-in for ``netpyne.sim``: records calls, loads models it is asked to load."""

    def __init__(self, name: str, run: _Run):
        super().__init__(name, "nethub stand-in for netpyne.sim: calls are recorded only")
        self._run = run

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):
            raise AttributeError(attr)
        return _CallProxy(self._run, f"sim.{attr}")

    @property
    def cfg(self) -> Any:
        """The simConfig passed to ``sim`` so far."""
        return self._run.simconfig or _CallProxy(self._run, "sim.cfg")

    @property
    def net(self) -> Any:
        """Proxy whose ``params`` is the netParams passed to ``sim`` so far."""
        return _NetProxy(self._run, "sim.net")

    def loadFromIndexFile(self, index: str) -> tuple:  # noqa: N802
        """Load a NetPyNE index file with nethub's loader; returns ``(cfg, netParams)``."""
        return self.loadModel(index)

    def loadModel(self, path: str, loadMechs: bool = True,  # noqa: N802, N803
                  forceCompileMechs: bool = False, returnLoadMechStatus: bool = False) -> tuple:  # noqa: N803
        """Load a NetPyNE model (index file or folder); mechanisms are not compiled."""
        self._run.record("sim.loadModel", (path,), {})
        loaded = load_model(_resolve(path, "sim.loadModel"))
        self._run.harvest(loaded.netparams, loaded.simconfig)
        pair = (loaded.simconfig, loaded.netparams)
        return pair + ([], []) if returnLoadMechStatus else pair

    def readCmdLineArgs(self, simConfigDefault: str = "cfg.py",  # noqa: N802, N803
                        netParamsDefault: str = "netParams.py") -> tuple:  # noqa: N803
        """Load the default cfg and netParams files (command-line overrides are ignored)."""
        self._run.record("sim.readCmdLineArgs", (), {"simConfigDefault": simConfigDefault,
                                                     "netParamsDefault": netParamsDefault})
        loaded = load_model(_resolve(netParamsDefault, "sim.readCmdLineArgs"),
                            _resolve(simConfigDefault, "sim.readCmdLineArgs"))
        self._run.harvest(loaded.netparams, loaded.simconfig)
        return loaded.simconfig, loaded.netparams


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def _existing(path: str | os.PathLike) -> Path:
    p = Path(path).expanduser()
    if not p.exists():
        raise SpecError(f"spec file not found: {os.fspath(path)}")
    return p.resolve()


def _wrap(path: Path, func: Any) -> Any:
    try:
        return func()
    except SpecError as err:
        if str(path) in str(err):
            raise
        raise SpecError(f"{path}: {err}") from err
