"""``nethub report``: a self-contained HTML page, rendered in a real headless browser.

The browser is Debian's ``chromium`` (scripts/setup installs it with apt-get when it runs as
root). Its absence fails the test with a message saying how to install it.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import pytest

from nethub.analysis.report import render_report
from nethub.cli import main

from .conftest import make_results, make_traces
from .test_analysis_plots import _full_network

# the page is loaded from disk; a script added for the test counts the images that decoded
_PROBE = ("<script>window.addEventListener('load',()=>{const i=[...document.images];"
          "document.body.setAttribute('data-decoded',i.filter(x=>x.complete&&x.naturalWidth>0)"
          ".length+'/'+i.length);});</script>")


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        exe = shutil.which(name)
        if exe:
            return exe
    pytest.fail("no headless browser: install Debian's chromium (apt-get install chromium; "
                "scripts/setup does it when run as root)")


@pytest.fixture
def run_store(store_of):
    rng = np.random.default_rng(5)
    k = rng.poisson(15, 12)
    t = rng.uniform(0, 1000.0, k.sum())
    g = np.repeat(np.arange(12), k)
    time = np.arange(0, 1000.0, 1.0)
    res = make_results(t, g, 1000.0, make_traces([("V_soma", 0)], time, np.sin(time)[None]),
                       recordStep=1.0)
    res.lfp = np.c_[np.sin(time / 10), np.cos(time / 10), np.sin(time / 5)] * 0.01
    res.lfp_time = time
    res.electrodes = np.c_[np.zeros(3), [0.0, 100.0, 200.0], np.zeros(3)]
    res.versions = {"nethub": "0.1.0", "neuron": "9.0"}
    res.seeds = {"conn": 1, "stim": 2}
    return store_of(_full_network(), res)


def test_report_is_self_contained(run_store, tmp_path):
    out = tmp_path / "report.html"
    assert main(["report", str(run_store), "-o", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    for title in ("Network", "Connectivity", "Raster", "Rates", "Rate PSD", "Traces", "LFP",
                  "Provenance"):
        assert f"<h2>{title}</h2>" in text
    assert "not available" not in text
    assert text.count('src="data:image/png;base64,') == 9
    # nothing to fetch: no external src/href, no @import, no url(...)
    assert not re.search(r'(src|href)="(?!data:)', text)
    assert "url(" not in text and "@import" not in text
    assert "&quot;stim&quot;: 2" in text or '"stim": 2' in text


def test_report_renders_in_headless_chromium(run_store, tmp_path):
    html_text = render_report(run_store).replace("</body>", _PROBE + "</body>")
    page = tmp_path / "probe.html"
    page.write_text(html_text, encoding="utf-8")
    exe = _chromium()
    common = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
              f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000"]
    dom = subprocess.run(common + ["--dump-dom", page.as_uri()], capture_output=True,
                         text=True, timeout=120, check=False)
    assert dom.returncode == 0, dom.stderr[-2000:]
    m = re.search(r'data-decoded="(\d+)/(\d+)"', dom.stdout)
    assert m, dom.stdout[:500]
    assert m.group(1) == m.group(2) == "9"  # every inlined figure decoded, offline
    assert "Provenance" in dom.stdout
    shot = tmp_path / "shot.png"
    sp = subprocess.run(common + [f"--screenshot={shot}", "--window-size=1000,2000",
                                  page.as_uri()], capture_output=True, text=True, timeout=120,
                        check=False)
    assert sp.returncode == 0, sp.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000


def test_report_of_a_store_without_results_is_a_clear_error(store_of, tmp_path):
    path = store_of(_full_network())
    assert main(["report", str(path), "-o", str(tmp_path / "r.html")]) == 1
    assert not (tmp_path / "r.html").exists()
