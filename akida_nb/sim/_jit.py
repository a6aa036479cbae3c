"""Compiled loops (numba, imported on first use) for the passes that numpy would split into many.

Each function works on a range of rows ``[lo, hi)`` of its output, releases the GIL (``nogil``) and
writes only those rows, so that :func:`akida_nb.sim.kernels._for_each` can share the rows among
threads with the same result. None uses ``fastmath``: every operation is IEEE arithmetic in the
dtype of its operands, and the exactness arguments of :mod:`akida_nb.sim.kernels` hold unchanged
(whole numbers below 2**24 in float32, below 2**53 in float64, so every sum is exact in any order).

Compiled code is cached on disk (numba's ``cache=True``) so that a new process compiles nothing
that an earlier one compiled.
"""
from __future__ import annotations

import numba
import numpy as np

_jit = numba.njit(nogil=True, cache=True, boundscheck=False, error_model="numpy")


@_jit
def depthwise_rows(x, w, s0, s1, b0, b1, out, lo, hi):  # pragma: no cover - compiled
    """``out[n, i, j, c] = Σ_ab x[n, s0·i + a - b0, s1·j + b - b1, c] · w[a, b, c]`` for flat rows n·o0 + i in [lo, hi).

    Cells outside ``x`` (the padding) count as zero. ``w`` is already flipped.
    """
    n_, h, wd, c = x.shape
    k0, k1 = w.shape[0], w.shape[1]
    o0, o1 = out.shape[1], out.shape[2]
    acc = np.empty(c, out.dtype)
    for row in range(lo, hi):
        n = row // o0
        i = row - n * o0
        for j in range(o1):
            acc[:] = 0
            for a in range(k0):
                r = s0 * i + a - b0
                if r < 0 or r >= h:
                    continue
                for b in range(k1):
                    q = s1 * j + b - b1
                    if q < 0 or q >= wd:
                        continue
                    for k in range(c):
                        acc[k] += x[n, r, q, k] * w[a, b, k]
            for k in range(c):
                out[n, i, j, k] = acc[k]


@_jit
def activate_rows(p, shift, scale, top, out, lo, hi):  # pragma: no cover - compiled
    """``out[m, f] = clip(ceil((p[m, f] - shift[f]) / scale[f]), 0, top)`` for rows m in [lo, hi), in shift's dtype."""
    f = p.shape[1]
    zero, high = shift.dtype.type(0), shift.dtype.type(top)
    for m in range(lo, hi):
        for k in range(f):
            q = np.ceil((p[m, k] - shift[k]) / scale[k])
            out[m, k] = np.uint8(min(max(q, zero), high))




@_jit
def levels_rows(p, cuts, out, lo, hi):  # pragma: no cover - compiled
    """``out[m, f] = #{k : p[m, f] > cuts[k, f]}`` for rows m in [lo, hi) (cuts ascending along k)."""
    f = p.shape[1]
    for m in range(lo, hi):
        for k in range(f):
            out[m, k] = 0
        for cut in range(cuts.shape[0]):  # cut-major, so that the inner loop runs along f
            for k in range(f):
                out[m, k] += np.uint8(p[m, k] > cuts[cut, k])

@_jit
def max_pool_rows(p, k0, k1, s0, s1, b0, b1, lo_clip, hi_clip, out, lo, hi):  # pragma: no cover - compiled
    """``out[n, i, j, c]`` = max of ``p`` over the window at ``(s0·i - b0, s1·j - b1)`` (cells inside ``p``
    only), clipped to ``[lo_clip, hi_clip]``, for flat rows n·o0 + i in [lo, hi)."""
    h, wd, c = p.shape[1], p.shape[2], p.shape[3]
    o0, o1 = out.shape[1], out.shape[2]
    acc = np.empty(c, p.dtype)
    for row in range(lo, hi):
        n = row // o0
        i = row - n * o0
        r0, r1 = max(s0 * i - b0, 0), min(s0 * i - b0 + k0, h)
        for j in range(o1):
            q0, q1 = max(s1 * j - b1, 0), min(s1 * j - b1 + k1, wd)
            for k in range(c):
                acc[k] = p[n, r0, q0, k]
            for r in range(r0, r1):
                for q in range(q0, q1):
                    for k in range(c):
                        v = p[n, r, q, k]
                        acc[k] = v if v > acc[k] else acc[k]
            for k in range(c):
                v = acc[k]
                out[n, i, j, k] = lo_clip if v < lo_clip else (hi_clip if v > hi_clip else v)


@_jit
def window_sums(x, k0, k1, s0, s1, b0, b1, o0, o1, pad, out):  # pragma: no cover - compiled
    """``out[n, a, b, c] = Σ_ij x[n, s0·i + a - b0, s1·j + b - b1, c]`` over the o0·o1 output cells.

    Cells outside ``x`` count as ``pad``."""
    h, wd, c = x.shape[1], x.shape[2], x.shape[3]
    fill = out.dtype.type(pad)
    for n in range(x.shape[0]):
        for a in range(k0):
            for b in range(k1):
                acc = out[n, a, b]
                acc[:] = 0
                for i in range(o0):
                    r = s0 * i + a - b0
                    for j in range(o1):
                        q = s1 * j + b - b1
                        if 0 <= r < h and 0 <= q < wd:
                            for k in range(c):
                                acc[k] += x[n, r, q, k]
                        else:
                            for k in range(c):
                                acc[k] += fill


@_jit
def count_nonzero_rows(h, out):  # pragma: no cover - compiled
    """``out[n] = #{nonzero h[n, :]}`` for a 2-D ``h``."""
    for n in range(h.shape[0]):
        total = 0
        for k in range(h.shape[1]):
            total += h[n, k] != 0
        out[n] = total
