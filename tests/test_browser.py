"""Real-browser test: JupyterLab on 127.0.0.1 driven by Playwright in Debian's headless Chromium.

Opens every tutorial in a 1400×900 window with the file browser open and runs all its cells once.
Then, in JupyterLab Light and in JupyterLab Dark (switching the theme without re-running), it fails on
any error output, on text of an akida_nb output (report, table, widget, diagram) with a contrast below
4.5:1 against what it sits on, and on an akida_nb output wider than its output area. It drives the
Explorer (target switch, fix tick, Reset), the Playground and the ConstraintBrowser. Screenshots of the
whole JupyterLab window are saved under ``artifacts/`` (git-ignored); the README's come from here.
Needs ``/usr/bin/chromium`` (``apt-get install chromium``, as ``.ci/run`` does); skipped without it
outside CI, an error inside CI.
"""
import json
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
NOTEBOOKS = sorted(p.name for p in (ROOT / "notebooks").glob("0*.ipynb"))
WIDGETS = "04_fixes_and_widgets.ipynb"
ARTIFACTS = ROOT / "artifacts"
THEMES = ("JupyterLab Light", "JupyterLab Dark")

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


def _settings(root: Path) -> None:
    """No news, no update checks, and every cell in the DOM (no windowed rendering) so all outputs are checked."""
    base = root / ".settings" / "@jupyterlab"
    for ext, name, value in (("apputils-extension", "notification", {"fetchNews": "false", "checkForUpdates": False}),
                             ("notebook-extension", "tracker", {"windowingMode": "none"})):
        (base / ext).mkdir(parents=True, exist_ok=True)
        (base / ext / f"{name}.jupyterlab-settings").write_text(json.dumps(value))


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server on a free loopback port, serving a copy of the notebooks (no token)."""
    root = tmp_path_factory.mktemp("lab")
    for name in NOTEBOOKS:
        shutil.copy(ROOT / "notebooks" / name, root / name)
    _settings(root)
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
def browser():
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        yield b
        b.close()


_RAN: dict = {}


def _open_and_run(browser, lab, name):
    """A page with notebook ``name`` opened and all its cells run once (cached per notebook)."""
    if name in _RAN:
        return _RAN[name]
    pg = browser.new_page(viewport={"width": 1400, "height": 900})
    pg.set_default_timeout(60_000)
    pg.goto(f"{lab}/lab/workspaces/{name[:2]}/tree/{name}?reset")  # its own workspace: only this notebook open
    pg.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell.currentWidget "
                         "&& window.jupyterapp.shell.currentWidget.sessionContext "
                         "&& window.jupyterapp.shell.currentWidget.sessionContext.session "
                         "&& window.jupyterapp.shell.currentWidget.sessionContext.session.kernel",
                         timeout=120_000)
    _wait_idle(pg)
    # stored outputs are cleared first (with their execution counts), so "every code cell numbered" means run
    pg.evaluate("() => window.jupyterapp.commands.execute('notebook:clear-all-cell-outputs')")
    pg.wait_for_function("() => ![...document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')]"
                         ".some(e => /\\d/.test(e.textContent))")
    pg.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    pg.wait_for_function("() => [...document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')]"
                         ".every(e => /\\[\\d+\\]/.test(e.textContent))", timeout=300_000)
    _wait_idle(pg, settle=True)
    _RAN[name] = pg
    return pg


def _wait_idle(pg, settle=False):
    """Wait until the notebook's kernel is idle (and, with settle, stays so while outputs render)."""
    expr = ("() => { const w = [...window.jupyterapp.shell.widgets('main')].find(w => w.sessionContext);"
            " const s = w && w.sessionContext.session; const k = s && s.kernel;"
            " return !!k && k.status === 'idle'; }")
    pg.wait_for_function(expr, timeout=300_000)
    if settle:
        pg.wait_for_timeout(1500)
        pg.wait_for_function(expr, timeout=300_000)


def _theme(pg, theme):
    pg.evaluate(f"() => window.jupyterapp.commands.execute('apputils:change-theme', {{theme: '{theme}'}})")
    light = "true" if theme == THEMES[0] else "false"
    pg.wait_for_function(f"() => document.body.dataset.jpThemeLight === '{light}'")
    pg.wait_for_timeout(800)


