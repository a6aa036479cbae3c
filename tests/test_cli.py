"""The akida-nb command: exit codes, formats, one-line errors."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

import akida_nb as ak
from akida_nb.cli import main
from akida_nb.resources import model_path

KWS = str(model_path("ds_cnn_kws"))


def run(*args):
    """Run the installed console script as a user would."""
    exe = Path(sys.executable).with_name("akida-nb")
    return subprocess.run([str(exe), *args], check=False, capture_output=True, text=True)


@pytest.mark.slow
def test_console_script_checks_both_targets_and_exits_1():
    proc = run("check", KWS, "--target", "nsoc_v1", "--target", "nsoc_v2")
    assert proc.returncode == 1
    assert proc.stdout == repr(ak.compare(ak.example("ds_cnn_kws"), ["nsoc_v1", "nsoc_v2"])) + "\n"
    assert "INCOMPATIBLE" in proc.stdout and proc.stderr == ""


def test_exit_0_when_compatible_and_default_targets(capsys):
    assert main(["check", KWS, "--target", "nsoc_v2"]) == 0
    assert main(["check", KWS]) == 1
    out = capsys.readouterr().out
    assert "nsoc_v1" in out and "nsoc_v2" in out


def test_json_output_round_trips(capsys):
    assert main(["check", "broken", "--format", "json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert ak.Comparison.from_dict(data) == ak.compare(ak.example("broken"))


def test_html_output_is_a_standalone_page(tmp_path):
    out = tmp_path / "r.html"
    assert main(["check", KWS, "--format", "html", "--output", str(out)]) == 1
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert ak.compare(ak.example("ds_cnn_kws"))._repr_html_() in page


@pytest.mark.parametrize("args, message", [
    (["check", "nope.json"], "no such file"),
    (["check", KWS, "--target", "nsoc_v9"], "unknown target 'nsoc_v9'"),
])
def test_bad_input_exits_2_with_one_line(args, message):
    proc = run(*args)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and message in proc.stderr and "Traceback" not in proc.stderr


def test_bad_spec_file_names_the_path(tmp_path):
    bad = tmp_path / "m.json"
    bad.write_text(json.dumps({"input": {"shape": [8, 8, 1]}, "layers": [{"type": "Convolutional", "filters": 2}]}))
    proc = run("check", str(bad))
    assert proc.returncode == 2 and "layers[0].kernel_size" in proc.stderr


def test_listing_commands(capsys):
    assert main(["targets"]) == 0 and "nsoc_v1" in capsys.readouterr().out
    assert main(["examples"]) == 0 and "ds_cnn_kws" in capsys.readouterr().out.split()


def test_version_and_show_versions(capsys):
    proc = run("--version")
    assert proc.returncode == 0 and proc.stdout.strip() == f"akida-nb {ak._versions.package_version()}"
    ak.show_versions()
    lines = capsys.readouterr().out.splitlines()
    names = [line.split(":")[0] for line in lines]
    assert names[:3] == ["akida_nb", "python", "platform"]
    assert {"numpy", "pandas", "pyyaml", "matplotlib", "ipywidgets", "jsonschema"} <= set(names)


def test_show_versions_imports_no_optional_package():
    code = ("import sys, akida_nb as ak; ak.show_versions(); "
            "heavy = {'matplotlib', 'ipywidgets', 'akida', 'dask', 'tensorflow', 'jsonschema'} & set(sys.modules); "
            "assert not heavy, heavy")
    proc = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_help_documents_the_exit_codes():
    proc = run("--help")
    assert proc.returncode == 0
    text = " ".join(proc.stdout.split())
    for code in ("0 compatible", "1 incompatible", "2 bad input", "3 internal error"):
        assert code in text


@pytest.mark.parametrize("args", [["check"], ["check", KWS, "--format", "pdf"], ["frobnicate"], []])
def test_usage_errors_exit_2_with_one_line(args):
    proc = run(*args)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("akida-nb: error:")


def test_unknown_target_suggests_the_close_match():
    proc = run("check", KWS, "--target", "akd10000")  # "akd100" is as close to akd1500 since it exists
    assert proc.returncode == 2 and "did you mean 'akd1000'?" in proc.stderr and "nsoc_v1" in proc.stderr


def test_internal_error_exits_3_with_a_report_hint(monkeypatch, capsys):
    import importlib

    def boom(*args, **kwargs):
        raise RecursionError("maximum recursion depth exceeded\n" + "x" * 10_000)

    monkeypatch.setattr(importlib.import_module("akida_nb.check"), "compare", boom)
    assert main(["check", KWS]) == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and len(err) <= 501
    assert "internal error: RecursionError" in err
    assert "akida-nb --version" in err and "show_versions()" in err


def test_bad_input_messages_are_one_bounded_escaped_line(tmp_path):
    bad = tmp_path / "m.json"
    name = "evil\n\x1b[32mCOMPATIBLE" + "x" * 10_000
    bad.write_text(json.dumps({"name": name, "input": {"shape": [8, 8, 1]},
                               "layers": [{"type": "Convolutional", "filters": 2}]}))
    proc = run("check", str(bad))
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and len(proc.stderr) <= 501
    assert "\x1b" not in proc.stderr


def test_every_error_message_is_bounded_centrally():
    for err in (ak.SpecError("layers[0]", "x" * 5000 + "\n"), ak.FixError("f", "\x1b" * 400),
                ak.SimulationError("l", "v", "y" * 400), ak.ModelImportError("l", "C", "z\n" * 400),
                ak.PlotError("a", "p" * 400), ak.UnknownTargetError("n" * 5000, ["nsoc_v1"])):
        text = str(err)
        assert len(text) <= 300 and text.isprintable(), type(err).__name__


def test_output_file_gets_the_report_and_nothing_else_is_written(tmp_path):
    before = set(tmp_path.iterdir())
    proc = subprocess.run([str(Path(sys.executable).with_name("akida-nb")), "check", KWS, "-t", "nsoc_v2",
                           "-o", "r.txt"], check=False, capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0 and proc.stdout == "" and proc.stderr == ""
    assert set(tmp_path.iterdir()) - before == {tmp_path / "r.txt"}
    assert (tmp_path / "r.txt").read_text(encoding="utf-8").startswith("Comparison:")


def test_a_closed_output_pipe_ends_quietly_with_141():
    """``akida-nb check … | head``: when the reader goes away, no traceback, no error line, status 141."""
    proc = subprocess.Popen([sys.executable, "-m", "akida_nb.cli", "check", KWS, "--details"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # before the child's first write: every write meets EPIPE
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141
    assert err == "", err


def test_ctrl_c_is_one_line_and_130(monkeypatch, capsys):
    from akida_nb import cli

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_run", interrupted)
    assert main(["check", KWS]) == cli.EXIT_INTERRUPTED == 130
    err = capsys.readouterr().err
    assert err.strip() == "akida-nb: interrupted"


def test_help_documents_the_interrupt_and_pipe_statuses():
    text = " ".join(run("--help").stdout.split())
    assert "130 interrupted" in text and "141 standard output closed" in text
