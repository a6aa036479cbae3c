"""Real-browser test: JupyterLab on 127.0.0.1 driven by Playwright in Debian's headless Chromium.

Runs the widget tutorial, switches the Explorer's target, toggles a fix and reads the rendered verdict,
then switches JupyterLab to its dark theme and checks that the report text stays readable. Screenshots
are saved under ``artifacts/`` (git-ignored). Needs ``/usr/bin/chromium`` (``apt-get install chromium``,
as ``.ci/run`` does); skipped without it outside CI, an error inside CI.
"""
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
NOTEBOOK = "04_fixes_and_widgets.ipynb"
ARTIFACTS = ROOT / "artifacts"

pytestmark = pytest.mark.browser

if not Path(CHROMIUM).exists():
    if os.environ.get("CI"):
        raise RuntimeError(f"the browser test needs {CHROMIUM} in CI (.ci/run installs Debian's chromium)")
    pytest.skip(f"no {CHROMIUM}: install Debian's chromium to run the browser test", allow_module_level=True)
playwright = pytest.importorskip("playwright.sync_api")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server on a free loopback port, serving a copy of the notebooks (no token)."""
    root = tmp_path_factory.mktemp("lab")
    shutil.copy(ROOT / "notebooks" / NOTEBOOK, root / NOTEBOOK)
    news = root / ".settings" / "@jupyterlab" / "apputils-extension"
    news.mkdir(parents=True)
    (news / "notification.jupyterlab-settings").write_text('{"fetchNews": "false", "checkForUpdates": false}')
    port = _free_port()
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(root / ".jupyter"), "JUPYTERLAB_SETTINGS_DIR":
           str(root / ".settings"), "JUPYTERLAB_WORKSPACES_DIR": str(root / ".workspaces")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", f"--port={port}",
         "--ServerApp.ip=127.0.0.1", "--IdentityProvider.token=", "--ServerApp.password=",
         "--ServerApp.disable_check_xsrf=True", f"--ServerApp.root_dir={root}",
         "--LabApp.expose_app_in_browser=True", "--LabApp.news_url=", "--LabApp.check_for_updates_class="
         "jupyterlab.NeverCheckForUpdate"],
        cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            urllib.request.urlopen(f"{url}/api/status", timeout=2)
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError("JupyterLab did not start:\n"
                                   + proc.stdout.read().decode(errors="replace")) from None
            time.sleep(0.5)
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="module")
def page(lab):
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        pg = browser.new_page(viewport={"width": 1400, "height": 1000})
        pg.set_default_timeout(60_000)
        pg.goto(f"{lab}/lab/tree/{NOTEBOOK}")
        pg.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell.currentWidget "
                             "&& window.jupyterapp.shell.currentWidget.sessionContext "
                             "&& window.jupyterapp.shell.currentWidget.sessionContext.session "
                             "&& window.jupyterapp.shell.currentWidget.sessionContext.session.kernel",
                             timeout=120_000)
        _wait_idle(pg)
        pg.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
        _wait_idle(pg, settle=True)
        yield pg
        browser.close()


def _wait_idle(pg, settle=False):
    """Wait until the notebook's kernel is idle (and, with settle, stays so while outputs render)."""
    expr = ("() => { const w = window.jupyterapp.shell.currentWidget; const k = w.sessionContext.session.kernel;"
            " return k && k.status === 'idle'; }")
    pg.wait_for_function(expr, timeout=180_000)
    if settle:
        pg.wait_for_timeout(1500)
        pg.wait_for_function(expr, timeout=180_000)


def _explorer(pg):
    """The output area holding the Explorer: the one with the target <select>."""
    area = pg.locator(".jp-OutputArea-output").filter(has=pg.locator(".widget-dropdown select")).first
    area.wait_for()
    return area


def _summary(area) -> str:
    return area.locator(".akn-counts").first.inner_text()


def test_explorer_target_switch_and_fix_toggle(page):
    area = _explorer(page)
    area.scroll_into_view_if_needed()
    before = _summary(area)
    assert "nsoc_v1" in before and "nsoc_v2" in before  # side by side first

    counts = area.locator(".akn-counts").first  # a locator: the HTML widget replaces its element on update
    area.locator(".widget-dropdown select").first.select_option(label="nsoc_v1 — Akida NSoC (Pre-production)")
    playwright.expect(counts).not_to_contain_text("nsoc_v2", timeout=60_000)
    _wait_idle(page)
    single = _summary(area)
    assert "nsoc_v1" in single and "nsoc_v2" not in single
    assert "INCOMPATIBLE" in area.locator(".widget-html").last.inner_text()

    box = area.locator(".widget-checkbox").filter(has_text="clamp_bits").first
    box.locator("input[type=checkbox]").check()
    playwright.expect(counts).not_to_have_text(single, timeout=60_000)
    _wait_idle(page)
    fixed = _summary(area)
    assert fixed != single
    n_before = int(single.split("nsoc_v1")[1].split("violation")[0].strip().split()[-1])
    n_after = int(fixed.split("nsoc_v1")[1].split("violation")[0].strip().split()[-1])
    assert n_after < n_before
    assert "clamp_bits" in area.locator(".akn-changes").first.inner_text()  # the changes table names the fix

    ARTIFACTS.mkdir(exist_ok=True)
    area.screenshot(path=str(ARTIFACTS / "explorer.png"))
    area.locator(".widget-html").last.screenshot(path=str(ARTIFACTS / "report.png"))


READABLE = """(el) => {
  const rgb = (s) => (s.match(/[\\d.]+/g) || []).slice(0, 4).map(Number);
  const lum = ([r, g, b]) => { const f = (c) => { c /= 255;
                                                  return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
                               return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
  let bgEl = el, bg = null;
  while (bgEl) { const c = getComputedStyle(bgEl).backgroundColor; const v = rgb(c);
                 if (v.length && (v.length < 4 || v[3] > 0)) { bg = v; break; } bgEl = bgEl.parentElement; }
  const fg = rgb(getComputedStyle(el).color);
  const [a, b] = [lum(fg), lum(bg || [255, 255, 255])].sort((x, y) => y - x);
  return {fg: getComputedStyle(el).color, bg: bg, ratio: (a + 0.05) / (b + 0.05)};
}"""


def test_report_is_readable_in_the_dark_theme(page):
    page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Dark'})")
    page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'")
    page.wait_for_timeout(1000)
    report = page.locator(".akn-wrap").filter(has=page.locator(".akn-table")).first
    report.scroll_into_view_if_needed()
    for selector in (".akn-header", ".akn-table td", ".akn-msg"):
        el = report.locator(selector).first
        if el.count() == 0:
            continue
        result = el.evaluate(READABLE)
        assert result["fg"] != f"rgb({', '.join(str(int(v)) for v in (result['bg'] or [])[:3])})", result
        assert result["ratio"] >= 3, (selector, result)
    ARTIFACTS.mkdir(exist_ok=True)
    report.screenshot(path=str(ARTIFACTS / "report-dark.png"))