# Contrast of every text element of the akida_nb outputs (WCAG formula), against the first opaque background
# up the tree with translucent layers composited; and each output's width against its output area.
AUDIT = """() => {
  const parse = (s) => { const v = (s.match(/[\\d.e-]+/g) || []).map(Number);
                         if (v.length < 3) return null;
                         const k = s.startsWith('color(srgb') ? 255 : 1;  // what color-mix() computes to
                         return [v[0] * k, v[1] * k, v[2] * k, v.length > 3 ? v[3] : 1]; };
  const over = (fg, bg) => [0, 1, 2].map(i => fg[i] * fg[3] + bg[i] * (1 - fg[3])).concat([1]);
  const lum = (c) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
                       return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]); };
  const background = (el) => { const layers = [];
    for (let e = el; e; e = e.parentElement) { const c = parse(getComputedStyle(e).backgroundColor);
      if (c && c[3] > 0) { layers.push(c); if (c[3] >= 1) break; } }
    let bg = [255, 255, 255, 1]; if (layers.length && layers[layers.length - 1][3] >= 1) bg = layers.pop();
    while (layers.length) bg = over(layers.pop(), bg); return bg; };
  const low = [], wide = []; let checked = 0;
  // akida_nb's own outputs, and the Styler of style_differences (its highlighted rows)
  const roots = [...document.querySelectorAll('.akn-root, table[id^="T_akn-"]')].filter(r => r.offsetParent !== null);
  for (const root of roots) {
    const area = root.closest('.jp-OutputArea-output');
    if (area) { const a = area.getBoundingClientRect(), r = root.getBoundingClientRect();
      const wrap = root.matches('table') ? null : root.querySelector('.akn-wrap');
      if (r.right > a.right + 1 || (wrap && wrap.scrollWidth > wrap.clientWidth + 1))
        wide.push({text: root.innerText.slice(0, 60), root: r.width, area: a.width,
                   scroll: wrap && wrap.scrollWidth}); }
    for (const el of root.querySelectorAll(root.matches('table') ? 'td, th' : '.akn-wrap *')) {
      if (el.offsetParent === null || el.closest('details:not([open]) > :not(summary)')) continue;
      if (![...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim())) continue;
      const r = el.getBoundingClientRect(); if (!r.width || !r.height) continue;
      const st = getComputedStyle(el); const bg = background(el); const fg = over(parse(st.color), bg);
      const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x); const ratio = (a + 0.05) / (b + 0.05);
      checked += 1;
      if (ratio < 4.5) low.push({text: el.textContent.trim().slice(0, 40), cls: el.className, fg: st.color,
                                 bg: 'rgb(' + bg.slice(0, 3).map(Math.round).join(',') + ')',
                                 ratio: Math.round(ratio * 100) / 100});
    }
  }
  const widgets = [...document.querySelectorAll('.jp-OutputArea-output .jupyter-widgets.widget-vbox, '
                                              + '.jp-OutputArea-output .jupyter-widgets.widget-hbox')]
    .filter(w => w.parentElement.closest('.jupyter-widgets') === null && w.offsetParent !== null);
  for (const w of widgets) { const a = w.closest('.jp-OutputArea-output').getBoundingClientRect();
    const r = w.getBoundingClientRect();
    if (r.right > a.right + 1) wide.push({text: 'widget ' + w.className.slice(0, 60), root: r.width, area: a.width}); }
  const errors = [...document.querySelectorAll('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"],'
                                             + ' .jp-RenderedText[data-mime-type="application/vnd.jupyter.error"]')]
    .map(e => e.innerText.slice(0, 300));
  return {roots: roots.length, checked, low, wide, errors};
}"""


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_tutorial_runs_and_reads_in_light_and_dark(browser, lab, name):
    pg = _open_and_run(browser, lab, name)
    ARTIFACTS.mkdir(exist_ok=True)
    for theme in THEMES:
        _theme(pg, theme)
        audit = pg.evaluate(AUDIT)
        assert not audit["errors"], (name, theme, audit["errors"])
        if "akn-" in (ROOT / "notebooks" / name).read_text(encoding="utf-8"):  # it shows akida_nb HTML
            assert audit["roots"] and audit["checked"] > 20, (name, audit["roots"], audit["checked"])
        figures = pg.locator(".jp-OutputArea-output .jp-RenderedHTMLCommon img[src^='data:image/png']")
        for k in range(figures.count()):  # ak.plot figures say what they show
            assert (figures.nth(k).get_attribute("alt") or "").strip(), (name, k)
        assert not audit["low"], (name, theme, audit["low"][:10])
        assert not audit["wide"], (name, theme, audit["wide"][:5])
        pg.screenshot(path=str(ARTIFACTS / f"{name[:2]}-{theme.split()[-1].lower()}.png"))
    _theme(pg, THEMES[0])


def _area(pg, has):
    area = pg.locator(".jp-OutputArea-output").filter(has=pg.locator(has)).first
    area.wait_for()
    area.scroll_into_view_if_needed()
    return area


