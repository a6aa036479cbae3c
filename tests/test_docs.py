"""The documentation site, ``akida-nb lab`` and ``akida-nb app``.

- The site (``python -m akida_nb.docs``, the ``docs`` extra) builds with warnings as errors and without
  network; its generated reference tables are those of ``ak.constraints()`` cell for cell, with exactly the
  rows that differ between targets highlighted; a page of each kind renders in headless Chromium
  (screenshots under ``artifacts/``). With ``AKIDA_NB_DOCS_HTML`` set (``.ci/run`` builds the site first),
  the page tests read that build instead of building one.
- ``akida-nb lab``: the packaged tutorials are copied with a manifest; a later version updates untouched
  copies and never overwrites an edit.
- ``akida-nb app`` (the ``app`` extra): Voilà on 127.0.0.1 and a free port, driven in headless Chromium
  (target picker, a fix), then stopped.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from html.parser import HTMLParser
from pathlib import Path

import pytest

import akida_nb as ak
from akida_nb.cli_extra import main as extra_main
from akida_nb.docs import REFERENCE_COLUMNS, write_reference
from akida_nb.errors import SpecError
from akida_nb.lab import MANIFEST, sync_tutorials, tutorials
from akida_nb.model import LAYER_TYPES

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "artifacts"
NO_NETWORK = ("import socket, sys\n"
              "def _no(*a, **k):\n"
              "    raise OSError('network access during the docs build')\n"
              "socket.socket.connect = socket.socket.connect_ex = socket.create_connection = _no\n"
              "from akida_nb.docs import main\n"
              "sys.exit(main(sys.argv[1:]))\n")


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}


def _build_offline(out: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", NO_NETWORK, str(out)], cwd=ROOT, env=_env(), capture_output=True,
                          text=True, timeout=600)


# --- the site ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The built site: ``$AKIDA_NB_DOCS_HTML`` (relative to the checkout) when set, else a fresh offline build."""
    pytest.importorskip("sphinx")
    pytest.importorskip("myst_nb")
    given = os.environ.get("AKIDA_NB_DOCS_HTML")
    if given:
        html = (ROOT / given).resolve()  # relative to the checkout, as .ci/run gives it
        assert (html / "index.html").is_file(), f"AKIDA_NB_DOCS_HTML={given} holds no built site"
        return html
    out = tmp_path_factory.mktemp("site")
    done = _build_offline(out)
    assert done.returncode == 0, done.stdout + done.stderr
    return out


