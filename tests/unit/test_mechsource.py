"""Mechanism sources without NEURON: VERBATIM found (comments stripped), INCLUDEd files carried,
trust required and remembered, mod folders found as NetPyNE users keep them, compiler errors
cut to the first one."""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path

import pytest

from nethub.errors import SpecError, UntrustedCodeError, UntrustedPickleError
from nethub.mechsource import (
    bundled_sources,
    compiled_in,
    find_mod_sources,
    is_trusted,
    mod_file_findings,
    native_code,
    read_mod_dir,
    require_trust,
    trust_file,
    with_includes,
)
from nethub.nmodl import declared_mechanisms, includes, strip_nmodl
from nethub.nmodl.compile import first_error, write_sources

ROOT = Path(__file__).parents[2]
EI = ROOT / "fixtures" / "netpyne_like" / "ei_circuit"
HYBRID = ROOT / "fixtures" / "specs" / "netpyne_tutorials" / "HybridTut"

PLAIN = """NEURON { SUFFIX nhplain NONSPECIFIC_CURRENT i RANGE g }
PARAMETER { g = 0.001 (S/cm2) }
ASSIGNED { v (mV) i (mA/cm2) }
BREAKPOINT { i = g*v }
"""
NATIVE = """NEURON { POINT_PROCESS NhNative }
INITIAL {
VERBATIM
  system("echo hi");
ENDVERBATIM
}
"""
COMMENTED = """COMMENT
VERBATIM
  this is a comment
ENDVERBATIM
ENDCOMMENT
: VERBATIM in a line comment
NEURON { SUFFIX nhcommented }
"""


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A fresh cache folder (the trust list lives there)."""
    monkeypatch.setenv("NETHUB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr("nethub.mechsource._SESSION_TRUSTED", set())
    return tmp_path / "cache"


def test_verbatim_found_outside_comments_only():
    code, blocks = strip_nmodl(NATIVE)
    assert blocks and "system" in blocks[0] and "system" not in code
    assert strip_nmodl(COMMENTED)[1] == []
    assert declared_mechanisms(COMMENTED) == {"nhcommented"}
    assert native_code({"c.mod": COMMENTED, "p.mod": PLAIN}) == []
    found = native_code({"n.mod": NATIVE})
    assert [(n.file, n.mechanisms, n.reason) for n in found] == [
        ("n.mod", ("NhNative",), "contains VERBATIM (C code)")]


def test_verbatim_in_an_included_file_counts():
    mod = 'NEURON { SUFFIX nhinc }\nINCLUDE "evil.inc"\n'
    files = {"a.mod": mod, "evil.inc": "VERBATIM\nabort();\nENDVERBATIM\n"}
    (item,) = native_code(files)
    assert item.file == "a.mod" and "INCLUDEs 'evil.inc'" in item.reason


def test_bundled_and_real_models():
    assert native_code(bundled_sources()) == []  # vecevent.mod has VERBATIM but is ours
    hybrid = read_mod_dir(HYBRID / "mod")
    assert [(n.file, n.mechanisms) for n in native_code(hybrid)] == [
        ("izhi2007b.mod", ("Izhi2007b",))]
    assert native_code(read_mod_dir(EI / "mod")) == []


def test_includes_carried_from_a_netpyne_model():
    mods = read_mod_dir(EI / "mod")
    assert sorted(mods) == ["dualexpsyn.mod", "kdelayed.mod", "nafast.mod", "rates.inc"]
    assert includes(mods["nafast.mod"]) == includes(mods["kdelayed.mod"]) == ["rates.inc"]
    assert includes(mods["dualexpsyn.mod"]) == []
    chosen = with_includes({"nafast.mod": mods["nafast.mod"]}, mods)
    assert sorted(chosen) == ["nafast.mod", "rates.inc"]
    assert mod_file_findings(mods) == []
    missing = mod_file_findings({"nafast.mod": mods["nafast.mod"]})
    assert missing and "rates.inc" in missing[0][1]


def test_c_headers_beside_the_mod_carried(tmp_path):
    (tmp_path / "m.mod").write_text('NEURON { SUFFIX m }\nVERBATIM\n#include "misc.h"\n'
                                    '#include "nrnran123.h"\nENDVERBATIM\n')
    (tmp_path / "misc.h").write_text("/* helper */\n")
    assert sorted(read_mod_dir(tmp_path)) == ["m.mod", "misc.h"]  # NEURON's header is not ours


def test_include_outside_the_folder_is_not_read(tmp_path, caplog):
    (tmp_path / "secret.inc").write_text("x")
    mods = tmp_path / "mod"
    mods.mkdir()
    (mods / "m.mod").write_text('NEURON { SUFFIX m }\nINCLUDE "../secret.inc"\n')
    with caplog.at_level(logging.WARNING):
        assert sorted(read_mod_dir(mods)) == ["m.mod"]
    assert "not a file inside" in caplog.text


def test_write_sources_stays_inside(tmp_path):
    write_sources(tmp_path, {"a.mod": "x", "inc/b.inc": "y", "../../evil.inc": "z",
                             "/etc/x.mod": "w"})
    assert (tmp_path / "a.mod").read_text() == "x" and (tmp_path / "inc/b.inc").exists()
    assert (tmp_path / "evil.inc").exists() and (tmp_path / "x.mod").exists()
    assert not (tmp_path.parent.parent / "evil.inc").exists()


def test_trust_required_then_remembered(cache):
    files = {"n.mod": NATIVE, "p.mod": PLAIN}
    with pytest.raises(UntrustedCodeError) as err:
        require_trust(files)
    msg = str(err.value)
    assert "NhNative (n.mod: contains VERBATIM" in msg and "--trust" in msg
    assert "nhplain" not in msg and isinstance(err.value, PermissionError)
    assert not is_trusted(files)
    require_trust(files, trusted=True)
    assert trust_file().is_file() and is_trusted(files)
    require_trust(files)  # remembered
    with pytest.raises(UntrustedCodeError):  # another text is another program
        require_trust({"n.mod": NATIVE.replace("hi", "ho")})


def test_pickle_refusal_is_an_untrusted_code_error():
    assert issubclass(UntrustedPickleError, UntrustedCodeError)


def _layout(root: Path) -> Path:
    """NetPyNE's layout: model/src/netParams.py, model/mod/*.mod."""
    (root / "src").mkdir(parents=True)
    (root / "src" / "netParams.py").write_text("# spec\n")
    (root / "mod").mkdir()
    (root / "mod" / "p.mod").write_text(PLAIN)
    return root / "src" / "netParams.py"