def test_explorer_target_switch_fix_tick_and_reset(browser, lab):
    pg = _open_and_run(browser, lab, WIDGETS)
    area = pg.locator(".jp-OutputArea-output").filter(has=pg.locator(".akn-counts")).first
    area.scroll_into_view_if_needed()
    counts = area.locator(".akn-counts").first  # a locator: the HTML widget replaces its element on update
    before = counts.inner_text()
    assert "nsoc_v1" in before and "nsoc_v2" in before  # side by side first

    area.locator(".widget-dropdown select").first.select_option(label="nsoc_v1 — Akida NSoC (Pre-production)")
    playwright.expect(counts).not_to_contain_text("nsoc_v2", timeout=60_000)
    _wait_idle(pg)
    single = counts.inner_text()
    assert "INCOMPATIBLE" in area.locator(".widget-html").last.inner_text()

    row = area.locator(".widget-hbox").filter(has_text="clamp_bits").first
    assert "exact" in row.inner_text() or "approximate" in row.inner_text()  # each fix says how exact it is
    row.locator("input[type=checkbox]").check()
    playwright.expect(counts).not_to_have_text(single, timeout=60_000)
    _wait_idle(pg)
    fixed = counts.inner_text()
    assert "→" in fixed  # before → after
    n_before = int(single.split("nsoc_v1")[1].split("violation")[0].strip().split()[-1])
    n_after = int(fixed.split("nsoc_v1")[1].split("violation")[0].strip().split()[-1])
    assert n_after < n_before
    assert "clamp_bits" in area.locator(".akn-changes").first.inner_text()  # the changes table names the fix
    assert 'fixes=["clamp_bits"]' in area.locator(".widget-text input").first.input_value()
    assert area.locator("a[download][href^='data:']").count() == 2
    ARTIFACTS.mkdir(exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / "explorer.png"))

    area.locator("button").filter(has_text="Reset").first.click()
    playwright.expect(counts).to_have_text(single, timeout=60_000)
    assert not area.locator(".widget-hbox").filter(has_text="clamp_bits").first.locator(
        "input[type=checkbox]").is_checked()


def test_playground_reacts_and_labels_fit(browser, lab):
    pg = _open_and_run(browser, lab, WIDGETS)
    area = pg.locator(".jp-OutputArea-output").filter(has=pg.locator(".widget-toggle-buttons")).filter(
        has_text="followed by").first
    area.scroll_into_view_if_needed()
    for label in ("same", "valid", "none", "max", "average"):
        button = area.locator(".widget-toggle-buttons button").filter(has_text=label).first
        assert button.evaluate("(b) => b.scrollWidth <= b.clientWidth + 1"), f"{label!r} is cut"
    verdicts = area.locator(".akn-wrap").first
    text = verdicts.inner_text()
    area.locator(".widget-toggle-buttons button").filter(has_text="max").first.click()
    playwright.expect(verdicts).not_to_have_text(text, timeout=60_000)
    _wait_idle(pg)
    shown = area.locator(".akn-wrap").first
    box = shown.bounding_box()
    for target in ("nsoc_v1", "nsoc_v2"):  # every verdict sits in the first screenful of the output
        first = shown.locator(".akn-header .akn-target").filter(has_text=target).first.bounding_box()
        assert first["y"] - box["y"] < 300, target
    pg.screenshot(path=str(ARTIFACTS / "playground.png"))


def test_constraint_browser_filters_and_scrolls(browser, lab):
    pg = _open_and_run(browser, lab, WIDGETS)
    area = pg.locator(".jp-OutputArea-output").filter(has=pg.locator(".widget-select-multiple")).first
    area.scroll_into_view_if_needed()
    table = area.locator(".akn-wrap").first
    everything = table.inner_text()
    area.locator(".widget-dropdown select").first.select_option(label="FullyConnected")
    playwright.expect(area.locator(".akn-wrap").first).not_to_have_text(everything, timeout=60_000)
    assert "FullyConnected" in area.locator(".akn-wrap").first.inner_text()
    area.locator(".widget-dropdown select").first.select_option(label="all")
    playwright.expect(area.locator(".akn-wrap").first).to_contain_text(everything.splitlines()[0], timeout=60_000)
    scroll = area.locator(".akn-scroll").first
    assert scroll.evaluate("(e) => e.scrollHeight > e.clientHeight && e.clientHeight <= 430")  # scrolls in a box
    pg.screenshot(path=str(ARTIFACTS / "constraint-browser.png"))


def test_report_screenshot(browser, lab):
    pg = _open_and_run(browser, lab, "02_check_a_model.ipynb")
    report = pg.locator(".akn-wrap").filter(has=pg.locator(".akn-diagram")).first
    report.scroll_into_view_if_needed()
    ARTIFACTS.mkdir(exist_ok=True)
    for theme in THEMES:
        _theme(pg, theme)
        report.scroll_into_view_if_needed()
        pg.screenshot(path=str(ARTIFACTS / f"report-{theme.split()[-1].lower()}.png"))
    _theme(pg, THEMES[0])
