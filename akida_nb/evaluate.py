"""Dataset simulation: :func:`evaluate` streams a data set through the bit-exact simulator and aggregates.

The data set is a numpy array ``(N, d0, d1, C)``, a ``dask.array`` chunked along samples, or an
iterable of batches (arrays, or ``(x, y)`` pairs with their labels). Each batch runs with
``Simulator.run(x, keep="output")`` and leaves only sums: events per layer, counts of output
values and of predicted classes, correct predictions. Sums do not depend on the order or on the
batching, so the result is the same, value for value, in this process or on a
``dask.distributed`` ``Client``, whatever the chunks. Workers receive the model as a plain dict of
the native format and the variables as numpy arrays.

Examples
--------
>>> import numpy as np
>>> import akida_nb as ak
>>> x = np.random.default_rng(0).integers(0, 256, (20, 28, 28, 1), dtype=np.uint8)
>>> y = np.arange(20) % 10
>>> out = ak.evaluate(ak.example("gxnor_mnist"), x, labels=y, progress=False)
>>> out.samples, list(out.events.columns)
(20, ['layer', 'events', 'possible', 'sparsity'])
>>> out == ak.evaluate(ak.example("gxnor_mnist"), (x[i:i + 7] for i in range(0, 20, 7)), labels=y, progress=False)
True
"""
from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import SimulationError, SpecError, brief
from .model import Model, ensure_model

__all__ = ["Evaluation", "evaluate"]

BATCH_SIZE = 256
"""Samples per task (and per streamed batch of a numpy array) unless ``batch_size=`` says otherwise."""


@dataclass(frozen=True)
class Evaluation:
    """What :func:`evaluate` aggregated over a data set (two runs are equal when every sum is).

    Attributes
    ----------
    model_name : str
    samples : int
    layers : tuple of str
        Layer names, in order.
    layer_events : tuple of int
        Non-zero outputs of each layer over the data set.
    layer_possible : tuple of int
        Output values of each layer over the data set (samples × output size).
    class_counts : tuple of int
        How often each output position was the prediction (the arg-max of ``predict``, or of the
        output when the last layer has an activation; ties go to the first).
    output_counts : tuple of (int, int)
        ``(value, count)`` of every value of the model's output, by value.
    correct : int or None
        Correct predictions, when labels were given.

    Examples
    --------
    >>> import numpy as np
    >>> import akida_nb as ak
    >>> out = ak.evaluate(ak.example("ds_cnn_kws"), np.zeros((3, 49, 10, 1), np.uint8), progress=False)
    >>> out.samples, out.accuracy, len(out.class_counts)
    (3, None, 33)
    """

    model_name: str
    samples: int
    layers: tuple[str, ...]
    layer_events: tuple[int, ...]
    layer_possible: tuple[int, ...]
    class_counts: tuple[int, ...]
    output_counts: tuple[tuple[int, int], ...]
    correct: int | None

    @property
    def accuracy(self) -> float | None:
        """Fraction of correct predictions (None without labels)."""
        return None if self.correct is None or not self.samples else self.correct / self.samples

    @property
    def events(self):
        """DataFrame, one row per layer: ``layer``, ``events``, ``possible``, ``sparsity`` (as a run's ``events``)."""
        import pandas as pd

        events = np.array(self.layer_events, np.int64)
        possible = np.array(self.layer_possible, np.int64)
        return pd.DataFrame({"layer": list(self.layers), "events": events, "possible": possible,
                             "sparsity": 1 - events / np.maximum(possible, 1)})

    @property
    def sparsity(self):
        """Series by layer name: the fraction of each layer's outputs that are zero."""
        return self.events.set_index("layer")["sparsity"]

    @property
    def histogram(self):
        """Series: count of each value of the model's output over the data set, by value."""
        import pandas as pd

        return pd.Series(dict(self.output_counts), name="count", dtype="int64").rename_axis("value")

    @property
    def predictions(self):
        """Series: how often each class (output position) was predicted."""
        import pandas as pd

        return pd.Series(self.class_counts, name="predicted", dtype="int64").rename_axis("class")

    def __repr__(self) -> str:
        total, possible = sum(self.layer_events), sum(self.layer_possible)
        acc = f", accuracy {self.accuracy:.1%}" if self.accuracy is not None else ""
        sparse = f", {1 - total / possible:.1%} sparse" if possible else ""
        return f"Evaluation({self.model_name!r}, {self.samples} samples{acc}{sparse})"