class _Tables(HTMLParser):
    """Rows of every ``table.akn-ref``: {(target, layer type): [{column: text}]}, and highlighted rule ids."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: dict[tuple[str, str], list[dict[str, str]]] = {}
        self.differs: dict[tuple[str, str], set[str]] = {}
        self._key: tuple[str, str] | None = None
        self._row: dict[str, str] | None = None
        self._col: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table" and "akn-ref" in (a.get("class") or "") and a.get("data-target"):
            self._key = (a["data-target"], a["data-layer-type"])
            self.tables[self._key], self.differs[self._key] = [], set()
        elif tag == "tr" and self._key and a.get("data-rule") is not None:
            self._row = {}
            self.tables[self._key].append(self._row)
            if "akn-differs" in (a.get("class") or ""):
                self.differs[self._key].add(a["data-rule"])
        elif tag == "td" and self._row is not None:
            self._col = a.get("data-col")
            self._row[self._col] = ""

    def handle_endtag(self, tag):
        if tag == "td":
            self._col = None
        elif tag == "table":
            self._key, self._row = None, None

    def handle_data(self, data):
        if self._row is not None and self._col is not None:
            self._row[self._col] += data


def _tables(page: Path) -> _Tables:
    parser = _Tables()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser


@pytest.mark.docs
def test_every_rendered_reference_table_is_ak_constraints(site):
    names = list(ak.targets()["name"])
    for name in names:
        for lt in LAYER_TYPES:
            page = site / "_generated" / "reference" / name / f"{lt}.html"
            rows = _tables(page).tables[(name, lt)]
            expected = ak.constraints(name, lt)
            assert len(rows) == len(expected) > 0, (name, lt)
            fixes = {r.id: r.fix for r in ak.get_target(name).rules_for(lt)}
            for got, want in zip(rows, expected.to_dict("records")):
                want = {**want, "fix": fixes[want["rule"]]}
                assert {c: got[c] for c in REFERENCE_COLUMNS} == {c: str(want[c]) for c in REFERENCE_COLUMNS}


@pytest.mark.docs
def test_rows_that_differ_between_targets_are_highlighted(site):
    names = list(ak.targets()["name"])
    for name in names:
        for lt in LAYER_TYPES:
            cmp = ak.compare_constraints(*names, layer_type=lt)
            rules = list(ak.constraints(name, lt)["rule"])
            want = {r for r in rules if len({cmp.loc[(lt, r), n] for n in names}) > 1}
            page = _tables(site / "_generated" / "reference" / name / f"{lt}.html")
            assert page.differs[(name, lt)] == want, (name, lt)
    # the conv stride differs between the chips: a highlight that must be there
    page = _tables(site / "_generated" / "reference" / "nsoc_v1" / "Convolutional.html")
    assert "conv.kernel_stride" in page.differs[("nsoc_v1", "Convolutional")]


@pytest.mark.docs
def test_pages_of_every_kind_were_built(site):
    for page in ("index.html", "getting_started.html", "design.html", "github_actions.html", "tutorials.html",
                 "_generated/api.html", "_generated/reference/index.html", "_generated/reference/compare/"
                 "Convolutional.html", *(f"_generated/tutorials/{nb.stem}.html" for nb in tutorials())):
        assert (site / page).is_file(), page
    api = (site / "_generated" / "api.html").read_text(encoding="utf-8")
    for name in ak.__all__:
        assert f'id="akida_nb.{name}"' in api, name


@pytest.mark.docs
@pytest.mark.slow
def test_the_build_needs_no_network_and_fails_on_a_warning(tmp_path):
    pytest.importorskip("sphinx")
    out = tmp_path / "html"
    done = _build_offline(out)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (out / "_generated" / "reference" / "akd1000" / "FullyConnected.html").is_file()
    stray = ROOT / "docs" / "zz_not_in_any_toctree.md"
    stray.write_text("# stray\n", encoding="utf-8")
    try:
        done = _build_offline(out)  # incremental: only the stray page is read again
    finally:
        stray.unlink()
    assert done.returncode != 0 and "toctree" in done.stderr


def test_generated_pages_are_never_committed():
    assert "_generated/" in (ROOT / "docs" / ".gitignore").read_text(encoding="utf-8").split()
    tracked = subprocess.run(["git", "ls-files", "docs"], cwd=ROOT, capture_output=True, text=True)
    if tracked.returncode == 0:
        assert not [f for f in tracked.stdout.split() if "_generated" in f or "_build" in f]


def test_write_reference_writes_one_page_per_target_and_layer_type(tmp_path):
    pages = {p.relative_to(tmp_path).as_posix() for p in write_reference(tmp_path)}
    for name in ak.targets()["name"]:
        assert {f"reference/{name}/{lt}.md" for lt in LAYER_TYPES} <= pages
    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*.md")}
    time.sleep(0.01)
    write_reference(tmp_path)  # unchanged pages are left alone: Sphinx re-reads only what changed
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*.md")} == before


# --- headless Chromium ------------------------------------------------------------------------------

def _chromium():
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            raise RuntimeError(f"the browser tests need {CHROMIUM} in CI (.ci/run installs Debian's chromium)")
        pytest.skip(f"no {CHROMIUM}: install Debian's chromium to run the browser tests")
    return pytest.importorskip("playwright.sync_api")


def _launch(p):
    return p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
        "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"])


@pytest.mark.docs
@pytest.mark.browser
def test_a_page_of_each_kind_renders_in_chromium(site):
    pw = _chromium()
    first_nb = tutorials()[0].stem
    pages = {  # page: (a selector that must be visible, text it must hold)
        "index.html": ("article h1", "akida_nb"),
        "getting_started.html": ("article div.highlight", "akida-nb check"),
        f"_generated/tutorials/{first_nb}.html": ("article .cell_output", "nsoc_v2"),
        "_generated/api.html": ("dl.py.function dt", "akida_nb.applicable_fixes("),
        "_generated/reference/nsoc_v1/Convolutional.html": ("table.akn-ref tr.akn-differs", "conv."),
        "_generated/reference/compare/Convolutional.html": ("table.akn-cmp tbody tr", "conv."),
        "design.html": ("article h1", "design notes"),
        "github_actions.html": ("article div.highlight", "--junit"),
    }
    ARTIFACTS.mkdir(exist_ok=True)
    with pw.sync_playwright() as p:
        browser = _launch(p)
        pg = browser.new_page(viewport={"width": 1400, "height": 1000})
        errors: list[str] = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        for page, (selector, text) in pages.items():
            pg.goto((site / page).as_uri())
            el = pg.locator(selector).first
            pw.expect(el).to_be_visible()
            assert text.lower() in el.inner_text().lower(), (page, selector)
            assert pg.locator("nav.bd-links, .bd-sidebar-primary").first.count() == 1, page  # the theme applied
            name = page.removeprefix("_generated/").removesuffix(".html").replace("/", "-")
            pg.screenshot(path=str(ARTIFACTS / f"docs-{name}.png"))
        highlighted = pg.goto((site / "_generated/reference/nsoc_v1/Convolutional.html").as_uri())
        assert highlighted is not None
        bg = pg.locator("table.akn-ref tr.akn-differs td").first.evaluate("e => getComputedStyle(e).backgroundColor")
        plain = pg.locator("table.akn-ref tbody tr:not(.akn-differs) td").first.evaluate(
            "e => getComputedStyle(e).backgroundColor")
        assert bg != plain  # the differing rows really are highlighted
        browser.close()
    assert not errors, errors


# --- akida-nb lab -----------------------------------------------------------------------------------

def test_lab_copies_the_packaged_tutorials_with_a_manifest(tmp_path):
    result = sync_tutorials(tmp_path / "t")
    names = [nb.name for nb in tutorials()]
    assert result["copied"] == names and len(names) >= 5
    for nb in tutorials():
        assert (tmp_path / "t" / nb.name).read_bytes() == nb.read_bytes()
    manifest = json.loads((tmp_path / "t" / MANIFEST).read_text())
    assert manifest["akida_nb"] == ak.__version__ and sorted(manifest["files"]) == names
    again = sync_tutorials(tmp_path / "t")
    assert again == {"copied": [], "updated": [], "unchanged": names, "kept": []}


def test_a_later_version_updates_untouched_files_and_keeps_edits(tmp_path):
    old, new, dest = tmp_path / "old", tmp_path / "new", tmp_path / "dest"
    old.mkdir()
    new.mkdir()
    for name in ("a.ipynb", "b.ipynb", "c.ipynb", "d.ipynb"):
        (old / name).write_text(f"{name} v1")
        (new / name).write_text(f"{name} v2")
    (new / "e.ipynb").write_text("e v2")  # new in the later version
    dest.mkdir()
    (dest / "e.ipynb").write_text("my own e")  # the user's file of that name, never copied by us
    assert sync_tutorials(dest, source=old)["kept"] == []
    (dest / "b.ipynb").write_text("my edit")  # the user edits b
    (dest / "c.ipynb").unlink()  # and deletes c
    (dest / "d.ipynb").write_text("d.ipynb v2")  # d already equals the new version
    result = sync_tutorials(dest, source=new)
    assert result == {"copied": ["c.ipynb"], "updated": ["a.ipynb"], "unchanged": ["d.ipynb"],
                      "kept": ["b.ipynb", "e.ipynb"]}
    assert (dest / "a.ipynb").read_text() == "a.ipynb v2"
    assert (dest / "b.ipynb").read_text() == "my edit"
    assert (dest / "e.ipynb").read_text() == "my own e"
    # still edited, still kept by the version after: the manifest remembers what was copied, not the edit
    assert sync_tutorials(dest, source=new)["kept"] == ["b.ipynb", "e.ipynb"]


def test_lab_refuses_a_file_as_folder_and_a_broken_manifest(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(SpecError, match="not a folder"):
        sync_tutorials(tmp_path / "f")
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / MANIFEST).write_text("{not json")
    with pytest.raises(SpecError, match="manifest"):
        sync_tutorials(tmp_path / "d")
    assert extra_main(["lab", str(tmp_path / "f"), "--no-start"]) == 2


def test_lab_command_copies_into_the_default_folder(tmp_path):
    done = subprocess.run([sys.executable, "-m", "akida_nb.cli", "lab", "--no-start"], cwd=tmp_path,
                          env=_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (tmp_path / "akida_nb_tutorials").glob("*.ipynb")) == \
        [nb.name for nb in tutorials()]
    assert f"copied {len(tutorials())}" in done.stdout


@pytest.mark.slow
def test_lab_starts_jupyterlab_on_the_copied_tutorials(tmp_path):
    pytest.importorskip("jupyterlab")
    port, token = _free_port(), "akida-nb-lab-test"
    env = {**_env(), "JUPYTER_TOKEN": token, "JUPYTER_CONFIG_DIR": str(tmp_path / ".jupyter"),
           "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / ".settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / ".workspaces")}
    (tmp_path / ".jupyter").mkdir()  # as root (CI), JupyterLab needs allow_root; no news or update checks
    (tmp_path / ".jupyter" / "jupyter_server_config.json").write_text(json.dumps(
        {"ServerApp": {"allow_root": True, "ip": "127.0.0.1"},
         "LabApp": {"news_url": "", "check_for_updates_class": "jupyterlab.NeverCheckForUpdate"}}))
    proc = subprocess.Popen([sys.executable, "-m", "akida_nb.cli", "lab", "tut", "--port", str(port),
                             "--no-browser"], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/contents?token={token}", timeout=10) as r:
                    listing = json.load(r)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("JupyterLab did not start") from None
                time.sleep(0.5)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    names = sorted(item["name"] for item in listing["content"] if item["type"] == "notebook")
    assert names == [nb.name for nb in tutorials()]  # JupyterLab serves the folder the tutorials went to
    assert proc.returncode == 0


# --- akida-nb app -----------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_app_refuses_a_bad_model_before_serving(capsys):
    assert extra_main(["app", "no_such_model.json"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no_such_model.json" in err
    assert extra_main(["app", "ds_cnn_kws", "-t", "no_such_chip"]) == 2


@pytest.mark.app
@pytest.mark.browser
@pytest.mark.slow
def test_app_serves_the_explorer_and_stops(tmp_path):
    pytest.importorskip("voila")
    pw = _chromium()
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "akida_nb.cli", "app", "data/models/ds_cnn_kws.json",
                             "--port", str(port), "--no-browser"], cwd=ROOT, env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(url, timeout=60)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("Voilà did not start") from None
                time.sleep(0.5)
        with pw.sync_playwright() as p:
            browser = _launch(p)
            pg = browser.new_page(viewport={"width": 1400, "height": 1000})
            pg.set_default_timeout(60_000)
            pg.goto(url)
            select = pg.locator(".widget-dropdown select").first
            select.wait_for()
            counts = pg.locator(".akn-counts").first
            pw.expect(counts).to_contain_text("nsoc_v2")  # side by side first
            select.select_option(label="nsoc_v1 — Akida NSoC (Pre-production)")
            pw.expect(counts).not_to_contain_text("nsoc_v2")
            single = counts.inner_text()
            n_before = int(single.split("nsoc_v1")[1].split("violation")[0].strip().split()[-1])
            box = pg.locator(".widget-checkbox").filter(has_text="clamp_bits").first
            box.locator("input[type=checkbox]").check()
            pw.expect(counts).not_to_have_text(single)
            fixed = counts.inner_text()
            n_after = int(fixed.split("nsoc_v1")[1].split("violation")[0].strip().split()[-1])
            assert n_after < n_before
            pw.expect(pg.locator("table").filter(has_text="clamp_bits").first).to_be_visible()  # the changes
            ARTIFACTS.mkdir(exist_ok=True)
            pg.screenshot(path=str(ARTIFACTS / "app.png"), full_page=True)
            browser.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert proc.returncode == 0
    with pytest.raises(OSError):
        urllib.request.urlopen(url, timeout=5)  # the server is gone


def test_readme_documents_the_build_ci_runs():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    ci_cmd = ci.split("# --- begin docs build command\n")[1].split("\n# --- end docs build command")[0].strip()
    where_next = readme.split("## Where next")[1].split("\n## ")[0]
    assert ci_cmd in where_next and "python -m akida_nb.docs docs/_build/html" in ci_cmd
    for command in ("akida-nb lab", "akida-nb app", "akida-nb check"):
        assert command in where_next
