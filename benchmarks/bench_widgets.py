"""Time one update of each dashboard: the Explorer's target switch and fix toggle must stay under 100 ms.

Usage::

    python benchmarks/bench_widgets.py [--model NAME] [--repeats 15]

By default the largest packaged example (most layers, then most output values) is used.
Each update is what happens when a user changes a control: setting ``.value`` runs the
dashboard's update synchronously (checks, fixes, HTML), so its wall time is the latency
before the browser receives the new HTML. Prints the median and the worst time per
update, in milliseconds, after one warm-up pass.
"""
from __future__ import annotations

import argparse
import statistics
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


if __name__ == "__main__":
    main()
