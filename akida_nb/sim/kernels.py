"""Pure functions computing one step of an Akida layer, bit-exact with BrainChip's engine.

Every function here follows docs/design.md#simulator-arithmetic. Tensors are numpy arrays ``(N, d0, d1, C)``;
potentials are whole numbers held in a floating array (float32 or float64), so that
convolutions run as BLAS matrix products. That is exact as long as every partial sum stays
below 2**24 (float32) or 2**53 (float64): :func:`sum_bound` bounds it, and the convolutions
compute in the floating dtype of their weights. Integer weights are computed in float64.

Large products are cut into row tiles of :data:`TILE_BYTES` (built, multiplied and written while
in cache) and, inside :func:`compute_threads` (every :meth:`Simulator.run` enters it), shared
among worker threads with BLAS held to one thread; tiles write disjoint rows and every value is
exact, so results never depend on the tiling or the number of workers.

Examples
--------
>>> import numpy as np
>>> from akida_nb.sim import kernels as K
>>> x = np.arange(9, dtype=np.uint8).reshape(1, 3, 3, 1)
>>> w = np.zeros((3, 3, 1, 1), np.float32); w[0, 0, 0, 0] = 1   # a true convolution flips w
>>> K.conv2d(x, w, (1, 1), "same")[0, :, :, 0]
array([[4., 5., 0.],
       [7., 8., 0.],
       [0., 0., 0.]], dtype=float32)
"""
from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ..errors import SimulationError
from ..model import conv_output_size

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

__all__ = [
    "INT20_MAX",
    "INT20_MIN",
    "STEP_MODULUS",
    "PARALLEL_MACS",
    "COLS_BYTES",
    "SERIAL_TILE_BYTES",
    "TILE_BYTES",
    "activation",
    "activation_plan",
    "compute_threads",
    "default_workers",
    "conv2d",
    "count_nonzero",
    "depthwise_conv2d",
    "flatten_fortran",
    "in_parts",
    "fully_connected",
    "global_sum_pool",
    "max_pool",
    "pad_spatial",
    "pointwise_conv2d",
    "predict",
    "release_scratch",
    "same_pads",
    "saturate20",
    "separable_conv2d",
    "step_register",
    "sum_bound",
    "summed_conv2d",
    "weight_range",
    "window_sums",
    "winograd_conv2d",
    "winograd_weights",
]

INT20_MIN = -(1 << 19)
"""Lowest value of a 20-bit signed potential (pooling and FullyConnected saturate to it)."""
INT20_MAX = (1 << 19) - 1
"""Highest value of a 20-bit signed potential."""
STEP_MODULUS = 1 << 28
"""The engine's activation arithmetic is modulo 2**28 (docs/design.md#the-activation)."""
_IDENTITY_BOUND = 1 << 62  # clip bounds of a no-op step in global_sum_pool

Pair = tuple[int, int]

TILE_BYTES = 1 << 19
"""Bytes of one tile of a matrix product's left operand (im2col rows): a quarter of a 2 MiB L2 cache,
so that a tile is built, multiplied and written while it stays in cache."""
COLS_BYTES = 1 << 20
"""Largest im2col tile of :func:`conv2d`, serial or shared: the tile is copied, then multiplied, and
stays in cache in between (measured: AkidaNet, 4 samples on one thread, 15.0–15.9 ms with tiles of
0.5–2 MiB, 16.2–17.6 ms with 8 MiB)."""
SERIAL_TILE_BYTES = 1 << 23
"""Bytes of one tile of work that runs on one thread (a small product, or inside a worker's share of
a batch): tiles only bound the temporaries then, and every tile costs a call (and, with other
threads running, a hand-over of the GIL), so they are larger."""
PARALLEL_MACS = 1 << 24
"""A product of fewer multiply-accumulates runs in one piece on the calling thread; a larger one is
split into row tiles that the workers of :func:`compute_threads` take one at a time."""

_state = threading.local()   # (executor, helper threads) of the innermost compute_threads() on this thread
_pool_lock = threading.Lock()
_pools: dict[int, ThreadPoolExecutor] = {}
_blas: list[Any] = []        # threadpoolctl's controllers of the loaded BLAS libraries, found on first use


def _after_fork() -> None:
    """A forked child has none of its parent's worker threads: forget their pools (and a held lock)."""
    global _pool_lock
    _pool_lock = threading.Lock()
    _pools.clear()
    _state.pool = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)


DEFAULT_WORKERS: int | None = None
"""Threads :func:`compute_threads` uses when none is asked for; ``None``: the usable cores. A Dask worker sets
it to its own thread count (:func:`akida_nb.evaluate.evaluate`), so that N single-threaded workers on N
cores do not each start a thread per core."""


def default_workers() -> int:
    """Threads :func:`compute_threads` uses when none is asked for: :data:`DEFAULT_WORKERS`, else the usable cores.

    Examples
    --------
    >>> default_workers() >= 1
    True
    """
    if DEFAULT_WORKERS is not None:
        return max(1, int(DEFAULT_WORKERS))
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


