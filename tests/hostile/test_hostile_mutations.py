"""Hypothesis mutates valid native models, target files and Keras configs/archives and feeds them to the loaders.

Each example replaces, deletes, duplicates or adds one node of a valid file: deep nesting, huge integers,
special floats, wrong types, long lists, surrogates and control characters, template and HTML strings,
duplicate keys and (YAML) aliases and tags; special files (FIFO, /dev/zero, a directory …) take a
model's or target's name. The mutated file is loaded, checked on every target, rendered,
and given to the CLI (in process), in a forked child under the kill time and memory limit. Only a normal
result or one bounded akida_nb error is accepted; every example runs (no shrinking: the failures are
collected and reported together, at most a few per strategy so that hangs cannot eat the time budget).
The tests also count how many examples reach the loaders (at least 80 %).
"""
from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import pytest
import yaml
from hostile_runner import Worker
from hypothesis import HealthCheck, Phase, given, settings, strategies as st

REPO = Path(__file__).resolve().parents[2]
MODELS = sorted((REPO / "data" / "models").glob("*.json"))
TARGETS = sorted((REPO / "data" / "targets").glob("*.yaml"))
KERAS = sorted(p for p in (REPO / "tests" / "data" / "keras").glob("*.json") if p.name != "expected_akida_layers.json")
HOLE = "HOLEHOLEHOLE"
MAX_FAILURES = int(os.environ.get("HOSTILE_MAX_FAILURES", "3"))
REACH = 0.8
STATS: dict[str, dict[str, int]] = {}

LAUGHS = "[" + ", ".join(f"&l{i} [" + ", ".join([f"*l{i - 1}" if i else "lol"] * 9) + "]" for i in range(9)) + "]"

SCALARS = st.one_of(
    st.integers(100, 3000).map(lambda n: "[" * n + "]" * n),                      # deep nesting
    st.sampled_from([19, 20, 300, 4301, 6000]).map(lambda k: "9" * k),              # huge integers
    st.sampled_from(["-1", "0", "1", "2", "1e308", "-0.0", "NaN", "Infinity", "1.5", "null", "true", "false",
                     '"x"', "[]", "{}", '"same"', '"causal"', '"valid"', "-99999999999999999999"]),
    st.sampled_from([0, 1, 2, 3, 4, 1000, 100000]).map(lambda k: "[" + ", ".join(["7"] * k) + "]"),
    st.text(max_size=12).map(json.dumps),                                           # surrogates, control chars
    st.sampled_from(['"fc\\udfff"', '"a\\n\\u001b[32mCOMPATIBLE\\u001b[0m"', '"{name.__class__.__mro__}"',
                     '"$\\\\frac{$"', '"<script>alert(1)</script>"', '"\\u0000"', '"../../x"']),
)
YAML_ONLY = st.sampled_from([LAUGHS, "!!python/object/apply:os.system ['true']", "&r [1, *r]", "*nowhere",
                             "!!binary AAAA", "!!set {a, b}", "2001-12-14", "0o777", "0x_FF", ".nan"])


def _paths(obj, prefix=()):
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _paths(v, prefix + (i,))


def _get(obj, path):
    for k in path:
        obj = obj[k]
    return obj


def _set(obj, path, value):
    if not path:
        return value
    obj = copy.deepcopy(obj)
    parent = _get(obj, path[:-1])
    if value is _DELETE:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return obj


_DELETE = object()


@st.composite
def mutated(draw, bases, fmt):
    """``(text, description)``: one valid file of ``bases`` with one node mutated, dumped as ``fmt``."""
    path_file = draw(st.sampled_from(bases))
    raw = path_file.read_text(encoding="utf-8")
    obj = json.loads(raw) if fmt == "json" else yaml.safe_load(raw)
    paths = list(_paths(obj))
    path = draw(st.sampled_from(paths))
    node = _get(obj, path)
    ops = ["replace", "replace", "replace"]
    if path and isinstance(_get(obj, path[:-1]), dict):
        ops.append("delete")
    if isinstance(node, dict) and node:
        ops += ["duplicate", "unknown_key"]
    op = draw(st.sampled_from(ops))
    fragment = None
    if op == "replace":
        fragment = draw(st.one_of(SCALARS, YAML_ONLY) if fmt == "yaml" else SCALARS)
    elif op == "duplicate":
        key = draw(st.sampled_from(sorted(node, key=str)))
        value = draw(SCALARS)
        fragment = "{" + json.dumps(str(key)) + ": " + value + ", " + json.dumps(node)[1:]
    elif op == "unknown_key":
        fragment = '{"bogus": ' + draw(SCALARS) + ", " + json.dumps(node)[1:]
    if op == "delete":
        obj = _set(obj, path, _DELETE)
        text = json.dumps(obj) if fmt == "json" else yaml.safe_dump(obj, allow_unicode=True, sort_keys=False)
    else:
        obj = _set(obj, path, HOLE)
        text = json.dumps(obj) if fmt == "json" else yaml.safe_dump(obj, allow_unicode=True, sort_keys=False,
                                                                     width=10 ** 9)
        text = text.replace(f'"{HOLE}"' if fmt == "json" else HOLE, fragment, 1)
    where = "/".join(map(str, path)) or "(root)"
    return text, f"{path_file.name}: {op} {where} with {(fragment or '')[:60]!r}"


