"""Time akida_nb's simulator on four example models (and Akida's own engine when it is installed).

Usage::

    python benchmarks/bench_simulator.py [--batch 8] [--repeats 7] [--keep all|output|0,2] [--models ds_cnn_kws ...]

For each model: seeded random variables (``Simulator(model, seed=0)``), a batch of random
inputs, one warm-up run, then the median of ``--repeats`` timed runs. Prints samples/s and
the effective GMAC/s (multiply-accumulates of the convolutions and dense layers per second).
``--keep`` is passed to ``Simulator.run`` (``all``, the default; ``output``; or comma-separated
layer indices): with ``output`` and a large ``--batch``, the run streams in chunks.
When BrainChip's ``akida`` package is importable, the same model, variables and inputs run on
its software engine too: its samples/s, the ratio, and whether both outputs are equal.
On a machine where other processes keep cores busy, set ``OPENBLAS_NUM_THREADS=1`` (see README.md).
"""
from __future__ import annotations

import argparse
import os
import statistics
import time
from functools import partial
from typing import Callable

import numpy as np

import akida_nb as ak
from akida_nb.sim import Simulator

MODELS = ("ds_cnn_kws", "vgg_utk_face", "gxnor_mnist", "akidanet_imagenet_a025_224")


def macs_per_sample(model: ak.Model) -> int:
    """Multiply-accumulates of one sample through every layer (pooling and activations not counted)."""
    total = 0
    for layer in model.layers:
        d0, d1, c = layer.input_shape
        if layer.type == "FullyConnected":
            total += d0 * d1 * c * layer.units
            continue
        o0, o1, f = layer.conv_shape
        k = layer.kernel_size[0] * layer.kernel_size[1]
        total += o0 * o1 * (k * c + c * f if layer.type == "SeparableConvolutional" else k * c * f)
    return total


def median_seconds(run: Callable[[], object], repeats: int) -> float:
    run()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


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
                        padding=padding[layer.padding], pool_type=pools[layer.pool_type], **common)
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
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--keep", default="all", type=keep_arg,
                        help="what each run keeps: all, output, or comma-separated layer indices")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=ak.examples())
    args = parser.parse_args()
    try:
        import akida
    except ImportError:
        akida = None
    print(f"batch {args.batch}, keep {args.keep}, median of {args.repeats} runs; OPENBLAS_NUM_THREADS="
          f"{os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}; akida engine: "
          f"{akida.__version__ if akida else 'not installed'}")
    for name in args.models:
        model = ak.example(name)
        sim = Simulator(model, seed=0)
        x = np.random.default_rng(0).integers(0, 1 << model.input_bits, (args.batch, *model.input_shape),
                                              dtype=np.uint8)
        seconds = median_seconds(partial(sim.run, x, keep=args.keep), args.repeats)
        rate = args.batch / seconds
        gmacs = macs_per_sample(model) * rate / 1e9
        line = (f"{name:28s} {fmt(model.input_shape)}: {rate:8.0f} samples/s  {seconds * 1e3:7.1f} ms/batch  "
                f"{gmacs:6.2f} GMAC/s")
        if akida is not None:
            try:
                engine = akida_model(model, sim.variables)
                engine_seconds = median_seconds(partial(engine.forward, x), args.repeats)
                same = np.array_equal(engine.forward(x), sim.run(x).output)
                line += (f"  | akida {args.batch / engine_seconds:8.0f} samples/s, ours/akida "
                         f"{engine_seconds / seconds:5.2f}×, outputs equal: {same}")
            except Exception as e:  # the engine refuses some models or variables: say so, keep timing ours
                line += f"  | akida: {type(e).__name__}: {e}"
        print(line)


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