@contextmanager
def compute_threads(workers: int | None = None) -> Iterator[int]:
    """Run the products of the kernels inside it on ``workers`` threads (default: the usable cores).

    BLAS is held to one thread (through threadpoolctl, restored on exit) and every product of at least
    :data:`PARALLEL_MACS` is split into row tiles that the workers take from a shared queue. OpenBLAS's
    own threads wait for each other at every product: on a machine where another process keeps a core
    busy they stall, whereas a worker that gets less CPU simply takes fewer tiles. Small products run
    whole, on one thread. Results do not depend on the number of workers (every tile is exact and
    written to its own rows).

    Examples
    --------
    >>> x = np.ones((2, 5, 5, 3), np.uint8)
    >>> with compute_threads(2) as n:
    ...     p = conv2d(x, np.ones((3, 3, 3, 4), np.float32), (1, 1), "same")
    >>> n, p.shape, float(p[0, 2, 2, 0])
    (2, (2, 5, 5, 4), 27.0)
    """
    n = max(1, int(workers) if workers is not None else default_workers())
    with _pool_lock:
        if not _blas:  # the BLAS libraries loaded in this process, found once (a scan of shared objects)
            from threadpoolctl import ThreadpoolController

            _blas.extend(ThreadpoolController().select(user_api="blas").lib_controllers)
        executor = _pools.get(n) if n > 1 else None
        if n > 1 and executor is None:
            from concurrent.futures import ThreadPoolExecutor  # imported on first use: import akida_nb stays light

            executor = _pools[n] = ThreadPoolExecutor(n - 1, thread_name_prefix="akida_nb-sim")  # + the caller
    previous = getattr(_state, "pool", None)
    threads = [lib.get_num_threads() for lib in _blas]
    for lib in _blas:
        lib.set_num_threads(1)
    _state.pool = None if executor is None else (executor, n - 1)
    try:
        yield n
    finally:
        _state.pool = previous
        for lib, count in zip(_blas, threads):
            lib.set_num_threads(count)


def _for_each(task: Callable[[Any], None], items: Sequence[Any], macs: int) -> None:
    """``task(item)`` for every item: shared with the workers of :func:`compute_threads` when the work is large.

    The calling thread takes items too, from the same queue as the helper threads: a helper that
    the system deschedules delays at most the one item it holds, never a share of the work.
    """
    pool = getattr(_state, "pool", None)
    if pool is None or not _shared(macs) or len(items) < 2:
        for item in items:
            task(item)
        return
    _for_each_on(pool, task, items)


def _for_each_on(pool: tuple[ThreadPoolExecutor, int], task: Callable[[Any], None], items: Sequence[Any]) -> None:
    queue = iter(items)
    lock = threading.Lock()
    failed: list[BaseException] = []

    def take() -> None:
        while not failed:
            with lock:
                item = next(queue, _DONE)
            if item is _DONE:
                return
            try:
                task(item)
            except BaseException as e:  # stop everyone, re-raise in the caller
                failed.append(e)

    executor, count = pool
    helpers = [executor.submit(take) for _ in range(min(count, len(items) - 1))]
    take()
    for helper in helpers:
        helper.result()
    if failed:
        raise failed[0]


_DONE = object()


def in_parts(task: Callable[[Any], None], items: Sequence[Any]) -> None:
    """``task(item)`` for every item, one item per worker of :func:`compute_threads`, kernels inside serial.

    For work that splits into a few large independent parts (the samples of a batch): each worker
    runs a whole part, its products on its own thread, so that the workers meet once per part
    instead of once per product. Outside :func:`compute_threads`, the items run in turn.

    Examples
    --------
    >>> done = []
    >>> with compute_threads(2):
    ...     in_parts(done.append, [1, 2])
    >>> sorted(done)
    [1, 2]
    """
    pool = getattr(_state, "pool", None)
    _state.pool = None  # the caller's share runs its kernels serially, as the helper threads do
    try:
        if pool is None or len(items) < 2:
            for item in items:
                task(item)
            return
        _for_each_on(pool, task, items)
    finally:
        _state.pool = pool


def _shared(macs: int) -> bool:
    """Whether :func:`_for_each` shares work of this size among the workers."""
    return getattr(_state, "pool", None) is not None and macs >= PARALLEL_MACS


def _tile_bytes(macs: int) -> int:
    return TILE_BYTES if _shared(macs) else SERIAL_TILE_BYTES


SCRATCH_KEEP_BYTES = 64 << 20
"""Scratch memory a thread keeps between runs (see :func:`release_scratch`)."""


