"""Time akida_nb's simulator on four example models against Akida's own engine when it is installed.

Usage::

    python benchmarks/bench_simulator.py [--batch 8] [--repeats 11] [--keep all|output|0,2] [--models ds_cnn_kws ...]
                                         [--load] [--sparsity 0.9] [--stream] [--profile]

Prints first the machine's float32 GEMM rate (a 2048×2048 product with numpy's default threads,
best of 5, FLOP = 2 × MAC). Then, for each model: seeded random variables
(``Simulator(model, seed=0)``), a batch of dense random inputs and a sparse one (``--sparsity``
of the pixels zero, as event data are), then ``--repeats`` rounds in which the engines take turns,
each a pause, untimed calls for 30 ms and 5 timed calls back to back (:func:`paired_seconds`); the median:
samples/s and the effective GMAC/s (multiply-accumulates of the convolutions and dense layers per
second, also as a fraction of the GEMM rate). When BrainChip's ``akida`` package is
importable, the same model, variables and inputs run on its software engine too: its samples/s,
the ratio, and whether both outputs are equal.

``--load`` starts a spinner process pinned to one core for the whole run, so that both engines
are measured on a machine with a core busy. ``--stream`` times ``keep="output"`` on 100,000
DS-CNN samples against the batch figure and prints the peak RSS of runs of 1k, 10k and 100k
samples, each in a fresh subprocess. ``--profile`` prints, per layer, the time of the layer
(potentials and activation, one thread, CPU time) against its GEMM-bound time (its MACs at the
one-thread GEMM rate, also in CPU time).
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import statistics
import subprocess
import sys
import time
from functools import partial
from typing import Callable, Sequence

import numpy as np

import akida_nb as ak
from akida_nb.model import layer_macs, model_macs
from akida_nb.sim import Simulator

PAUSE = 0.03
"""Seconds of rest before each engine's burst of calls (see :func:`paired_seconds`): long enough for
the akida engine's OpenMP threads to stop spinning (measured: no CPU tick of theirs 10 ms after a
call), short enough that an idle virtual machine does not park its cores (measured on this 2-core
VM: after 0.2 s idle, VGG runs at 9 ms a batch for the next few calls, after 10–50 ms at 5.5 ms)."""
WARM = 0.03
"""Seconds of untimed calls before each engine's timed ones (see :func:`paired_seconds`)."""
MODELS = ("ds_cnn_kws", "vgg_utk_face", "gxnor_mnist", "akidanet_imagenet_a025_224")


def paired_seconds(runs: Sequence[Callable[[], object]], repeats: int, burst: int = 5) -> list[tuple[float, float]]:
    """Per run: median wall and CPU seconds (this process, all threads) of its timed calls.

    The runs take turns, ``repeats`` rounds of a burst each, so that all of them get the same share
    of a machine whose load changes from second to second. A burst is: a pause of :data:`PAUSE`
    seconds, untimed calls for at least :data:`WARM` seconds, then ``burst`` timed calls back to
    back. The pause lets the other engine settle: the akida engine's OpenMP threads spin for a while
    after each call (libgomp's default wait policy; measured: GX-NOR's CPU time 5.2 ms alone, 9.2
    ms right after an engine call). The untimed calls then wake this engine's caches and cores, the
    same time for both engines, and the timed calls measure it in its steady state, as a run over a
    data set sees it (measured: a single call right after a pause costs akida_nb 1.5–1.7× its
    steady time on VGG and AkidaNet, and the akida engine 1.0–1.25×).
    """
    for run in runs:
        run()
    times: list[list[tuple[float, float]]] = [[] for _ in runs]
    for _ in range(repeats):
        for run, spent in zip(runs, times):
            time.sleep(PAUSE)
            start = time.perf_counter()
            while time.perf_counter() - start < WARM:
                run()
            for _ in range(burst):
                cpu, start = time.process_time(), time.perf_counter()
                run()
                spent.append((time.perf_counter() - start, time.process_time() - cpu))
    return [(statistics.median(w for w, _ in spent), statistics.median(c for _, c in spent)) for spent in times]


def gemm_flops(threads: int | None = None) -> float:
    """FLOP/s of a 2048×2048 float32 matrix product, best of 5 (numpy's default threads unless given).

    With ``threads=1`` the time is this thread's CPU time, which other processes do not inflate.
    """
    from threadpoolctl import threadpool_limits

    a = np.random.default_rng(0).random((2048, 2048), dtype=np.float32)
    clock = time.thread_time if threads == 1 else time.perf_counter
    with threadpool_limits(threads):
        a @ a
        best = min(_seconds(lambda: a @ a, clock) for _ in range(5))
    return 2 * 2048 ** 3 / best


def _seconds(run: Callable[[], object], clock: Callable[[], float] = time.perf_counter) -> float:
    start = clock()
    run()
    return clock() - start


def inputs(model: ak.Model, batch: int, sparsity: float) -> np.ndarray:
    """Seeded random inputs; ``sparsity`` of the pixels (all channels of a cell) set to zero."""
    rng = np.random.default_rng(0)
    x = rng.integers(0, 1 << model.input_bits, (batch, *model.input_shape), dtype=np.uint8)
    if sparsity:
        x[rng.random(x.shape[:3]) < sparsity] = 0
    return x