# ---------------------------------------------------------------------------- one batch
def _worker_partial(shared: tuple[Mapping[str, Any], Sequence[Mapping[str, np.ndarray]]], x: Any,
                    y: Any = None) -> dict[str, Any]:
    """:func:`_partial` on a Dask worker: the simulator uses the worker's threads, not every core of the host."""
    from distributed import get_worker

    from .sim import kernels

    kernels.DEFAULT_WORKERS = get_worker().state.nthreads
    return _partial(shared, x, y)


def _partial(shared: tuple[Mapping[str, Any], Sequence[Mapping[str, np.ndarray]]], x: Any,
             y: Any = None) -> dict[str, Any]:
    """The sums of one batch (runs anywhere: the model arrives as a native dict)."""
    from .sim import Simulator

    spec, variables = shared
    model = Model.from_dict(spec)
    res = Simulator(model, list(variables)).run(np.asarray(x), keep="output")
    n = res.events_per_sample.shape[0]
    scores = res.predict if res.predict is not None else res.output
    flat = np.asarray(scores).reshape(n, -1)
    predicted = np.argmax(flat, axis=1) if n else np.zeros(0, np.int64)
    values, counts = np.unique(np.asarray(res.output), return_counts=True)
    correct = None
    if y is not None:
        labels = np.asarray(y)
        if labels.shape != (n,):
            raise SpecError("labels", f"expected {n} labels for a batch of {n} samples, got shape {labels.shape}")
        if labels.dtype.kind not in "iu":
            raise SpecError("labels", f"expected integer class labels, got dtype {labels.dtype}")
        if n and not 0 <= int(labels.min()) <= int(labels.max()) < flat.shape[1]:
            raise SpecError("labels", f"a class label must be in [0, {flat.shape[1] - 1}] (the model's outputs), "
                                      f"got [{int(labels.min())}, {int(labels.max())}]")
        correct = int(np.count_nonzero(predicted == labels))
    return {"n": n, "events": res.events_per_sample.sum(axis=0).astype(np.int64),
            "classes": np.bincount(predicted, minlength=flat.shape[1]).astype(np.int64),
            "values": dict(zip(values.tolist(), counts.tolist())), "correct": correct}


class _Totals:
    def __init__(self, model: Model, labelled: bool):
        self.model, self.n, self.correct = model, 0, 0 if labelled else None
        self.events = np.zeros(len(model.layers), np.int64)
        self.classes = np.zeros(int(np.prod(model.output_shape)), np.int64)
        self.values: Counter[int] = Counter()

    def add(self, part: Mapping[str, Any]) -> int:
        self.n += part["n"]
        self.events += part["events"]
        self.classes += part["classes"]
        self.values.update(part["values"])
        if (self.correct is None) != (part["correct"] is None):
            raise SpecError("labels", "some batches have labels and others not")
        if self.correct is not None:
            self.correct += part["correct"]
        return int(part["n"])

    def result(self) -> Evaluation:
        sizes = [int(np.prod(layer.output_shape)) for layer in self.model.layers]
        return Evaluation(model_name=self.model.name, samples=self.n,
                          layers=tuple(layer.name for layer in self.model.layers),
                          layer_events=tuple(int(e) for e in self.events),
                          layer_possible=tuple(self.n * s for s in sizes),
                          class_counts=tuple(int(c) for c in self.classes),
                          output_counts=tuple(sorted((int(v), int(c)) for v, c in self.values.items())),
                          correct=self.correct)


