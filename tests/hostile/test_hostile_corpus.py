"""The hostile-input corpus of issue 11: every case answers with a normal result or one bounded akida_nb error.

API cases run in a forked child of a worker process, CLI cases as ``akida-nb`` subprocesses, each under a
30 s kill time and a 2 GB address-space limit (hang and blow-up detectors, not timings). All selected cases
run once, concurrently, in a session fixture; each parametrised test then judges its own case. Ids name the
area that must answer (see ``hostile_cases``). Set ``HOSTILE_SUMMARY=FILE`` to write every outcome as JSON.
"""
from __future__ import annotations

import json
import os
import queue
from concurrent.futures import ThreadPoolExecutor

import hostile_cases
import pytest
from hostile_cases import CASES
from hostile_runner import Outcome, Worker, run_cli

API_IDS = sorted(c.id for c in CASES.values() if c.kind == "api")
CLI_IDS = sorted(c.id for c in CASES.values() if c.kind == "cli")
WORKERS = 2


def _selected(session) -> list[str]:
    ids = []
    for item in session.items:
        spec = getattr(item, "callspec", None)
        if spec is not None and item.module.__name__ == __name__ and "case_id" in spec.params:
            ids.append(spec.params["case_id"])
    return ids


@pytest.fixture(scope="session")
def outcomes(request, tmp_path_factory) -> dict[str, Outcome]:
    ids = _selected(request.session)
    base = tmp_path_factory.mktemp("hostile")
    workers: queue.Queue = queue.Queue()
    for _ in range(min(WORKERS, sum(CASES[i].kind == "api" for i in ids)) or 0):
        workers.put(Worker())

    def run(case_id: str) -> Outcome:
        case = CASES[case_id]
        directory = base / case_id
        if case.kind == "cli":
            directory.mkdir()
            hostile_cases.populate(case, directory)
            return run_cli(list(case.argv), directory, case.output)
        worker = workers.get()
        try:
            return worker.run({"case": case_id, "dir": str(directory), "output": case.output})
        finally:
            workers.put(worker)

    with ThreadPoolExecutor(max_workers=WORKERS + 2) as pool:
        # slow CLI subprocesses first, so that they overlap with the in-process cases
        order = sorted(ids, key=lambda i: CASES[i].kind != "cli")
        results = dict(zip(order, pool.map(run, order)))
    while not workers.empty():
        workers.get().close()
    summary = os.environ.get("HOSTILE_SUMMARY")
    if summary:
        with open(summary, "w", encoding="utf-8") as f:
            json.dump({k: [v.status, v.kind, v.detail, v.extra.get("code")] for k, v in sorted(results.items())},
                      f, indent=1)
    return results


@pytest.mark.parametrize("case_id", API_IDS)
def test_api_case(case_id, outcomes):
    outcome = outcomes[case_id]
    assert not outcome.failed, f"{case_id}: {outcome}"


@pytest.mark.parametrize("case_id", CLI_IDS)
def test_cli_case(case_id, outcomes):
    case, outcome = CASES[case_id], outcomes[case_id]
    assert not outcome.failed, f"{case_id}: {outcome}"
    code = outcome.extra["code"]
    if case.must_raise:
        assert code == 2, f"{case_id}: exit {code} where bad input (2) was expected"
    for needle in case.stdout_must_not:
        assert needle.encode() not in outcome.extra["stdout"], f"{case_id}: stdout holds {needle!r}"


def test_cli_cases_stay_under_100():
    assert 0 < len(CLI_IDS) <= 100
