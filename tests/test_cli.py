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
    return subprocess.run([str(exe), *args], capture_output=True, text=True)


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
