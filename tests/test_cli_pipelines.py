"""`akida-nb check` in CI pipelines: several models and globs, summary, --details, --junit, --format json, --baseline.

In-process through ``main([...])`` (fast) and end to end through ``python -m akida_nb.cli`` subprocesses.
"""
import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import akida_nb as ak
from akida_nb import cli
from akida_nb.cli import main
from akida_nb.resources import model_path

MODELS = ("ds_cnn_kws", "gxnor_mnist", "broken", "vgg_utk_face")
TARGETS = ("nsoc_v1", "nsoc_v2", "akd1000")


def run_main(*args):
    """``main(args)`` in-process: (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


def run_cli(*args, cwd):
    proc = subprocess.run([sys.executable, "-m", "akida_nb.cli", *args], cwd=cwd, capture_output=True, text=True,
                          check=False)
    return proc.returncode, proc.stdout, proc.stderr


@pytest.fixture
def models(tmp_path):
    """A folder of model files: four packaged examples and one with a new violation on nsoc_v2."""
    d = tmp_path / "models"
    d.mkdir()
    for name in MODELS:
        shutil.copy(model_path(name), d / f"{name}.json")
    return d


def worse_kws(path: Path) -> None:
    """ds_cnn_kws with 8-bit classifier weights: a new fc.weights_bits violation on every target."""
    spec = json.loads(model_path("ds_cnn_kws").read_text(encoding="utf-8"))
    spec["layers"][-1]["weights_bits"] = 8
    path.write_text(json.dumps(spec), encoding="utf-8")


def expected_cell(report) -> str:
    if report.ok:
        return "ok"
    return f"✗ {sum(v.severity == 'error' for v in report.entries) + len(report.unmapped)}"


# ---------------------------------------------------------------------------------------------- one model
def test_one_model_prints_exactly_what_it_printed(models):
    expected = repr(ak.compare(ak.example("ds_cnn_kws"), ["nsoc_v1", "nsoc_v2"])) + "\n"
    for argv in (["check", str(models / "ds_cnn_kws.json")], ["check", str(models / "ds_cnn_*.json")],
                 ["check", str(models / "ds_cnn_kws.json"), "--details"]):
        code, out, err = run_main(*argv, "-t", "nsoc_v1", "-t", "nsoc_v2")
        assert (code, out, err) == (1, expected, "")


def test_one_model_json_keeps_its_shape_plus_schema_version(models):
    code, out, _ = run_main("check", str(models / "broken.json"), "--format", "json")
    data = json.loads(out)
    assert code == 1 and data["schema_version"] == cli.SCHEMA_VERSION == 1
    expected = ak.compare(ak.example("broken")).to_dict()
    assert {k: v for k, v in data.items() if k != "schema_version"} == expected
    assert ak.Comparison.from_dict(data) == ak.compare(ak.example("broken"))


# ---------------------------------------------------------------------------------------------- several models
def test_summary_table_has_every_model_and_target_with_counts(models):
    code, out, err = run_main("check", *(str(models / f"{m}.json") for m in MODELS), *sum((["-t", t]
                              for t in TARGETS), []))
    assert code == 1 and err == ""
    lines = out.splitlines()
    assert lines[0].startswith(f"Checked 4 models on {', '.join(TARGETS)}: ")
    header = next(i for i, line in enumerate(lines) if line.split()[:2] == ["file", "model"])
    assert lines[header].split()[2:] == list(TARGETS)
    for name, row in zip(MODELS, lines[header + 1:header + 1 + len(MODELS)]):
        cmp = ak.compare(ak.example(name), TARGETS)
        cells = [c for c in row.split("  ") if c.strip()]
        assert cells[0].strip().endswith(f"{name}.json") and cells[1].strip() == cmp.model_name
        assert [c.strip() for c in cells[2:]] == [expected_cell(cmp[t]) for t in TARGETS]
    assert "Violations:" not in out  # the details only on request


def test_details_follow_the_table(models):
    code, out, _ = run_main("check", str(models / "*.json"), "--details")
    assert code == 1
    assert out.index("Summary") < out.index("Violations:")
    for name in MODELS:
        assert repr(ak.compare(ak.example(name))) in out


def test_globs_are_expanded_sorted_recursive_and_deduplicated(models):
    (models / "sub").mkdir()
    shutil.copy(models / "gxnor_mnist.json", models / "sub" / "deep.json")
    code, out, _ = run_main("check", str(models / "**" / "*.json"), str(models / "broken.json"), "-f", "json")
    files = [m["file"] for m in json.loads(out)["models"]]
    expected = sorted(str(p) for p in models.rglob("*.json"))
    assert code == 1 and sorted(files) == expected and len(files) == len(set(files)) == 5


def test_exit_status_the_worst_wins(models, tmp_path, monkeypatch):
    kws, broken = str(models / "ds_cnn_kws.json"), str(models / "broken.json")
    assert run_main("check", kws, kws, "-t", "nsoc_v2")[0] == 0  # the same file twice: checked once, one model
    assert run_main("check", kws, str(models / "gxnor_mnist.json"), "-t", "nsoc_v2")[0] == 0
    assert run_main("check", kws, broken, "-t", "nsoc_v2")[0] == 1
    code, out, err = run_main("check", kws, broken, str(tmp_path / "nope.json"), "-t", "nsoc_v2")
    assert code == 2 and "nope.json: no such file" in out
    assert err.count("\n") == 1 and "1 of 3 models could not be checked" in err and "nope.json" in err

    import importlib

    check_module = importlib.import_module("akida_nb.check")
    real = check_module.compare

    def crash_on_broken(model, targets):
        if model.name == "broken":
            raise ZeroDivisionError("a bug")
        return real(model, targets)

    monkeypatch.setattr(check_module, "compare", crash_on_broken)
    code, out, err = run_main("check", kws, broken, str(tmp_path / "nope.json"), "-t", "nsoc_v2")
    assert code == 3 and "ZeroDivisionError" in out and "ds_cnn_kws_v1" in out  # the other models still reported
    assert err.count("\n") == 1 and "internal error in 1 of 3" in err and "akida-nb --version" in err


def test_a_pattern_matching_nothing_is_bad_input_and_the_rest_is_checked(models):
    code, out, err = run_main("check", str(models / "*.yaml"), str(models / "ds_cnn_kws.json"), "-t", "nsoc_v2")
    assert code == 2 and "no file matches this pattern" in out and "ds_cnn_kws_v1" in out
    code, out, err = run_main("check", str(models / "*.yaml"))  # alone: today's one-line error, nothing on stdout
    assert code == 2 and out == "" and err.count("\n") == 1 and "no file matches" in err


def test_more_than_max_models_are_refused(models, monkeypatch):
    monkeypatch.setattr(cli, "MAX_MODELS", 3)
    code, out, err = run_main("check", str(models / "*.json"))
    assert code == 2 and out == "" and err.count("\n") == 1 and "more than 3 model files" in err
    code, out, err = run_main("check", *(str(models / f"{m}.json") for m in MODELS))
    assert code == 2 and "more than 3 model files" in err
    assert run_main("check", *(str(models / f"{m}.json") for m in MODELS[:3]))[0] == 1


def test_html_page_of_several_models(models, tmp_path):
    out = tmp_path / "r.html"
    code, stdout, _ = run_main("check", str(models / "*.json"), "-f", "html", "-o", str(out), "--details")
    page = out.read_text(encoding="utf-8")
    assert code == 1 and stdout == "" and page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    for name in MODELS:
        assert ak.compare(ak.example(name)).model_name in page


# ---------------------------------------------------------------------------------------------- --format json
def test_json_holds_every_model_with_a_schema_version(models, tmp_path):
    (models / "bad.json").write_text("{", encoding="utf-8")
    code, out, err = run_main("check", str(models / "*.json"), "-f", "json", "-t", "nsoc_v2", "-t", "akd1000")
    data = json.loads(out)
    assert code == 2 and data["kind"] == "CheckRun" and data["schema_version"] == 1
    assert data["exit_status"] == 2 and data["targets"] == ["nsoc_v2", "akd1000"]
    by_file = {Path(m["file"]).stem: m for m in data["models"]}
    assert by_file["bad"]["status"] == "error" and "bad.json" in by_file["bad"]["error"]
    for name in MODELS:
        cmp = ak.compare(ak.example(name), ["nsoc_v2", "akd1000"])
        assert ak.Comparison.from_dict(by_file[name]["comparison"]) == cmp
        assert by_file[name]["status"] == ("compatible" if all(cmp.ok.values()) else "incompatible")


# ---------------------------------------------------------------------------------------------- --junit
def junit(path: Path):
    root = ET.parse(path).getroot()
    return root, {(c.get("classname"), c.get("name")): c for c in root.iter("testcase")}


def test_junit_one_case_per_model_and_target(models, tmp_path):
    (models / "bad.json").write_text("{", encoding="utf-8")
    report = tmp_path / "r.xml"
    code, _, _ = run_main("check", str(models / "*.json"), "--junit", str(report))
    root, cases = junit(report)
    assert code == 2 and root.tag == "testsuites"
    assert int(root.get("tests")) == len(cases) == len(MODELS) * 2 + 1
    failed = {k for k, c in cases.items() if c.find("failure") is not None}
    expected = {(str(models / f"{m}.json"), t) for m in MODELS for t, ok in ak.compare(ak.example(m)).ok.items()
                if not ok}
    assert failed == expected and int(root.get("failures")) == len(expected)
    error = cases[(str(models / "bad.json"), "load")].find("error")
    assert error is not None and "bad.json" in error.get("message") and root.get("errors") == "1"
    failure = cases[(str(models / "ds_cnn_kws.json"), "nsoc_v1")].find("failure")
    assert failure.get("message") == ak.check(ak.example("ds_cnn_kws"), "nsoc_v1").summary_line()
    for rule in ak.check(ak.example("ds_cnn_kws"), "nsoc_v1").violations["rule"]:
        assert f"rule {rule}:" in failure.text


def test_junit_with_hostile_names_is_well_formed(tmp_path):
    spec = json.loads(model_path("ds_cnn_kws").read_text(encoding="utf-8"))
    spec["name"] = 'm<&>"\'\x1b[31m\x00]]>'
    spec["layers"][0]["name"] = "conv</failure><x>\x07\n\ufffe"
    evil = tmp_path / "a&b<c>\"'.json"
    evil.write_text(json.dumps(spec), encoding="utf-8")
    undecodable = tmp_path / os.fsdecode(b"x\xff\x1b.json")  # a lone surrogate in the file name
    undecodable.write_text("{", encoding="utf-8")
    report = tmp_path / "r.xml"
    code, _, _ = run_main("check", str(evil), str(undecodable), str(tmp_path / "no\x1bpe.json"),
                          "--junit", str(report))
    assert code == 2
    data = report.read_bytes()
    text = data.decode("utf-8")  # encodable: no lone surrogate left
    root, cases = junit(report)  # well-formed
    assert (str(evil), "nsoc_v1") in cases and len(root.findall("testsuite/testcase")) == 4
    failure = cases[(str(evil), "nsoc_v1")].find("failure").text
    assert "conv</failure><x>" in failure and "\x1b" not in text and "\x07" not in text and "\x00" not in text
    assert "m<&>" in failure
    loads = [c.get("classname") for c in root.iter("testcase") if c.get("name") == "load"]
    assert len(loads) == 2 and all("\\x1b" in name for name in loads) and any("\\udcff" in n for n in loads)


# ---------------------------------------------------------------------------------------------- --baseline
def test_baseline_fails_only_on_new_violations(models, tmp_path):
    base = tmp_path / "base.json"
    assert run_main("check", str(models / "*.json"), "-f", "json", "-o", str(base))[0] == 1
    code, out, _ = run_main("check", str(models / "*.json"), "--baseline", str(base))
    assert code == 0 and "Baseline: 0 new violations" in out and "(0 new)" in out

    worse_kws(models / "ds_cnn_kws.json")
    report = tmp_path / "r.xml"
    code, out, _ = run_main("check", str(models / "*.json"), "--baseline", str(base), "--junit", str(report),
                            "-t", "nsoc_v1", "-t", "nsoc_v2", "-t", "akd1000")
    kws = str(models / "ds_cnn_kws.json")
    rows = [line.split() for line in out.split("New violations (not in the baseline):\n")[1].splitlines()[1:]]
    # the baseline was made on nsoc_v1 and nsoc_v2: everything on akd1000 is new, and on nsoc_v2 the 8-bit
    # classifier weights; on nsoc_v1 the classifier already broke fc.weights_bits (4 bits), so nothing is new there
    expected = [[str(models / f"{m}.json"), "akd1000", v.layer, v.rule] for m in sorted(MODELS)
                for v in ak.check(ak.load_model(models / f"{m}.json"), "akd1000").entries if v.severity == "error"]
    expected.append([kws, "nsoc_v2", "dense_5", "fc.weights_bits"])
    assert code == 1 and sorted(rows) == sorted(expected) and f"Baseline: {len(expected)} new violations" in out
    assert [kws, "nsoc_v1", "dense_5", "fc.weights_bits"] not in rows
    root, cases = junit(report)
    assert cases[(kws, "nsoc_v2")].find("failure") is not None
    known = cases[(str(models / "gxnor_mnist.json"), "nsoc_v1")]
    assert known.find("failure") is None and "known (in the baseline)" in known.find("system-out").text

    code, out, _ = run_main("check", kws, "--baseline", str(base), "-t", "nsoc_v2", "-f", "json")
    data = json.loads(out)
    assert code == 1 and data["new_violations"] == {"nsoc_v2": [["dense_5", "fc.weights_bits"]]}


def test_baseline_of_one_model_and_of_the_format_before_schema_version(models, tmp_path):
    base = tmp_path / "base.json"
    base.write_text(ak.compare(ak.example("ds_cnn_kws")).to_json(), encoding="utf-8")  # no schema_version
    assert run_main("check", str(models / "ds_cnn_kws.json"), "--baseline", str(base))[0] == 0
    worse_kws(models / "ds_cnn_kws.json")
    code, out, _ = run_main("check", str(models / "ds_cnn_kws.json"), "--baseline", str(base))
    assert code == 1 and out.startswith(repr(ak.compare(ak.load_model(models / "ds_cnn_kws.json"))))
    assert "Baseline: 1 new violation" in out
    # a layer renamed is a new layer; a model the baseline does not hold has only new violations
    assert run_main("check", str(models / "broken.json"), "--baseline", str(base))[0] == 1


@pytest.mark.parametrize("content, message", [
    ("{", "not valid JSON"),
    ("[1, 2]", "not an akida-nb check --format json report"),
    ('{"kind": "CheckRun", "schema_version": 1, "models": [{"file": "x"}]}', "models.0: missing status"),
    ('{"kind": "Comparison", "model_name": "m", "reports": [{"target": 3, "violations": []}]}',
     "reports.0.target: 3 is not of type string"),
    ('{"kind": "CheckRun", "schema_version": 99, "models": []}', "schema_version 99 is newer"),
    ('{"kind": "Comparison", "model_name": "m", "reports": [], "reports": []}', "duplicate key"),
])
def test_malformed_baseline_is_bad_input_in_one_line(tmp_path, content, message):
    base = tmp_path / "base.json"
    base.write_text(content, encoding="utf-8")
    code, out, err = run_main("check", "ds_cnn_kws", "--baseline", str(base))
    assert code == 2 and out == "" and err.count("\n") == 1 and message in err and "base.json" in err


def test_load_baseline_counts_repeated_violations(tmp_path):
    doc = {"kind": "Comparison", "model_name": "m", "reports": [{"target": "t", "violations": [
        {"layer": "a", "rule": "r"}, {"layer": "a", "rule": "r"}, {"layer": "b", "rule": "r", "severity": "warning"}],
        "unmapped": ["odd (Lambda)"]}]}
    base = tmp_path / "b.json"
    base.write_text(json.dumps(doc), encoding="utf-8")
    assert cli.load_baseline(base) == {("m", "t", "a", "r"): 2, ("m", "t", "odd (Lambda)", "unmapped"): 1}


# ---------------------------------------------------------------------------------------------- end to end
@pytest.mark.slow
def test_end_to_end_ci_run(models, tmp_path):
    """What the GitHub Actions example runs: a glob the CLI expands, a baseline, a JUnit file, a JSON report."""
    rel = "models/*.json"
    code, _, err = run_cli("check", rel, "-f", "json", "-o", "baseline.json", cwd=tmp_path)
    assert code == 1 and err == ""
    code, out, err = run_cli("check", rel, "--baseline", "baseline.json", "--junit", "akida-report.xml",
                             cwd=tmp_path)
    assert code == 0 and err == "" and out.startswith("Checked 4 models on nsoc_v1, nsoc_v2:")
    root, cases = junit(tmp_path / "akida-report.xml")
    assert root.get("failures") == "0" and len(cases) == 8
    worse_kws(models / "ds_cnn_kws.json")
    (models / "new.json").write_text("{", encoding="utf-8")
    code, out, err = run_cli("check", rel, "--baseline", "baseline.json", "--junit", "akida-report.xml",
                             cwd=tmp_path)
    assert code == 2 and err.count("\n") == 1 and "new.json" in err
    root, cases = junit(tmp_path / "akida-report.xml")
    assert (root.get("failures"), root.get("errors")) == ("1", "1")
    assert "fc.weights_bits" in cases[("models/ds_cnn_kws.json", "nsoc_v2")].find("failure").get("message")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["akida-report.xml", "baseline.json", "models"]


# ---------------------------------------------------------------------------- lab and app arguments (h20)
@pytest.mark.parametrize("call, field", [
    (lambda tmp: __import__("akida_nb.lab").lab.sync_tutorials(None), "dir"),
    (lambda tmp: __import__("akida_nb.lab").lab.sync_tutorials(5), "dir"),
    (lambda tmp: __import__("akida_nb.lab").lab.sync_tutorials(tmp / "t", source=tmp / "missing"), "source"),
    (lambda tmp: __import__("akida_nb.lab").lab.sync_tutorials(tmp / "t", source=5), "source"),
])
def test_sync_tutorials_refuses_bad_folders(tmp_path, call, field):
    with pytest.raises(ak.errors.SpecError) as e:
        call(tmp_path)
    assert e.value.path == field and "\n" not in str(e.value)


def test_sync_tutorials_refuses_a_deeply_nested_manifest(tmp_path):
    from akida_nb.lab import MANIFEST, sync_tutorials

    (tmp_path / "t").mkdir()
    (tmp_path / "t" / MANIFEST).write_text("[" * 100_000)
    with pytest.raises(ak.errors.SpecError, match="unreadable manifest"):
        sync_tutorials(tmp_path / "t")


@pytest.mark.parametrize("model", [None, 5, ["ds_cnn_kws"]])
def test_app_notebook_refuses_a_model_that_is_not_a_name(model):
    from akida_nb.cli_extra import app_notebook

    with pytest.raises(ak.errors.SpecError, match="model: expected a model file or an example name"):
        app_notebook(model)


def test_app_notebook_takes_one_target_name():
    from akida_nb.cli_extra import app_notebook

    assert app_notebook("ds_cnn_kws", "akd1500")["cells"][0]["source"].endswith("target=('akd1500',))")


@pytest.mark.parametrize("argv", [["check", "ds_cnn_kws", "-o", "out"], ["check", "ds_cnn_kws", "--junit", "out"],
                                  ["sweep", "s.yaml", "--no-progress", "-o", "out.csv"]])
def test_an_output_that_is_a_fifo_is_bad_input_not_a_hang(tmp_path, argv):
    (tmp_path / "s.yaml").write_text("model: gxnor_mnist\nknobs: {act_bits: [1, 2]}\n")
    os.mkfifo(tmp_path / argv[-1])
    proc = subprocess.run([sys.executable, "-m", "akida_nb.cli", *argv], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(Path(ak.__file__).parents[1])})
    assert proc.returncode == 2, proc.stderr
    assert "not a regular file (a FIFO)" in proc.stderr and len(proc.stderr.splitlines()) == 1