@pytest.fixture(scope="module")
def worker():
    w = Worker()
    yield w
    w.close()


def _fuzz(name, strategy, filename, mutation, examples, worker, tmp_path):
    stats = STATS.setdefault(name, {"generated": 0, "reached": 0, "loaded": 0})
    failures: list[str] = []

    @settings(max_examples=examples, deadline=None, database=None, derandomize=True, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(case=strategy, fmt=st.sampled_from(["text", "json", "html"]))
    def run(case, fmt):
        if len(failures) >= MAX_FAILURES:
            return
        stats["generated"] += 1
        request = {"format": fmt, "dir": str(tmp_path / f"{name}_{stats['generated']}")}
        if filename is None:  # a special file: case is (form, file name)
            form, fname = case
            description = f"{form} as {fname}"
            request.update(special=form, filename=fname, mutation="target" if fname == "t.yaml" else "model")
        else:
            text, description = case
            request.update(data=text.encode("utf-8", "surrogatepass"), filename=filename, mutation=mutation)
        outcome = worker.run(request)
        stats["reached"] += outcome.reached
        stats["loaded"] += bool(outcome.extra.get("loaded"))
        if outcome.failed:
            failures.append(f"{description} -> {outcome}")
            stats[outcome.status] = stats.get(outcome.status, 0) + 1

    run()
    log = os.environ.get("HOSTILE_MUTATION_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as f:
            f.write(json.dumps({"strategy": name, "stats": stats, "failures": failures}) + "\n")
    assert stats["reached"] >= REACH * stats["generated"] > 0, stats
    assert not failures, f"{len(failures)} hostile inputs misbehaved:\n" + "\n".join(failures)


def test_mutated_native_json(worker, tmp_path):
    _fuzz("native_json", mutated(MODELS, "json"), "m.json", "model", 30, worker, tmp_path)


def test_mutated_native_yaml(worker, tmp_path):
    _fuzz("native_yaml", mutated(MODELS, "yaml"), "m.yaml", "model", 20, worker, tmp_path)


def test_mutated_target_yaml(worker, tmp_path):
    _fuzz("target_yaml", mutated(TARGETS, "yaml"), "t.yaml", "target", 20, worker, tmp_path)


def test_mutated_keras_json(worker, tmp_path):
    _fuzz("keras_json", mutated(KERAS, "json"), "k.json", "model", 15, worker, tmp_path)


def test_mutated_keras_archive(worker, tmp_path):
    _fuzz("keras_archive", mutated(KERAS, "json"), "k.keras", "model", 10, worker, tmp_path)


def test_special_files(worker, tmp_path):
    """A FIFO, /dev/zero, a directory … named like a model or target file."""
    from hostile_cases import SPECIAL_FILES

    strategy = st.tuples(st.sampled_from(sorted(SPECIAL_FILES)), st.sampled_from(["m.json", "m.yaml", "m.keras",
                                                                                  "t.yaml"]))
    _fuzz("special", strategy, None, None, 12, worker, tmp_path)


def test_mutations_reach_the_loaders():
    """Across the strategies that ran, at least 80 % of the generated examples got into the loader call."""
    if not STATS:
        pytest.skip("no mutation test ran in this session")
    generated = sum(s["generated"] for s in STATS.values())
    reached = sum(s["reached"] for s in STATS.values())
    print(f"mutation statistics: {STATS}")
    assert generated > 0 and reached >= REACH * generated, STATS
