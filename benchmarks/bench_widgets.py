"""Time every interaction a notebook user waits for: each must stay under 100 ms.

Usage::

    python benchmarks/bench_widgets.py [--model NAME] [--repeats 15]

Besides the dashboards' updates below, it times ``ak.check`` followed by the report's HTML for the
largest example and for a 500-layer model, and, in a fresh Python process (a new kernel), the
Explorer's creation and its first target switch and first fix toggle.

By default the largest packaged example (most layers, then most output values) is used.
Each update is what happens when a user changes a control: setting ``.value`` runs the
dashboard's update synchronously (checks, fixes, HTML), so its wall time is the latency
before the browser receives the new HTML. Prints the median and the worst time per
update, in milliseconds, after one warm-up pass.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from typing import Callable, Iterable

import akida_nb as ak

BUDGET_MS = 100.0


def largest_example() -> str:
    """The example with the most layers (ties: the most output values)."""
    def size(name: str) -> tuple[int, int]:
        model = ak.example(name)
        return len(model.layers), sum(d0 * d1 * c for d0, d1, c in (l.output_shape for l in model.layers))

    return max(ak.examples(), key=size)


def timed(steps: Iterable[Callable[[], object]], repeats: int) -> list[float]:
    """Milliseconds of each step, over ``repeats`` passes after one warm-up pass."""
    steps = list(steps)
    for step in steps:
        step()
    times = []
    for _ in range(repeats):
        for step in steps:
            start = time.perf_counter()
            step()
            times.append((time.perf_counter() - start) * 1000)
    return times


def setter(widget, value) -> Callable[[], None]:
    def step() -> None:
        widget.value = value

    return step


def long_model(layers: int = 500) -> ak.Model:
    """A chain of ``layers`` small 3×3 convolutions (a stress case for check and the HTML report)."""
    conv = {"type": "Convolutional", "kernel_size": 3, "filters": 8, "padding": "same", "weights_bits": 4,
            "act_bits": 4}
    return ak.Model.from_dict({"name": f"chain_{layers}", "input": {"shape": [16, 16, 8], "bits": 4},
                               "layers": [dict(conv, name=f"conv_{i}") for i in range(layers)]})


FRESH = """
import json, time
start = time.perf_counter()
import akida_nb as ak
imported = time.perf_counter()
ex = ak.widgets.Explorer(ak.example({name!r}))
built = time.perf_counter()
ex.target.value = ("nsoc_v1",)
switched = time.perf_counter()
box = next(iter(ex.fix_checks.values()), None)
if box is not None:
    box.value = True
toggled = time.perf_counter()
print(json.dumps(dict(imp=imported - start, build=built - imported, switch=switched - built,
                      toggle=toggled - switched if box is not None else None)))
"""


def fresh_kernel(name: str) -> dict:
    """Seconds of the first interactions in a new process: import, Explorer, first switch, first toggle."""
    child = subprocess.run([sys.executable, "-c", FRESH.format(name=name)], capture_output=True, text=True,
                           check=True)
    return json.loads(child.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="example name (default: the largest)")
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    name = args.model or largest_example()
    model = ak.example(name)

    ex = ak.widgets.Explorer(model)
    switch = [setter(ex.target, value) for _, value in ex.target.options]
    ex.target.value = ("nsoc_v1",)
    toggles = [setter(box, state) for box in ex.fix_checks.values() for state in (True, False)]
    ex.target.value = ak.widgets.SIDE_BY_SIDE
    all_on = [setter(box, True) for box in ex.fix_checks.values()]
    all_off = [setter(box, False) for box in ex.fix_checks.values()]
    pg = ak.widgets.Playground()
    playground = [setter(pg.controls["kernel"], k) for k in (1, 3, 4, 5, 7)]
    playground += [setter(pg.controls["pool_type"], p) for p in ("max", "average", "none")]
    cb = ak.widgets.ConstraintBrowser()
    browser = [setter(cb.layer_type, t) for t in cb.layer_type.options]

    rows = [("Explorer: target switch", timed(switch, args.repeats)),
            ("Explorer: fix toggle (one target)", timed(toggles, args.repeats) if toggles else []),
            ("Explorer: fix toggle (side by side, cumulative)",
             timed(all_on + all_off, args.repeats) if all_on else []),
            ("Playground: control change", timed(playground, args.repeats)),
            ("ConstraintBrowser: layer-type filter", timed(browser, args.repeats))]
    chain = long_model()
    for label, m in ((f"check + HTML report: {name}", model), ("check + HTML report: 500-layer chain", chain)):
        rows.append((label, timed([lambda m=m: ak.check(m, "nsoc_v1")._repr_html_(),
                                   lambda m=m: ak.check(m, "akd1000")._repr_html_()], args.repeats)))
    print(f"model {name!r}: {len(model.layers)} layers; fixes offered on nsoc_v1: {len(toggles) // 2}; "
          f"{args.repeats} passes after a warm-up")
    print(f"{'update':<50} {'n':>5} {'median ms':>10} {'max ms':>8}  budget {BUDGET_MS:g} ms")
    for label, times in rows:
        if not times:
            print(f"{label:<50} {0:>5} {'—':>10} {'—':>8}  (no fix applies)")
            continue
        median = statistics.median(times)
        flag = "ok" if median < BUDGET_MS else "OVER"
        print(f"{label:<50} {len(times):>5} {median:>10.1f} {max(times):>8.1f}  {flag}")
    runs = [fresh_kernel(name) for _ in range(3)]
    print(f"in a fresh process (a new kernel), median of {len(runs)}: import akida_nb "
          f"{statistics.median(r['imp'] for r in runs) * 1000:.0f} ms, Explorer created "
          f"{statistics.median(r['build'] for r in runs) * 1000:.0f} ms (the cell that shows it)")
    for key, label in (("switch", "Explorer: first target switch"), ("toggle", "Explorer: first fix toggle")):
        values = [r[key] * 1000 for r in runs if r[key] is not None]
        if values:
            median = statistics.median(values)
            print(f"{label + ' (fresh kernel)':<50} {len(values):>5} {median:>10.1f} {max(values):>8.1f}  "
                  f"{'ok' if median < BUDGET_MS else 'OVER'}")


if __name__ == "__main__":
    main()