def test_mod_folder_at_the_model_root(tmp_path, cache, caplog):
    spec = _layout(tmp_path / "model")
    with caplog.at_level(logging.INFO, logger="nethub.mechsource"):
        src = find_mod_sources(spec)
    assert src.files == {"p.mod": PLAIN} and src.own and "model root" in src.how
    assert str(tmp_path / "model" / "mod") in caplog.text


def test_mod_folder_beside_the_spec_wins(tmp_path, cache):
    spec = _layout(tmp_path / "model")
    (spec.parent / "mods").mkdir()
    (spec.parent / "mods" / "q.mod").write_text(PLAIN.replace("nhplain", "nhq"))
    assert list(find_mod_sources(spec).files) == ["q.mod"]
    other = tmp_path / "other"
    other.mkdir()
    (other / "r.mod").write_text(PLAIN.replace("nhplain", "nhr"))
    assert list(find_mod_sources(spec, [other]).files) == ["r.mod"]  # --mod wins


def test_index_mod_folder_and_json_specs_not_own(tmp_path, cache):
    root = tmp_path / "model"
    _layout(root)
    (root / "mechs").mkdir()
    (root / "mechs" / "n.mod").write_text(NATIVE)
    (root / "index.npjson").write_text(json.dumps(
        {"mod_folder": "mechs", "netParams": "src/netParams.py", "simConfig": "src/cfg.py"}))
    src = find_mod_sources(root / "index.npjson")
    assert list(src.files) == ["n.mod"] and src.own and "index.npjson" in src.how
    assert is_trusted(src.files)  # the user's own code, remembered
    (root / "data.json").write_text("{}")
    (root / "mod" / "n2.mod").write_text(NATIVE.replace("NhNative", "NhNative2"))
    assert not find_mod_sources(root / "data.json").own  # a JSON spec is data


def test_nothing_found(tmp_path, cache):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "m.py").write_text("")
    assert find_mod_sources(tmp_path / "a" / "m.py", cwd=tmp_path) is None


def test_compiled_in_the_working_directory(tmp_path, caplog):
    shutil.copy(EI / "mod" / "nafast.mod", tmp_path)
    shutil.copy(EI / "mod" / "rates.inc", tmp_path)
    arch = tmp_path / "x86_64"
    (arch / ".libs").mkdir(parents=True)
    (arch / ".libs" / "libnrnmech.so").write_bytes(b"")
    (arch / "makemod2c_inc").write_text(  # as nrnivmodl 9 writes it
        'nafast.cpp: ../nafast.mod $(NOCMODL)\n\t(cd "..";  $(NOCMODL) "nafast.mod")\n')
    src = compiled_in(tmp_path)
    assert sorted(src.files) == ["nafast.mod", "rates.inc"] and src.own
    lib = arch / ".libs" / "libnrnmech.so"
    os.utime(lib, (lib.stat().st_mtime - 100,) * 2)  # edited after nrnivmodl ran
    with caplog.at_level(logging.WARNING):
        compiled_in(tmp_path)
    assert "compiled before nafast.mod last changed" in caplog.text
    (tmp_path / "nafast.mod").unlink()
    with caplog.at_level(logging.WARNING):
        assert compiled_in(tmp_path) is None
    assert "sources were not found" in caplog.text


