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
    h, wd, c = x.shape[1], x.shape[2], x.shape[3]
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


@_jit
def winograd_input(x, b0, b1, t0, t1, v):  # pragma: no cover - compiled
    """``v[4·r + s, tile, c]``: the F(2×2, 3×3) input transform ``Bᵀ d B`` of every 4×4 input tile.

    Tile ``(n, i, j)`` (flat ``(n·t0 + i)·t1 + j``) covers input cells ``(2i - b0 + 0..3, 2j - b1 + 0..3)``,
    zero outside the image. ``Bᵀ = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]``.
    """
    h, wd, c = x.shape[1], x.shape[2], x.shape[3]
    d = np.zeros((4, 4, c), v.dtype)
    e = np.empty((4, 4, c), v.dtype)
    for n in range(x.shape[0]):
        for i in range(t0):
            for j in range(t1):
                tile = (n * t0 + i) * t1 + j
                for r in range(4):
                    rr = 2 * i - b0 + r
                    for s in range(4):
                        q = 2 * j - b1 + s
                        if 0 <= rr < h and 0 <= q < wd:
                            for k in range(c):
                                d[r, s, k] = x[n, rr, q, k]
                        else:
                            for k in range(c):
                                d[r, s, k] = 0
                for s in range(4):  # e = Bᵀ d, column by column
                    for k in range(c):
                        e[0, s, k] = d[0, s, k] - d[2, s, k]
                        e[1, s, k] = d[1, s, k] + d[2, s, k]
                        e[2, s, k] = d[2, s, k] - d[1, s, k]
                        e[3, s, k] = d[1, s, k] - d[3, s, k]
                for r in range(4):  # v = e B, row by row
                    for k in range(c):
                        v[4 * r + 0, tile, k] = e[r, 0, k] - e[r, 2, k]
                        v[4 * r + 1, tile, k] = e[r, 1, k] + e[r, 2, k]
                        v[4 * r + 2, tile, k] = e[r, 2, k] - e[r, 1, k]
                        v[4 * r + 3, tile, k] = e[r, 1, k] - e[r, 3, k]


@_jit
def winograd_output(m, t0, t1, out):  # pragma: no cover - compiled
    """``out``: the output transform ``Aᵀ m A / 4`` of every tile, cropped to ``out``'s (o0, o1).

    ``Aᵀ = [[1, 1, 1, 0], [0, 1, -1, -1]]``; the 4 undoes the doubled filter transform (exact: the
    sums are multiples of 4).
    """
    o0, o1, f = out.shape[1], out.shape[2], out.shape[3]
    e = np.empty((2, 4, f), m.dtype)
    quarter = m.dtype.type(0.25)
    for n in range(out.shape[0]):
        for i in range(t0):
            for j in range(t1):
                tile = (n * t0 + i) * t1 + j
                for s in range(4):  # e = Aᵀ m
                    for k in range(f):
                        e[0, s, k] = m[s, tile, k] + m[4 + s, tile, k] + m[8 + s, tile, k]
                        e[1, s, k] = m[4 + s, tile, k] - m[8 + s, tile, k] - m[12 + s, tile, k]
                for r in range(2):  # y = e A
                    rr = 2 * i + r
                    if rr >= o0:
                        continue
                    for k in range(f):
                        out[n, rr, 2 * j, k] = (e[r, 0, k] + e[r, 1, k] + e[r, 2, k]) * quarter
                    if 2 * j + 1 < o1:
                        for k in range(f):
                            out[n, rr, 2 * j + 1, k] = (e[r, 1, k] - e[r, 2, k] - e[r, 3, k]) * quarter
