"""The package is light to import and installs as a wheel that carries its data."""
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_import_is_light():
    code = ("import sys, akida_nb as ak; ak.check(ak.example('ds_cnn_kws'), 'nsoc_v1'); "
            "heavy = [m for m in ('matplotlib', 'ipywidgets', 'akida', 'tensorflow', 'keras', 'dask', "
            "'numba', 'pandas.io.formats.style') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dist),
                    str(ROOT)], check=True, capture_output=True)
    (whl,) = dist.glob("akida_nb-*.whl")
    return whl


@pytest.mark.slow
def test_wheel_carries_data_and_css(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in ("akida_nb/data/targets/nsoc_v1.yaml", "akida_nb/data/targets/nsoc_v2.yaml",
                     "akida_nb/data/models/ds_cnn_kws.json", "akida_nb/data/models/broken.json",
                     "akida_nb/data/models/digits_cnn.npz", "akida_nb/data/datasets/digits_test.npz",
                     "akida_nb/static/report.css", "akida_nb/tutorials/01_constraint_tables.ipynb"):
        assert required in names
    assert not any(n.startswith(("tests/", "notebooks/")) for n in names)


@pytest.mark.slow
def test_installed_wheel_works_outside_the_repo(wheel, tmp_path):
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
                   check=True, capture_output=True)
    code = ("import akida_nb as ak, pathlib; "
            "assert pathlib.Path(ak.__file__).is_relative_to(pathlib.Path.cwd().parent), ak.__file__; "
            "df = ak.constraints('nsoc_v2'); print(len(df), ak.check(ak.example('ds_cnn_kws'), 'nsoc_v2').ok); "
            "from akida_nb.lab import tutorials; nbs = tutorials(); "
            "print(len(nbs), all(p.is_relative_to(pathlib.Path(ak.__file__).parent) for p in nbs)); "
            "m = ak.example('digits_cnn'); x, y = ak.example_data('digits'); "
            "out = ak.Simulator(m).run(x, keep='output').output.reshape(len(x), -1); "
            "print(m.variables is not None, len(x), int((out.argmax(1) == y).sum()))")
    env = {**os.environ, "PYTHONPATH": str(target)}
    work = tmp_path / "elsewhere"
    work.mkdir()
    out = subprocess.run([sys.executable, "-c", code], cwd=work, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    n_rules = len(__import__("akida_nb").constraints("nsoc_v2"))
    n_notebooks = len(list((ROOT / "notebooks").glob("*.ipynb")))
    # the tutorials ship too; the trained example and its test digits load by name from the installed package,
    # and the simulator's argmax is right as often as akida's forward() was (tests/data/digits/accuracy.json)
    recorded = json.loads((ROOT / "tests" / "data" / "digits" / "accuracy.json").read_text())
    correct = round(recorded["accuracy"]["akida"] * recorded["n_test"])
    assert out.stdout.split() == [str(n_rules), "True", str(n_notebooks), "True", "True", str(recorded["n_test"]),
                                  str(correct)]


def _bash_blocks(text):
    import re

    return re.findall(r"```bash\n(.*?)\n```", text, re.S)


def test_readme_commands_match_ci_and_data():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    main_job, test_cmd = _bash_blocks(readme)[:2]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    ci_cmd = ci.split("# --- begin README test command\n")[1].split("\n# --- end README test command")[0]
    assert ci_cmd.strip() == test_cmd.strip()
    model = main_job.split("check ")[1].split()[0]
    assert (ROOT / model).is_file()
    assert "-c constraints.txt" in main_job and (ROOT / "constraints.txt").is_file()