# ---------------------------------------------------------------------------- batches
def _is_dask_array(obj: Any) -> bool:
    return type(obj).__module__.split(".")[:2] == ["dask", "array"] and hasattr(obj, "to_delayed")


def _labels_array(labels: Any, n: int | None) -> Any:
    if labels is None:
        return labels
    if _is_dask_array(labels):
        if labels.ndim != 1 or labels.dtype.kind not in "iu" or (n is not None and labels.shape[0] != n):
            raise SpecError("labels", f"expected {n if n is not None else 'one'} integer class labels "
                                      f"(a 1-D array), got a {labels.dtype} dask array of shape {labels.shape}")
        return labels
    arr = np.asarray(labels)
    if arr.ndim != 1 or arr.dtype.kind not in "iu" or (n is not None and len(arr) != n):
        raise SpecError("labels", f"expected {n if n is not None else 'one'} integer class labels "
                                  f"(a 1-D array), got {brief(labels)}")
    return arr


def _batches(dataset: Any, labels: Any, batch_size: int) -> Iterator[tuple[Any, Any]]:
    """``(x, y)`` batches of a numpy array, a dask array (its blocks) or an iterable of batches."""
    if isinstance(dataset, np.ndarray):
        y = _labels_array(labels, len(dataset) if dataset.ndim else None)
        for start in range(0, len(dataset), batch_size):
            yield dataset[start:start + batch_size], None if y is None else y[start:start + batch_size]
        return
    if _is_dask_array(dataset):
        data = dataset.rechunk({i: -1 for i in range(1, dataset.ndim)})
        y = _labels_array(labels, data.shape[0])
        if y is not None and _is_dask_array(y):
            y = y.rechunk((data.chunks[0],))
        offset = 0
        for i, size in enumerate(data.chunks[0]):
            block = data.blocks[i]
            lab = None if y is None else (y.blocks[i] if _is_dask_array(y) else y[offset:offset + size])
            offset += size
            yield block, lab
        return
    if isinstance(dataset, (str, bytes, Mapping)) or not isinstance(dataset, Iterable):
        raise SpecError("dataset", f"expected a numpy array, a dask array or an iterable of batches, "
                                   f"got {brief(dataset)}")
    y = _labels_array(labels, None)
    offset = 0
    for item in dataset:
        if isinstance(item, tuple):
            if len(item) != 2 or y is not None:
                raise SpecError("dataset", "a batch is an array or an (x, labels) pair (then no labels= argument)")
            yield item
            continue
        if _is_dask_array(item):
            size = item.shape[0] if item.ndim else None
        else:
            item = np.asarray(item) if not isinstance(item, np.ndarray) and _is_sequence(item) else item
            size = len(item) if isinstance(item, np.ndarray) and item.ndim else None
        if size is None or (isinstance(size, float) and math.isnan(size)):
            raise SpecError("dataset", f"a batch must be an array of samples (N, d0, d1, C), got {brief(item)}")
        yield item, None if y is None else y[offset:offset + size]
        offset += size
    if y is not None and offset != len(y):
        raise SpecError("labels", f"{len(y)} labels for {offset} samples")


def _is_sequence(item: Any) -> bool:
    return isinstance(item, Sequence) and not isinstance(item, (str, bytes))


def _shared(model: Model, variables: Any, seed: int):
    from .sim import Simulator

    sim = Simulator(model, variables, seed=seed)
    return model.to_dict(), tuple(sim.variables)