def _scratch(name: str, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    """An uninitialised array for a temporary that never leaves the kernel, reused from call to call.

    Every thread has its own buffers, one per ``name``, grown as needed. A fresh ``np.empty`` of a
    few MB is new memory each time (the allocator maps it, the system zeroes it page by page on
    first touch): measured, that was three quarters of a Winograd layer's time (VGG's 30×30×32
    layer, 4 samples: 2.0 ms with fresh temporaries, 0.5 ms reused). Callers use the array before
    their next call with the same name on the same thread.
    """
    dtype = np.dtype(dtype)
    need = math.prod(shape) * dtype.itemsize
    buffers = getattr(_state, "scratch", None)
    if buffers is None:
        buffers = _state.scratch = {}
    buf = buffers.get(name)
    if buf is None or buf.size < need:
        buf = buffers[name] = np.empty(max(need, 4096), np.uint8)
    return buf[:need].view(dtype).reshape(shape)


def release_scratch(keep: int = SCRATCH_KEEP_BYTES) -> None:
    """Free this thread's scratch buffers when they hold more than ``keep`` bytes (:meth:`Simulator.run` calls it).

    Examples
    --------
    >>> _ = _scratch("example", (1000,), np.float32)
    >>> release_scratch(0)
    >>> getattr(_state, "scratch", {})
    {}
    """
    buffers = getattr(_state, "scratch", None)
    if buffers and sum(buf.size for buf in buffers.values()) > keep:
        buffers.clear()


def _row_tiles(rows: int, row_bytes: int, macs: int, budget: int | None = None) -> list[slice]:
    """Row ranges of about ``budget`` bytes each (default :func:`_tile_bytes`)."""
    per = max(1, (_tile_bytes(macs) if budget is None else budget) // max(row_bytes, 1))
    return [slice(r, min(r + per, rows)) for r in range(0, rows, per)]


def _product(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` for a 2-D ``a`` (M, K) and ``b`` (K, F), split into row tiles when it is large."""
    m, k = a.shape
    f = b.shape[1]
    out = np.empty((m, f), np.result_type(a, b))
    if m * k * f < PARALLEL_MACS or getattr(_state, "pool", None) is None:
        return np.matmul(a, b, out=out)

    def tile(rows: slice) -> None:
        np.matmul(a[rows], b, out=out[rows])

    _for_each(tile, _row_tiles(m, k * a.itemsize, m * k * f), m * k * f)
    return out


def _floating(w: np.ndarray) -> np.dtype:
    return w.dtype if w.dtype.kind == "f" else np.dtype(np.float64)


def weight_range(bits: int) -> tuple[int, int]:
    """Inclusive range of weight values for a bit width (docs/design.md#weight-ranges).

    1 bit is unsigned ``[0, 1]``; 2 to 7 bits are symmetric ``±(2**(b-1) - 1)``; 8 bits are int8.

    Examples
    --------
    >>> [weight_range(b) for b in (1, 2, 4, 8)]
    [(0, 1), (-1, 1), (-7, 7), (-128, 127)]
    """
    if bits == 1:
        return 0, 1
    if bits == 8:
        return -128, 127
    top = (1 << (bits - 1)) - 1
    return -top, top


def same_pads(n: int, k: int, s: int) -> Pair:
    """TensorFlow's "same" padding along one axis: ``(before, after)``, the extra cell at the end.

    Examples
    --------
    >>> same_pads(49, 5, 2), same_pads(10, 2, 2)
    ((2, 2), (0, 0))
    """
    out = -(-n // s)
    total = max((out - 1) * s + k - n, 0)
    return total // 2, total - total // 2


def _pads(shape: tuple[int, ...], kernel: Pair, stride: Pair, padding: str) -> tuple[Pair, Pair]:
    if padding == "same":
        return same_pads(shape[1], kernel[0], stride[0]), same_pads(shape[2], kernel[1], stride[1])
    return (0, 0), (0, 0)


def pad_spatial(x: np.ndarray, pads: tuple[Pair, Pair], value: float, dtype, scratch: str | None = None
                ) -> np.ndarray:
    """Copy ``x`` (N, d0, d1, C) into a new ``dtype`` array padded on d0 and d1 with ``value``.

    With ``scratch``, into that scratch buffer of the thread (a temporary of the caller) instead.

    Examples
    --------
    >>> pad_spatial(np.ones((1, 1, 2, 1), np.uint8), ((1, 0), (0, 1)), 7, np.float32)[0, :, :, 0]
    array([[7., 7., 7.],
           [1., 1., 7.]], dtype=float32)
    """
    (b0, a0), (b1, a1) = pads
    n, d0, d1, c = x.shape
    shape = (n, d0 + b0 + a0, d1 + b1 + a1, c)
    out = np.empty(shape, dtype=dtype) if scratch is None else _scratch(scratch, shape, dtype)
    out[:, b0:b0 + d0, b1:b1 + d1] = x  # the interior once, then only the border cells
    out[:, :b0] = value
    out[:, b0 + d0:] = value
    out[:, b0:b0 + d0, :b1] = value
    out[:, b0:b0 + d0, b1 + d1:] = value
    return out


def sum_bound(weights: np.ndarray, x_max: int) -> int:
    """Largest ``|Σ w·x|`` over inputs in ``[0, x_max]``: ``max_f Σ|w[..., f]| · x_max``.

    It bounds every partial sum too, whatever the order of accumulation. ``weights`` has its
    output channel on the last axis.

    Examples
    --------
    >>> sum_bound(np.array([[1, -3], [2, 2]]), 15)
    75
    """
    w = np.abs(np.asarray(weights, dtype=np.int64)).reshape(-1, weights.shape[-1])
    return int(w.sum(axis=0).max(initial=0)) * int(x_max)


def _windows(x: np.ndarray, offsets: Pair, stride: Pair, out: Pair) -> np.ndarray:
    (a, b), (s0, s1), (o0, o1) = offsets, stride, out
    return x[:, a:a + s0 * (o0 - 1) + 1:s0, b:b + s1 * (o1 - 1) + 1:s1]


def conv2d(x: np.ndarray, weights: np.ndarray, stride: Pair, padding: str, *, flip: bool = True,
           pad_value: int = 0) -> np.ndarray:
    """Convolution potentials (docs/design.md#simulator-arithmetic) as one matrix product (im2col).

    Parameters
    ----------
    x : ndarray (N, d0, d1, C)
        Integer inputs (any dtype holding whole numbers).
    weights : ndarray (k0, k1, C, F)
        Whole numbers; the product runs in their floating dtype (float64 for integers).
    stride : (int, int)
    padding : {"same", "valid"}
    flip : bool
        True for a true convolution (Convolutional), False for cross-correlation (InputConvolutional).
    pad_value : int
        Value of the padding cells (InputConvolutional's ``padding_value``).

    Returns
    -------
    ndarray (N, o0, o1, F)
        Exact potentials, in the floating dtype of the computation.

    Examples
    --------
    >>> x = np.ones((1, 4, 4, 2), np.uint8)
    >>> conv2d(x, np.ones((3, 3, 2, 1), np.float32), (2, 2), "same")[0, :, :, 0]
    array([[18., 12.],
           [12.,  8.]], dtype=float32)
    """
    dtype = _floating(weights)
    k0, k1, c, f = weights.shape
    (s0, s1), pads = stride, _pads(x.shape, (k0, k1), stride, padding)
    o0 = conv_output_size(x.shape[1], k0, s0, padding)
    o1 = conv_output_size(x.shape[2], k1, s1, padding)
    x = pad_spatial(x, pads, pad_value, dtype, scratch="conv2d.padded")
    if flip:
        weights = weights[::-1, ::-1]
    # im2col without an intermediate: along d1 a kernel row (k1 cells × C channels) is one contiguous
    # run of a padded image row, so the windows of every output cell are a strided view of x. They are
    # copied a tile at a time (TILE_BYTES, in cache) and multiplied into the output's own rows.
    # Where the product would be thin (F < 64 columns, or short runs of few channels as in input
    # layers), g neighbouring outputs share one window of (g - 1)·s1 + k1 cells and a block weight
    # matrix (the kernel at g offsets, zeros elsewhere) whose g·F columns are the g outputs side by
    # side: the same products plus exact zeros. BLAS runs a product of 64 columns at 2–2.5× the rate
    # of one of 16–32 (measured: VGG's 30×30×32 layer 1.5× faster with g = 2, AkidaNet's
    # 112×112×8 → 16 one 1.5× with g = 4), which more than pays for the (g - 1)·s1 / k1 extra taps.
    g = 4 if k1 * c <= 16 else min(4, max(1, 64 // f))
    while o1 % g:
        g -= 1
    span = (g - 1) * s1 + k1
    blocks = np.zeros((k0, span, c, g, f), dtype)
    for i in range(g):
        blocks[:, i * s1:i * s1 + k1, :, i] = weights
    wmat = blocks.reshape(-1, g * f)
    n, kk, og = x.shape[0], k0 * span * c, o1 // g
    b0, b1, b2, b3 = x.strides
    windows = as_strided(x, (n, o0, og, k0, span * c), (b0, s0 * b1, g * s1 * b2, b1, b3), writeable=False)
    out = np.empty((n, o0, o1, f), dtype)
    image, macs = o0 * og * kk * x.itemsize, n * o0 * o1 * kk * f
    budget = min(_tile_bytes(macs), COLS_BYTES)
    if image <= budget:  # whole images per tile
        tiles = [(rows, slice(None)) for rows in _row_tiles(n, image, macs, budget)]
    else:
        tiles = [(slice(i, i + 1), rows) for i in range(n)
                 for rows in _row_tiles(o0, og * kk * x.itemsize, macs, budget)]

    def tile(where: tuple[slice, slice]) -> None:
        view = windows[where]
        cols = _scratch("conv2d.cols", view.shape, dtype)
        np.copyto(cols, view)
        m = cols.shape[0] * cols.shape[1] * og
        np.matmul(cols.reshape(m, kk), wmat, out=out[where].reshape(m, g * f))

    _for_each(tile, tiles, macs)
    return out


WINOGRAD_MIN_CHANNELS = 16
"""Fewer input channels make the 16 products too short for BLAS (measured: VGG's 32×32×3 input layer
0.29 ms with Winograd, 0.16 ms as one im2col product)."""
_G2 = np.array([[2, 0, 0], [1, 1, 1], [1, -1, 1], [0, 0, 2]], np.int64)
"""Twice the filter transform G of Winograd's F(2×2, 3×3): whole numbers."""


def winograd_weights(weights: np.ndarray, x_max: int, *, flip: bool = True, dtype: Any = np.float32
                     ) -> np.ndarray | None:
    """The transformed kernel ``U = G' w G'ᵀ`` ``(16, C, F)`` for :func:`winograd_conv2d`, or None when not exact.

    Winograd's F(2×2, 3×3) computes each 2×2 block of outputs of a 3×3, stride 1 convolution from a
    4×4 input tile with 16 products per channel instead of 36: ``Y = Aᵀ [Σ_c U_c ⊙ V_c] A`` with
    ``V = Bᵀ d B``. With ``G' = 2G`` every value is a whole number (``U = 4·`` the usual one, undone by
    an exact division by 4 at the end). Bounds for inputs in ``[0, x_max]``: ``|V| <= 4·x_max``; the
    channel sums ``<= 4·x_max·max Σ_c |U|``; the output transform adds 9 of them. When
    ``9·4·x_max·max Σ_c |U|`` stays below 2**24 (float32) or 2**53 (float64), every value is exact in
    ``dtype`` and so is the result; else None (the caller uses :func:`conv2d`).

    Examples
    --------
    >>> w = np.ones((3, 3, 16, 1), np.int8)
    >>> winograd_weights(w, 15).shape
    (16, 16, 1)
    >>> winograd_weights(np.full((3, 3, 64, 1), 127, np.int8), 255) is None
    True
    """
    if weights.shape[:2] != (3, 3) or weights.shape[2] < WINOGRAD_MIN_CHANNELS:
        return None
    w = np.asarray(weights, np.int64)
    if flip:
        w = w[::-1, ::-1]
    u = np.einsum("ik,klcf,jl->ijcf", _G2, w, _G2).reshape(16, w.shape[2], w.shape[3])
    limit = 1 << (24 if np.dtype(dtype) == np.float32 else 53)
    if 9 * 4 * int(x_max) * int(np.abs(u).sum(axis=1).max(initial=0)) >= limit:
        return None
    return u.astype(dtype)


def winograd_conv2d(x: np.ndarray, u: np.ndarray, padding: str) -> np.ndarray:
    """A 3×3, stride 1 convolution (zero padding) through Winograd's F(2×2, 3×3), exact (see :func:`winograd_weights`).

    Parameters
    ----------
    x : ndarray (N, d0, d1, C)
        Inputs in ``[0, x_max]`` of the :func:`winograd_weights` call that made ``u``.
    u : ndarray (16, C, F)
    padding : {"same", "valid"}

    Examples
    --------
    >>> x = np.random.default_rng(0).integers(0, 16, (2, 6, 5, 16)).astype(np.uint8)
    >>> w = np.random.default_rng(1).integers(-7, 8, (3, 3, 16, 4)).astype(np.float32)
    >>> u = winograd_weights(w, 15)
    >>> np.array_equal(winograd_conv2d(x, u, "same"), conv2d(x, w, (1, 1), "same"))
    True
    """
    from . import _jit  # the transforms as compiled passes; the 16 products of every tile by BLAS

    n, h, wd, c = x.shape
    o0, o1 = conv_output_size(h, 3, 1, padding), conv_output_size(wd, 3, 1, padding)
    b = 1 if padding == "same" else 0
    t0, t1 = -(-o0 // 2), -(-o1 // 2)
    v = _scratch("winograd.v", (16, n * t0 * t1, c), u.dtype)
    _jit.winograd_input(x, b, b, t0, t1, v)
    m = _scratch("winograd.m", (16, n * t0 * t1, u.shape[2]), u.dtype)
    if _shared(m.size * c):  # the 16 products shared among the workers: their scratch is their own
        def product(k: int) -> None:
            np.matmul(v[k], u[k], out=m[k])

        _for_each(product, range(16), m.size * c)
    else:
        np.matmul(v, u, out=m)
    out = np.empty((n, o0, o1, u.shape[2]), u.dtype)
    _jit.winograd_output(m, t0, t1, out)
    return out


def window_sums(x: np.ndarray, kernel: Pair, stride: Pair, padding: str, dtype: Any, pad_value: int = 0) -> np.ndarray:
    """For every kernel tap, the sum of the inputs it meets over all output cells: ``(N, k0, k1, C)``.

    ``Σ_ij conv(x)[i, j, f] = Σ_abc w[a, b, c, f] · S[a, b, c]`` with ``S`` these sums: a convolution
    followed by a sum over its output cells (global average pooling, when it cannot saturate) is
    one small product with ``S``. Cells of the padding hold ``pad_value``. Whole numbers, exact
    in ``dtype`` while ``o0·o1·max(x)`` stays below its bound.

    Examples
    --------
    >>> x = np.arange(9, dtype=np.uint8).reshape(1, 3, 3, 1)
    >>> window_sums(x, (2, 2), (1, 1), "valid", np.float32)[0, :, :, 0]   # taps (0,0) meet 0,1,3,4 ...
    array([[ 8., 12.],
           [20., 24.]], dtype=float32)
    """
    from . import _jit  # one compiled pass: every tap's sum, padding cells counted as pad_value

    k0, k1 = kernel
    o0 = conv_output_size(x.shape[1], k0, stride[0], padding)
    o1 = conv_output_size(x.shape[2], k1, stride[1], padding)
    (b0, _), (b1, _) = _pads(x.shape, kernel, stride, padding)
    sums = np.empty((x.shape[0], k0, k1, x.shape[3]), dtype)
    _jit.window_sums(x, k0, k1, stride[0], stride[1], b0, b1, o0, o1, pad_value, sums)
    return sums


def summed_conv2d(x: np.ndarray, weights: np.ndarray, stride: Pair, padding: str, *, flip: bool = True,
                  pad_value: int = 0, pointwise: np.ndarray | None = None) -> np.ndarray:
    """``Σ_ij`` of the convolution's potentials, ``(N, 1, 1, F)``, through :func:`window_sums`, without the convolution.

    With ``pointwise`` ``(C, F)``, ``weights`` ``(k0, k1, C)`` is a depthwise kernel and the result is
    that of :func:`separable_conv2d` summed (the pointwise product is linear, so it applies once to
    the summed depthwise outputs). Equal to :func:`global_sum_pool` of the potentials when that sum
    cannot saturate, that is when ``o0·o1·`` :func:`sum_bound` ``<=`` :data:`INT20_MAX` (the caller
    checks): every partial sum is then a whole number within that bound, exact in float32.

    Examples
    --------
    >>> x = np.random.default_rng(0).integers(0, 4, (2, 5, 5, 3)).astype(np.uint8)
    >>> w = np.random.default_rng(1).integers(-3, 4, (3, 3, 3, 4)).astype(np.float32)
    >>> direct = global_sum_pool(conv2d(x, w, (1, 1), "same"))
    >>> np.array_equal(summed_conv2d(x, w, (1, 1), "same"), direct)
    True
    """
    dtype = _floating(weights if pointwise is None else pointwise)
    k0, k1 = weights.shape[:2]
    sums = window_sums(x, (k0, k1), stride, padding, dtype, pad_value)
    if flip:
        weights = weights[::-1, ::-1]
    n = x.shape[0]
    if pointwise is None:
        out = sums.reshape(n, -1) @ weights.reshape(-1, weights.shape[-1]).astype(dtype, copy=False)
    else:
        out = (sums * weights.astype(dtype, copy=False)).sum(axis=(1, 2)) @ pointwise.astype(dtype, copy=False)
    return out.reshape(n, 1, 1, -1)


def depthwise_conv2d(x: np.ndarray, weights: np.ndarray, stride: Pair, padding: str, scratch: str | None = None
                     ) -> np.ndarray:
    """Per-channel true convolution (the first half of a SeparableConvolutional, docs/design.md#separable-layers).

    Parameters
    ----------
    x : ndarray (N, d0, d1, C)
    weights : ndarray (k0, k1, C)
        One kernel per channel, flipped on both spatial axes as in :func:`conv2d`.
    stride : (int, int)
    padding : {"same", "valid"}
    scratch : str, optional
        Write into this scratch buffer of the thread (for a caller's temporary) instead of a new array.

    Examples
    --------
    >>> x = np.arange(4, dtype=np.uint8).reshape(1, 2, 2, 1)
    >>> depthwise_conv2d(x, np.ones((2, 2, 1), np.float32), (1, 1), "valid")[0, :, :, 0]
    array([[6.]], dtype=float32)
    """
    dtype = _floating(weights)
    k0, k1, c = weights.shape
    (s0, s1), ((b0, _), (b1, _)) = stride, _pads(x.shape, (k0, k1), stride, padding)
    o0 = conv_output_size(x.shape[1], k0, s0, padding)
    o1 = conv_output_size(x.shape[2], k1, s1, padding)
    weights = np.ascontiguousarray(weights[::-1, ::-1], dtype=dtype)
    n = x.shape[0]
    # One compiled pass (akida_nb.sim._jit.depthwise_rows): per output cell, the k0·k1 taps are
    # multiplied and summed into C accumulators of the weights' dtype, padding cells skipped (they
    # are zeros). Whole numbers below the exactness bound, so the sums are exact in any order.
    from . import _jit

    out = np.empty((n, o0, o1, c), dtype) if scratch is None else _scratch(scratch, (n, o0, o1, c), dtype)
    rows = n * o0

    def tile(part: slice) -> None:
        _jit.depthwise_rows(x, weights, s0, s1, b0, b1, out, part.start, part.stop)

    macs = rows * o1 * c * k0 * k1 * 4
    _for_each(tile, _row_tiles(rows, o1 * c * k0 * k1 * out.itemsize, macs), macs)
    return out


def pointwise_conv2d(x: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """1×1 convolution: ``Σ_c x[..., c] · weights[c, f]`` (the second half of a SeparableConvolutional).

    Examples
    --------
    >>> pointwise_conv2d(np.ones((1, 1, 2, 3), np.float32), np.eye(3, 2, dtype=np.float32))[0, 0]
    array([[1., 1.],
           [1., 1.]], dtype=float32)
    """
    w = weights.astype(_floating(weights), copy=False)
    rows = np.ascontiguousarray(x, dtype=np.result_type(x, w)).reshape(-1, x.shape[-1])
    return _product(rows, w).reshape(*x.shape[:-1], -1)


def separable_conv2d(x: np.ndarray, depthwise: np.ndarray, pointwise: np.ndarray, stride: Pair,
                     padding: str) -> np.ndarray:
    """SeparableConvolutional potentials: depthwise, then pointwise unrounded (docs/design.md#separable-layers).

    Parameters
    ----------
    x : ndarray (N, d0, d1, C)
    depthwise : ndarray (k0, k1, C, 1)
        The layer's ``weights``.
    pointwise : ndarray (1, 1, C, F)
        The layer's ``weights_pw``; the computation runs in its floating dtype.
    stride : (int, int)
    padding : {"same", "valid"}

    Examples
    --------
    >>> x = np.ones((1, 3, 3, 2), np.uint8)
    >>> dw, pw = np.ones((3, 3, 2, 1), np.float32), np.ones((1, 1, 2, 1), np.float32)
    >>> separable_conv2d(x, dw, pw, (1, 1), "valid").ravel()
    array([18.], dtype=float32)
    """
    dtype = _floating(pointwise)
    dw = depthwise[..., 0].astype(dtype, copy=False)
    return pointwise_conv2d(depthwise_conv2d(x, dw, stride, padding, scratch="separable.depthwise"),
                            pointwise[0, 0].astype(dtype, copy=False))


def saturate20(p: np.ndarray) -> np.ndarray:
    """Clip potentials to the 20-bit signed range ``[-2**19, 2**19 - 1]``.

    Examples
    --------
    >>> saturate20(np.array([-10**6, 3, 10**6]))
    array([-524288,       3,  524287])
    """
    return np.clip(p, INT20_MIN, INT20_MAX)


def max_pool(p: np.ndarray, size: Pair, stride: Pair, padding: str) -> np.ndarray:
    """Max pooling of potentials: TF alignment, padding ignored, 20-bit clip unless 1×1 (docs/design.md#max-pooling).

    Examples
    --------
    >>> p = np.arange(9, dtype=np.float32).reshape(1, 3, 3, 1) * 10**5
    >>> max_pool(p, (2, 2), (2, 2), "same")[0, :, :, 0]
    array([[400000., 500000.],
           [524287., 524287.]], dtype=float32)
    """
    if padding == "same":
        o0, o1 = -(-p.shape[1] // stride[0]), -(-p.shape[2] // stride[1])
        (b0, _), (b1, _) = _pads(p.shape, size, stride, padding)
    else:
        o0 = (p.shape[1] - size[0]) // stride[0] + 1
        o1 = (p.shape[2] - size[1]) // stride[1] + 1
        b0 = b1 = 0
    # One compiled pass (akida_nb.sim._jit.max_pool_rows): the maximum over the window's cells that
    # lie inside p (padding never wins), then the 20-bit clip; both exact in any dtype.
    from . import _jit

    lo, hi = (INT20_MIN, INT20_MAX) if size != (1, 1) else (-_IDENTITY_BOUND, _IDENTITY_BOUND)
    out = np.empty((p.shape[0], o0, o1, p.shape[3]), p.dtype)
    rows = p.shape[0] * o0

    def tile(part: slice) -> None:
        _jit.max_pool_rows(p, size[0], size[1], stride[0], stride[1], b0, b1, lo, hi, out, part.start, part.stop)

    macs = out.size * size[0] * size[1]
    _for_each(tile, _row_tiles(rows, o1 * p.shape[3] * size[0] * size[1] * p.itemsize, macs), macs)
    return out


def global_sum_pool(p: np.ndarray) -> np.ndarray:
    """Global "average" pooling as the engine does it (docs/design.md#average-pooling-is-a-saturating-sum).

    The sum runs in C order over (d0, d1) and clips to 20 bits after every addition. Each
    step ``s -> clip(s + a, lo, hi)`` composes with the next into one of the same form, so the
    sequence reduces pairwise in ``log2(d0·d1)`` vectorised steps (skipped when the running sum
    never leaves the range).

    Parameters
    ----------
    p : ndarray (N, d0, d1, F)

    Returns
    -------
    ndarray (N, 1, 1, F), dtype of ``p``

    Examples
    --------
    >>> p = np.array([400000, 400000, -400000]).reshape(1, 3, 1, 1)
    >>> int(global_sum_pool(p)[0, 0, 0, 0])    # saturates at 524287, then subtracts
    124287
    """
    n, f = p.shape[0], p.shape[-1]
    m = p.shape[1] * p.shape[2]
    # When Σ|p| <= 2**19 no running sum can leave the range, whatever the order: the plain sum is
    # the answer. The test is exact in floats too: below 2**19 every partial sum is a whole number
    # under 2**24, and rounding is monotone, so a larger true sum never rounds below 2**19.
    if float(np.abs(p).sum(axis=(1, 2)).max(initial=0)) <= INT20_MAX:
        return p.sum(axis=(1, 2), keepdims=True, dtype=p.dtype)
    running = np.cumsum(p.reshape(n, m, f), axis=1, dtype=np.int64)
    if running.min() >= INT20_MIN and running.max() <= INT20_MAX:  # saturation never acts
        return running[:, -1].astype(p.dtype).reshape(n, 1, 1, f)
    size = 1 << (m - 1).bit_length()          # pad to a power of two with identity steps
    a = np.zeros((n, size, f), np.int64)
    a[:, :m] = p.reshape(n, m, f)
    lo = np.full((n, size, f), -_IDENTITY_BOUND, np.int64)
    hi = np.full((n, size, f), _IDENTITY_BOUND, np.int64)
    lo[:, :m], hi[:, :m] = INT20_MIN, INT20_MAX
    while a.shape[1] > 1:                      # s -> clip(s + a1, lo1, hi1), then clip(· + a2, lo2, hi2)
        a2, lo2, hi2 = a[:, 1::2], lo[:, 1::2], hi[:, 1::2]
        lo = np.minimum(np.maximum(lo[:, ::2] + a2, lo2), hi2)
        hi = np.minimum(np.maximum(hi[:, ::2] + a2, lo2), hi2)
        a = a[:, ::2] + a2
    return np.minimum(np.maximum(a, lo), hi).astype(p.dtype).reshape(n, 1, 1, f)


def flatten_fortran(x: np.ndarray) -> np.ndarray:
    """Flatten (N, D0, D1, C) to index ``d0 + D0·d1 + D0·D1·c`` (docs/design.md#fully-connected-layers).

    Examples
    --------
    >>> flatten_fortran(np.arange(8).reshape(1, 2, 2, 2))
    array([[0, 4, 2, 6, 1, 5, 3, 7]])
    """
    return x.transpose(0, 3, 2, 1).reshape(x.shape[0], -1)


def fully_connected(x: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """FullyConnected potentials: Fortran flatten, exact product, 20-bit clip (docs/design.md#fully-connected-layers).

    Parameters
    ----------
    x : ndarray (N, D0, D1, C)
    weights : ndarray (1, 1, D0·D1·C, U)

    Returns
    -------
    ndarray (N, 1, 1, U)

    Examples
    --------
    >>> fully_connected(np.full((1, 1, 1, 4), 255, np.uint8), np.full((1, 1, 4, 1), 600.0))[0, 0, 0]
    array([524287.])
    """
    dtype = _floating(weights)
    k, u = weights.shape[2:]
    out = _product(flatten_fortran(x).astype(dtype), weights.reshape(k, u).astype(dtype, copy=False))
    return saturate20(out).reshape(x.shape[0], 1, 1, u)


def count_nonzero(h: np.ndarray, out: np.ndarray) -> None:
    """``out[n]`` = the number of nonzero values of sample ``h[n]`` (its events), in one compiled pass.

    Examples
    --------
    >>> out = np.empty(2, np.int64)
    >>> count_nonzero(np.array([[[0, 3], [1, 0]], [[0, 0], [0, 0]]], np.uint8), out)
    >>> out
    array([2, 0])
    """
    from . import _jit

    _jit.count_nonzero_rows(h.reshape(len(h), -1), out)


def step_register(act_step: np.ndarray) -> np.ndarray:
    """The engine's integer step ``S = floor(float32(act_step) · 16) mod 2**28`` (int64).

    Examples
    --------
    >>> step_register(np.array([0.0625, 2.3, 2.0**24], np.float32))
    array([ 1, 36,  0])
    """
    scaled = np.floor(np.asarray(act_step, dtype=np.float32).astype(np.float64) * 16)
    return np.fmod(scaled, STEP_MODULUS).astype(np.int64)


def _wrap32(d: np.ndarray) -> np.ndarray:
    return (d + (1 << 31)) % (1 << 32) - (1 << 31)


def activation(p: np.ndarray, threshold: np.ndarray, act_step: np.ndarray, bits: int, *,
               bound: int | None = None) -> np.ndarray:
    """Quantised activation: ``clip(ceil((p - threshold)·2**b / S), 0, 2**b - 1)`` (docs/design.md#the-activation).

    With ``d = p - threshold`` wrapped to int32 and ``S`` from :func:`step_register`, the engine
    computes 0 for ``d <= 0`` and ``((d·2**b - 1) mod 2**28) // S + 1`` else, clipped. When the
    data keep ``d·2**b <= 2**28`` without int32 wrap-around, the modulus is inert and this runs
    as one floating division (exact: see :func:`activation_plan`); else in int64.

    Parameters
    ----------
    p : ndarray (..., F)
        Potentials (whole numbers, |p| < 2**31).
    threshold : ndarray (F,) of int
    act_step : ndarray (F,) of float32
    bits : int
    bound : int, optional
        A known bound on ``|p|`` (the layer's :func:`sum_bound`): when it already proves the
        floating path exact, the data's range is not scanned.

    Examples
    --------
    >>> activation(np.array([[-5, 1, 8, 9, 100]]).T, np.array([0]), np.array([1.0], np.float32), 4).ravel()
    array([ 0,  1,  8,  9, 15], dtype=uint8)
    >>> activation(np.array([[-5, 1, 8, 9, 100]]).T, np.array([0]), np.array([1.0], np.float32), 4, bound=100).ravel()
    array([ 0,  1,  8,  9, 15], dtype=uint8)
    """
    plan = None if bound is None else activation_plan(threshold, act_step, bits, p.dtype, -int(bound), int(bound))
    if plan is None:  # no bound, or the bound does not prove the floating path: the data may
        plan = activation_plan(threshold, act_step, bits, p.dtype, int(p.min(initial=0)), int(p.max(initial=0)))
    if plan is not None:
        return plan(p)
    step = step_register(act_step)
    threshold = np.asarray(threshold, dtype=np.int64)
    d = _wrap32(p.astype(np.int64) - threshold)
    level = ((d << bits) - 1) % STEP_MODULUS // step + 1
    return np.where(d > 0, np.minimum(level, (1 << bits) - 1), 0).astype(np.uint8)


def activation_plan(threshold: np.ndarray, act_step: np.ndarray, bits: int, dtype: Any, p_min: int,
                    p_max: int) -> Callable[[np.ndarray], np.ndarray] | None:
    """The activation of potentials of ``dtype`` within ``[p_min, p_max]`` as one compiled pass, or None.

    None when such potentials may wrap around int32 or reach the 2**28 modulus (:func:`activation`
    then computes in int64). Everything that depends on the layer only (the step register, the
    operands' dtype, the cut points) is computed here once, so that a layer applies its plan to
    each batch without recomputing it.

    Raises
    ------
    SimulationError
        A step register of 0 (``act_step·16`` a multiple of 2**28).

    Examples
    --------
    >>> plan = activation_plan(np.array([0]), np.array([1.0], np.float32), 4, np.float32, -100, 100)
    >>> plan(np.array([[-5, 1, 8, 9, 100]], np.float32).T).ravel()
    array([ 0,  1,  8,  9, 15], dtype=uint8)
    """
    step = step_register(act_step)
    if not step.all():
        raise SimulationError(None, "act_step", "act_step·16 is a multiple of 2**28: the engine's step would be 0")
    threshold = np.asarray(threshold, dtype=np.int64)
    dtype = np.dtype(dtype)
    top = (1 << bits) - 1
    d_min, d_max = p_min - int(threshold.max()), p_max - int(threshold.min())
    if d_min < -(1 << 31) or d_max >= 1 << 31 or d_max << bits > STEP_MODULUS:
        return None
    # For m = d·2**b, the quotient m/S is either a whole number (exactly representable, so the
    # correctly rounded division returns it) or at least 1/S away from one. Only quotients up to
    # 2**b <= 256 matter (larger ones clip), where float32 rounds by less than 2**-16 and float64
    # by less than 2**-44: ceil of the rounded quotient is exact when S < 2**16 (float32; p,
    # threshold and d also below 2**24 there) and always for float64 (S < 2**28). S / 2**b is
    # exact (a power-of-two scaling of an integer below 2**24 or 2**53).
    small = max(abs(p_min), abs(p_max), abs(d_min), abs(d_max), int(np.abs(threshold).max())) < 1 << 24
    work = np.float32 if dtype == np.float32 and small and int(step.max()) < 1 << 16 else np.float64
    shift = threshold.astype(work)
    scale = (step / (1 << bits)).astype(work)
    # For 1- and 2-bit activations, comparisons instead of a division: the level is at least k + 1
    # exactly when d·2**b / S > k, i.e. p > t + k·S/2**b, and for a whole p that is p > U_k with
    # U_k = floor(t + k·S/2**b) = (t·2**b + k·S) >> b, computed in integers. The U_k are compared in
    # p's dtype when they are exact there (whole numbers below 2**24 in float32), else in int64/float64.
    cuts = None
    if top <= 3:
        u = ((threshold[None, :] << bits) + np.arange(top)[:, None] * step[None, :]) >> bits
        exact = dtype == np.float64 or (dtype == np.float32 and int(np.abs(u).max()) < 1 << 24)
        cuts = u.astype(dtype) if exact else u.astype(np.float64 if dtype.kind == "f" else np.int64)
    f = len(shift)

    def apply(p: np.ndarray) -> np.ndarray:
        from . import _jit  # one compiled pass per row tile (akida_nb.sim._jit): the arithmetic described above

        flat = np.ascontiguousarray(p).reshape(-1, f)
        out = np.empty(flat.shape, np.uint8)

        def tile(part: slice) -> None:
            if cuts is not None:
                _jit.levels_rows(flat, cuts, out, part.start, part.stop)
            else:
                _jit.activate_rows(flat, shift, scale, top, out, part.start, part.stop)

        _for_each(tile, _row_tiles(len(flat), f * 8, p.size * 16), p.size * 16)
        return out.reshape(p.shape)

    return apply


def predict(p: np.ndarray, threshold: np.ndarray, act_step: np.ndarray) -> np.ndarray:
    """The engine's ``predict`` for a last layer without activation: ``float32(p - threshold) / act_step``.

    ``p - threshold`` wraps to int32 as in :func:`activation`; the division is in float32.

    Examples
    --------
    >>> predict(np.array([[10, -3]]), np.array([2, 1]), np.array([0.5, 4.0], np.float32))
    array([[16., -1.]], dtype=float32)
    """
    d = _wrap32(np.asarray(p).astype(np.int64) - np.asarray(threshold, dtype=np.int64))
    return d.astype(np.float32) / np.asarray(act_step, dtype=np.float32)