def spin() -> None:
    """Keep one core busy (the ``--load`` spinner)."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    while True:
        pass


def profile(model: ak.Model, sim: Simulator, x: np.ndarray, flops: float, repeats: int) -> None:
    """Per layer, on one thread: time of potentials + activation against the GEMM-bound time.

    Both are this thread's CPU time (best of ``repeats``), so that other processes do not inflate them.
    """
    from threadpoolctl import threadpool_limits

    h = x
    with threadpool_limits(1):
        for prepared in sim._layers:  # the benchmark looks inside on purpose
            p = prepared.potential(h)
            t_p = min(_seconds(partial(prepared.potential, h), time.thread_time) for _ in range(repeats))
            t_a = min(_seconds(partial(prepared.activation, p), time.thread_time) for _ in range(repeats))
            bound = 2 * layer_macs(prepared.layer) * len(x) / flops
            layer = prepared.layer
            print(f"    {layer.name:24s} {layer.type[:12]:12s} {fmt(layer.input_shape):>11s} -> "
                  f"{fmt(layer.output_shape):11s} potentials {t_p * 1e3:7.3f} ms  activation {t_a * 1e3:6.3f} ms  "
                  f"GEMM-bound {bound * 1e3:6.3f} ms  ×{(t_p + t_a) / bound:6.1f}")
            h = prepared.activation(p)


def stream_child(n: int) -> None:
    """Run ``keep="output"`` on ``n`` DS-CNN samples; print seconds and memory as JSON (``--stream``)."""
    model = ak.example("ds_cnn_kws")
    sim = Simulator(model, seed=0)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 1 << model.input_bits, (n, *model.input_shape), dtype=np.uint8)
    sim.run(x[:8], keep="output")
    before = _reset_peak_rss()
    start = time.perf_counter()
    out = sim.run(x, keep="output")
    seconds = time.perf_counter() - start
    peak = _peak_rss()
    result = out.output.nbytes + out.events_per_sample.nbytes + (0 if out.predict is None else out.predict.nbytes)
    print(json.dumps(dict(n=n, seconds=seconds, peak=peak, before=before, input=x.nbytes, result=result)))


def _reset_peak_rss() -> int:
    """The resident set size now, after resetting the process's peak to it where Linux allows it.

    Writing 5 to ``/proc/self/clear_refs`` resets ``VmHWM``: the peak then measures the run alone,
    not the imports before it (the compiled loops' libraries alone are ~170 MiB resident).
    """
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return _status_bytes("VmRSS")
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _peak_rss() -> int:
    try:
        return _status_bytes("VmHWM")
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _status_bytes(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise OSError(field)


def stream(batch_rate: float | None) -> None:
    mib = 1 << 20
    print("\nkeep='output' streaming, ds_cnn_kws (each size in a fresh process; RSS = resident set size):")
    for n in (1_000, 10_000, 100_000):
        child = subprocess.run([sys.executable, __file__, "--stream-child", str(n)], capture_output=True, text=True,
                               check=True)
        r = json.loads(child.stdout.strip().splitlines()[-1])
        rate = n / r["seconds"]
        vs = f" ({rate / batch_rate:4.2f}× the batch figure)" if batch_rate else ""
        print(f"  {n:>7,} samples: {rate:8.0f} samples/s{vs}; peak RSS {r['peak'] / mib:6.1f} MiB, of which "
              f"inputs {r['input'] / mib:5.1f} MiB and results {r['result'] / mib:5.1f} MiB; the rest "
              f"{(r['peak'] - r['input'] - r['result']) / mib:6.1f} MiB (RSS before the run {r['before'] / mib:6.1f}, "
              f"so the run added {(r['peak'] - r['before']) / mib:5.1f} MiB at its peak)")


def akida_model(model: ak.Model, variables: list[dict[str, np.ndarray]]):
    """The same model and variables as an ``akida.Model`` of v1 layers (needs the akida package)."""
    import akida

    padding = {"same": akida.Padding.Same, "valid": akida.Padding.Valid}
    pools = {"none": akida.PoolType.NoPooling, "max": akida.PoolType.Max, "average": akida.PoolType.Average}
    out = akida.Model()
    if model.layers[0].type != "InputConvolutional":
        out.add(akida.InputData(input_shape=model.input_shape, input_bits=model.input_bits))
    for layer, v in zip(model.layers, variables):
        common = dict(name=layer.name, weights_bits=layer.weights_bits, activation=layer.activation,
                      act_bits=layer.act_bits)
        if layer.type == "FullyConnected":
            ak_layer = akida.FullyConnected(units=layer.units, **common)
        else:
            conv = dict(kernel_size=layer.kernel_size, filters=layer.filters, kernel_stride=layer.kernel_stride,
                        padding=padding[str(layer.padding)], pool_type=pools[str(layer.pool_type)], **common)
            if layer.pool_type == "max":
                conv.update(pool_size=layer.pool_size, pool_stride=layer.pool_stride)
            if layer.type == "InputConvolutional":
                ak_layer = akida.InputConvolutional(input_shape=model.input_shape,
                                                    padding_value=layer.padding_value, **conv)
            else:
                ak_layer = getattr(akida, layer.type)(**conv)
        out.add(ak_layer)
        for key, value in v.items():
            ak_layer.set_variable(key, value)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=11, help="rounds in which the engines take turns")
    parser.add_argument("--keep", default="output", type=keep_arg,
                        help="what each run keeps: output (the default: what the engine's forward returns), all, "
                             "or comma-separated layer indices")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=ak.examples())
    parser.add_argument("--sparsity", type=float, default=0.9, help="share of zero pixels in the sparse input set")
    parser.add_argument("--load", action="store_true", help="keep one core busy with a spinner process")
    parser.add_argument("--stream", action="store_true", help="keep='output' on 1k/10k/100k DS-CNN samples")
    parser.add_argument("--profile", action="store_true", help="per-layer time against the GEMM-bound time")
    parser.add_argument("--stream-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stream_child:
        stream_child(args.stream_child)
        return
    try:
        import akida
    except ImportError:
        akida = None
    spinner = None
    if args.load:
        spinner = multiprocessing.get_context("spawn").Process(target=spin, daemon=True)
        spinner.start()
    try:
        run(args, akida)
    finally:
        if spinner is not None:
            spinner.terminate()
            spinner.join()


def run(args: argparse.Namespace, akida) -> None:
    flops = gemm_flops()
    print(f"batch {args.batch}, keep {args.keep}, median of {args.repeats} rounds × 5 calls; "
          f"{'LOAD: a spinner keeps one core busy; ' if args.load else ''}{os.cpu_count()} CPUs; "
          f"akida engine: {akida.__version__ if akida else 'not installed'}")
    print(f"float32 GEMM 2048×2048 (numpy's default threads, best of 5): {flops / 1e9:.1f} GFLOP/s")
    flops1 = gemm_flops(1) if args.profile else flops
    if args.profile:
        print(f"float32 GEMM 2048×2048 on one thread (CPU time, best of 5): {flops1 / 1e9:.1f} GFLOP/s")
    batch_rate = None
    for name in args.models:
        model = ak.example(name)
        sim = Simulator(model, seed=0)
        engine = None
        for label, sparsity in (("dense", 0.0), (f"{args.sparsity:.0%} zero", args.sparsity)):
            x = inputs(model, args.batch, sparsity)
            runs: list[Callable[[], object]] = [partial(sim.run, x, keep=args.keep)]
            note = ""
            if akida is not None:
                try:
                    engine = engine or akida_model(model, sim.variables)
                    same = np.array_equal(engine.forward(x), sim.run(x).output)
                    runs.append(partial(engine.forward, x))
                except Exception as e:  # the engine refuses some models or variables: say so, keep timing ours
                    note = f" | akida: {type(e).__name__}: {e}"
            if args.keep != "all" and not sparsity:  # what keeping every layer's results costs, timed alongside
                runs.append(partial(sim.run, x, keep="all"))
            timed = paired_seconds(runs, args.repeats)
            seconds, cpu = timed[0]
            rate = args.batch / seconds
            if name == "ds_cnn_kws" and not sparsity:
                batch_rate = rate
            gmacs = model_macs(model) * rate / 1e9
            line = (f"{name:28s} {label:9s}: {rate:7.0f} samples/s {seconds * 1e3:7.1f} ms/batch "
                    f"{gmacs:6.2f} GMAC/s ({2 * gmacs * 1e9 / flops:4.0%} of GEMM)")
            engine_seconds = None
            if len(runs) > 1 and not note and akida is not None:
                engine_seconds, engine_cpu = timed[1]
                line += (f" | akida {args.batch / engine_seconds:6.0f} samples/s; ours/akida "
                         f"{engine_seconds / seconds:5.2f}× (CPU time {engine_cpu / cpu:5.2f}×); outputs equal: {same}")
            print(line + note, flush=True)
            if args.keep != "all" and not sparsity:
                all_seconds = timed[-1][0]
                versus = f"; ours/akida {engine_seconds / all_seconds:5.2f}×" if engine_seconds else ""
                print(f"{'':28s} {'keep=all':9s}: {args.batch / all_seconds:7.0f} samples/s "
                      f"{all_seconds * 1e3:7.1f} ms/batch (every layer's potentials and outputs kept){versus}",
                      flush=True)
        if args.profile:
            profile(model, sim, inputs(model, args.batch, 0.0), flops1, args.repeats)
    if args.stream:
        stream(batch_rate)


def keep_arg(text: str) -> str | list[int]:
    """``--keep``: ``all``, ``output`` or comma-separated layer indices."""
    if text in ("all", "output"):
        return text
    try:
        return [int(i) for i in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected all, output or layer indices like 0,2; got {text!r}") from None


def fmt(shape: tuple[int, ...]) -> str:
    return "×".join(map(str, shape))


if __name__ == "__main__":
    main()
