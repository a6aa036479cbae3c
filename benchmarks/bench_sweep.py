"""Throughput of design-space sweeps and dataset evaluation: in this process, on 1 and on 2 local Dask workers.

Usage::

    python benchmarks/bench_sweep.py [--variants 2000] [--targets nsoc_v2 akd1000] [--samples 8192]
                                     [--workers 1 2] [--big 0] [--skip-sweep] [--skip-dataset]

Sweep: ``--variants`` variants sampled (seed 0) from a ds_cnn_kws space, checked against ``--targets``;
throughput in rows (variants × targets) per second. Dataset: ``ak.evaluate`` of ds_cnn_kws (seeded random
variables) over ``--samples`` random inputs, in samples per second. Each Dask configuration is a
``LocalCluster`` of N single-threaded worker processes on 127.0.0.1, started (and warmed up with a small
run) before the clock starts. ``--big N`` adds an end-to-end sweep of N variants on the largest worker
count (cluster start included). Needs the ``dask`` extra for the cluster rows.

The machine is shared with other jobs: figures are noisy; run twice and compare.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import akida_nb as ak


def space(n: int) -> ak.Space:
    full = ak.Space(ak.example("ds_cnn_kws"), weights_bits=[1, 2, 4], act_bits=[1, 2, 4],
                    types={"SeparableConvolutional": {"filters": list(range(16, 1025, 16)), "kernel_size": [3, 5, 7],
                                                      "padding": ["same", "valid"], "kernel_stride": [1, 2]}},
                    layers={"conv_0": {"filters": [16, 32, 48, 64], "kernel_stride": [1, 2]},
                            "dense_5": {"units": [10, 12, 33]}})  # 165,888 variants
    return full.sample(n, seed=0)


def cluster(n: int):
    from distributed import Client, LocalCluster

    c = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
                     dashboard_address="127.0.0.1:0")
    return c, Client(c)


def timed(fn) -> tuple[float, object]:
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def bench_sweep(args) -> None:
    s = space(args.variants)
    rows = len(s) * len(args.targets)
    warm = space(20)
    ak.sweep(warm, args.targets, progress=False)
    seconds, ref = timed(lambda: ak.sweep(s, args.targets, progress=False))
    print(f"sweep: {len(s)} variants × {len(args.targets)} targets = {rows} rows")
    print(f"  in-process          {seconds:8.1f} s  {rows / seconds:8.1f} rows/s  1.00×")
    base = rows / seconds
    for n in args.workers:
        c, client = cluster(n)
        try:
            ak.sweep(warm, args.targets, client=client, progress=False)
            seconds, df = timed(lambda client=client: ak.sweep(s, args.targets, client=client, progress=False))
            same = df.equals(ref)
            print(f"  {n} worker{'s' if n > 1 else ' '} (dask)     {seconds:8.1f} s  {rows / seconds:8.1f} rows/s  "
                  f"{rows / seconds / base:4.2f}×  same frame: {same}")
        finally:
            client.close()
            c.close()


def bench_dataset(args) -> None:
    model = ak.example("ds_cnn_kws")
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (args.samples, *model.input_shape), dtype=np.uint8)
    y = rng.integers(0, 33, args.samples)
    ak.evaluate(model, x[:256], labels=y[:256], progress=False)
    print(f"dataset: ds_cnn_kws, {args.samples} samples, batch {args.batch}")
    seconds, ref = timed(lambda: ak.evaluate(model, x, labels=y, batch_size=args.batch, progress=False))
    print(f"  in-process          {seconds:8.1f} s  {args.samples / seconds:8.0f} samples/s  1.00×")
    base = args.samples / seconds
    for n in args.workers:
        c, client = cluster(n)
        try:
            ak.evaluate(model, x[:256], labels=y[:256], client=client, progress=False)
            seconds, out = timed(lambda client=client: ak.evaluate(
                model, x, labels=y, client=client, batch_size=args.batch, progress=False))
            print(f"  {n} worker{'s' if n > 1 else ' '} (dask)     {seconds:8.1f} s  {args.samples / seconds:8.0f} "
                  f"samples/s  {args.samples / seconds / base:4.2f}×  same result: {out == ref}")
        finally:
            client.close()
            c.close()


def bench_big(args) -> None:
    n = max(args.workers)
    s = space(args.big)
    t = time.perf_counter()
    c, client = cluster(n)
    try:
        df = ak.sweep(s, args.targets, client=client, progress=False)
    finally:
        client.close()
        c.close()
    seconds = time.perf_counter() - t
    print(f"end to end: {len(s)} variants × {len(args.targets)} targets on {n} workers (cluster start included): "
          f"{seconds:.0f} s, {len(df) / seconds:.0f} rows/s, {int(df['ok'].sum())} rows fit, "
          f"{int(df['error'].notna().sum())} invalid")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--variants", type=int, default=2000)
    p.add_argument("--targets", nargs="+", default=["nsoc_v2", "akd1000"])
    p.add_argument("--samples", type=int, default=8192)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    p.add_argument("--big", type=int, default=0, help="variants of an end-to-end sweep (0: none)")
    p.add_argument("--skip-sweep", action="store_true")
    p.add_argument("--skip-dataset", action="store_true")
    args = p.parse_args()
    if not args.skip_sweep:
        bench_sweep(args)
    if not args.skip_dataset:
        bench_dataset(args)
    if args.big:
        bench_big(args)


if __name__ == "__main__":
    main()