def test_two_mod_folders_disagreeing(tmp_path, cache):
    for name, text in (("a", PLAIN), ("b", PLAIN + "\n")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "p.mod").write_text(text)
    with pytest.raises(SpecError, match="two different mechanism files named 'p.mod'"):
        find_mod_sources(None, [tmp_path / "a", tmp_path / "b"])


NOCMODL_MISSING = """Translating nafast.mod into /tmp/x/x86_64/nafast.cpp
Couldn't open: rates.inc
Error: Couldn't open rates.inc
make: *** [makemod2c_inc:3: nafast.cpp] Error 1
"""
NOCMODL_SYNTAX = """Translating bad.mod into /tmp/b/x86_64/bad.cpp
syntax error:
 Illegal expression:
 Illegal statement:
 Error: Illegal block at line 2 in file bad.mod
BREAKPOINT { x = = 1 }
                  ^
make: *** [makemod2c_inc:3: bad.cpp] Error 1
"""
CXX = ("/tmp/p/x86_64/evil.cpp:53:27: error: cannot convert 'a*' to 'const char*'\n"
       "make: *** [makemod2c_inc:7: evil.o] Error 1\n")


def test_first_compiler_error():
    msg = first_error(NOCMODL_MISSING, {"nafast.mod": 'INCLUDE "rates.inc"', "b.mod": ""})
    assert msg.startswith("nafast.mod INCLUDEs 'rates.inc', which is missing")
    msg = first_error(NOCMODL_SYNTAX, {})
    assert msg.startswith("bad.mod line 2:") and "x = = 1" in msg
    msg = first_error(CXX, {})
    assert msg.startswith("evil.mod (translated to evil.cpp, line 53): cannot convert")
    assert "porting" in msg


def test_one_trust_flag_with_its_alias():
    from nethub.cli import build_parser

    for cmd in ("run", "info", "convert"):
        args = [cmd, "a", "b"][: 3 if cmd == "convert" else 2]
        parser = build_parser(args)
        assert parser.parse_args(args + ["--trust"]).trust is True
        assert parser.parse_args(args + ["--trust-pickle"]).trust is True
        assert parser.parse_args(args).trust is False
    run = build_parser(["run", "x"]).parse_args(["run", "x", "--mod", "a", "--mod", "b"])
    assert run.mod == ["a", "b"]
    build = build_parser(["build", "x"]).parse_args(["build", "x", "-o", "y", "--mod", "a"])
    assert build.mod == ["a"]


def test_spec_format_read_finds_the_mod_folder(tmp_path, cache):
    """``nethub convert model/src/netParams.py out.h5`` (the spec format's reader) embeds the
    model's mod/ like ``nethub build`` does."""
    import nethub

    spec = _layout(tmp_path / "model")
    spec.write_text(
        "from netpyne import specs\nnetParams = specs.NetParams()\n"
        "netParams.cellParams['C'] = {'secs': {'soma': {'geom': {'L': 10, 'diam': 10},\n"
        "    'mechs': {'nhplain': {}}}}}\n"
        "netParams.popParams['P'] = {'cellType': 'C', 'numCells': 1}\n")
    assert nethub.load(spec).mod_files == {"p.mod": PLAIN}


def test_stale_library_in_the_working_directory_is_told(tmp_path):
    """NEURON loads ./x86_64 by itself; when it was compiled from other sources than the
    model's, the mechanisms it shadows are named."""
    from nethub.mechsource import shadowed_by_cwd

    (tmp_path / "p.mod").write_text(PLAIN)
    arch = tmp_path / "x86_64"
    (arch / ".libs").mkdir(parents=True)
    (arch / ".libs" / "libnrnmech.so").write_bytes(b"")
    (arch / "makemod2c_inc").write_text("p.cpp: ../p.mod $(NOCMODL)\n")
    assert shadowed_by_cwd({"p.mod": PLAIN}, tmp_path) == []
    changed = PLAIN.replace("0.001", "0.002")
    assert shadowed_by_cwd({"p.mod": changed, "n.mod": NATIVE}, tmp_path) == ["nhplain (p.mod)"]
    assert shadowed_by_cwd({"p.mod": changed}, tmp_path / "nowhere") == []