def evaluate(model: Model, dataset: Any, labels: Any = None, variables: Any = None, client: Any = None, *,
             seed: int = 0, batch_size: int | None = None, progress: bool = True) -> Evaluation:
    """Run a data set through the simulator: events and sparsity per layer, output histogram, accuracy.

    Parameters
    ----------
    model : Model
    dataset : ndarray (N, d0, d1, C), dask.array, or iterable of batches
        A dask array is taken block by block along samples (other axes are made whole); an
        iterable yields arrays, or ``(x, labels)`` pairs.
    labels : array of int (N,), optional
        The class of each sample (a dask array too); the prediction is the arg-max of the output.
    variables : as :class:`~akida_nb.Simulator` takes them, optional
        Without them, the simulator's seeded random variables (``seed``).
    client : dask.distributed.Client, optional
        Run the batches there (the ``dask`` extra); without it, in this process. At most a few
        batches per worker are in flight, so an iterable streams.
    batch_size : int, optional
        Samples per task for a numpy array (default :data:`BATCH_SIZE`).
    progress : bool
        Show a tqdm progress bar over samples.

    Returns
    -------
    Evaluation
        The same whatever the engine and the chunking.

    Raises
    ------
    SimulationError
        Inputs the simulator refuses (shape, dtype, range), bad variables.
    SpecError
        A dataset or labels of the wrong kind or length, a bad ``batch_size``, a ``client`` without dask.

    Examples
    --------
    >>> import numpy as np
    >>> import akida_nb as ak
    >>> x = np.random.default_rng(1).integers(0, 256, (8, 32, 32, 3), dtype=np.uint8)
    >>> out = ak.evaluate(ak.example("vgg_utk_face"), x, batch_size=3, progress=False)
    >>> out.events["events"].tolist() == ak.Simulator(ak.example("vgg_utk_face")).run(x).events["events"].tolist()
    True
    """
    from tqdm import tqdm

    ensure_model(model)
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1):
        raise SpecError("batch_size", f"expected a positive int, got {brief(batch_size)}")
    if _is_dask_array(dataset) and any(math.isnan(size) for size in dataset.chunks[0]):
        raise SpecError("dataset", "a dask array of unknown chunk sizes along samples; call "
                                   "compute_chunk_sizes() on it first")
    if (isinstance(dataset, np.ndarray) or _is_dask_array(dataset)) and dataset.ndim != 4:
        raise SimulationError(None, "input", f"expected a batch of shape (N, d0, d1, C), got shape {dataset.shape}")
    shared = _shared(model, variables, seed)
    distributed = None
    if client is not None:
        from .sweep import require_client

        distributed = require_client(client)
    batches = _batches(dataset, labels, batch_size or BATCH_SIZE)
    totals: _Totals | None = None
    total = len(dataset) if isinstance(dataset, np.ndarray) or _is_dask_array(dataset) else None
    with tqdm(total=total, unit="sample", disable=not progress, desc=model.name) as bar:
        if distributed is None:
            for x, y in batches:
                if _is_dask_array(x):
                    x = x.compute(scheduler="sync")
                    y = y.compute(scheduler="sync") if _is_dask_array(y) else y
                part = _partial(shared, x, y)
                totals = totals or _Totals(model, part["correct"] is not None)
                bar.update(totals.add(part))
        else:
            totals = _run_on(client, distributed, shared, batches, model, bar)
    if totals is None:
        raise SpecError("dataset", "no samples: the data set is empty")
    return totals.result()


def _run_on(client: Any, distributed: Any, shared: Any, batches: Iterator[tuple[Any, Any]], model: Model,
            bar: Any) -> _Totals | None:
    """Submit batches to the cluster, at most a few per worker in flight; sum the parts as they come."""
    [remote] = client.scatter([shared], broadcast=True, hash=False)
    window = 3 * max(1, sum(client.nthreads().values()))
    pending = distributed.as_completed()
    in_flight = 0
    totals: _Totals | None = None

    def take() -> None:
        nonlocal totals, in_flight
        part = next(pending).result()
        in_flight -= 1
        totals = totals or _Totals(model, part["correct"] is not None)
        bar.update(totals.add(part))

    for x, y in batches:
        if _is_dask_array(x):
            [x] = client.compute([x])
            if _is_dask_array(y):
                [y] = client.compute([y])
        else:
            x = client.scatter(np.asarray(x), hash=False)
        pending.add(client.submit(_worker_partial, remote, x, y, pure=False))
        in_flight += 1
        while in_flight >= window:
            take()
    while in_flight:
        take()
    return totals
