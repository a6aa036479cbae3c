"""A slow, obviously-correct reference of docs/design.md#simulator-arithmetic, one Python integer at a time.

It shares no code with ``akida_nb.sim``: plain loops over output cells, Python ints, the
formulas exactly as the notes write them. The tests compare the vectorised simulator to it.
"""
from __future__ import annotations

import math

import numpy as np

INT20 = (-(1 << 19), (1 << 19) - 1)


def _clip(v: int, lo: int, hi: int) -> int:
    return min(max(v, lo), hi)


def _wrap32(v: int) -> int:
    return (v + (1 << 31)) % (1 << 32) - (1 << 31)


def _pad_before(n: int, k: int, s: int, padding: str) -> tuple[int, int]:
    """(output size, cells of padding before) along one axis."""
    if padding == "valid":
        return (n - k) // s + 1, 0
    out = math.ceil(n / s)
    return out, max((out - 1) * s + k - n, 0) // 2


def conv(x, w, stride, padding, flip, pad_value):
    """x[d0][d1][c] ints, w numpy (k0, k1, C, F) -> nested list [o0][o1][F]."""
    d0, d1, cin = len(x), len(x[0]), len(x[0][0])
    k0, k1, _, f = w.shape
    o0, b0 = _pad_before(d0, k0, stride[0], padding)
    o1, b1 = _pad_before(d1, k1, stride[1], padding)
    wl = w.tolist()
    out = []
    for i in range(o0):
        row = []
        for j in range(o1):
            cell = []
            for ff in range(f):
                s = 0
                for a in range(k0):
                    for b in range(k1):
                        r, c = i * stride[0] + a - b0, j * stride[1] + b - b1
                        wa, wb = (k0 - 1 - a, k1 - 1 - b) if flip else (a, b)
                        for ch in range(cin):
                            v = x[r][c][ch] if 0 <= r < d0 and 0 <= c < d1 else pad_value
                            s += v * wl[wa][wb][ch][ff]
                cell.append(s)
            row.append(cell)
        out.append(row)
    return out


def separable(x, dw, pw, stride, padding):
    cin = len(x[0][0])
    depth = []
    for ch in range(cin):
        single = [[[v[ch]] for v in row] for row in x]
        depth.append(conv(single, dw[:, :, ch:ch + 1, :], stride, padding, True, 0))
    pwl = pw.tolist()
    o0, o1, f = len(depth[0]), len(depth[0][0]), pw.shape[3]
    return [[[sum(depth[ch][i][j][0] * pwl[0][0][ch][ff] for ch in range(cin)) for ff in range(f)]
             for j in range(o1)] for i in range(o0)]


def max_pool(p, size, stride, padding):
    d0, d1, f = len(p), len(p[0]), len(p[0][0])
    o0, b0 = _pad_before(d0, size[0], stride[0], padding)
    o1, b1 = _pad_before(d1, size[1], stride[1], padding)
    out = []
    for i in range(o0):
        row = []
        for j in range(o1):
            cell = []
            for ff in range(f):
                vals = [p[r][c][ff]
                        for r in range(i * stride[0] - b0, i * stride[0] - b0 + size[0]) if 0 <= r < d0
                        for c in range(j * stride[1] - b1, j * stride[1] - b1 + size[1]) if 0 <= c < d1]
                m = max(vals)
                cell.append(m if tuple(size) == (1, 1) else _clip(m, *INT20))
            row.append(cell)
        out.append(row)
    return out


def global_sum(p):
    f = len(p[0][0])
    out = []
    for ff in range(f):
        s = 0
        for row in p:
            for cell in row:
                s = _clip(s + cell[ff], *INT20)
        out.append(s)
    return [[out]]


def fully_connected(x, w):
    d0, d1, c = len(x), len(x[0]), len(x[0][0])
    flat = [0] * (d0 * d1 * c)
    for i in range(d0):
        for j in range(d1):
            for ch in range(c):
                flat[i + d0 * j + d0 * d1 * ch] = x[i][j][ch]
    wl = w[0, 0].tolist()
    return [[[_clip(sum(flat[k] * wl[k][u] for k in range(len(flat))), *INT20) for u in range(w.shape[3])]]]


def activate(p, threshold, act_step, bits):
    top = (1 << bits) - 1
    out = []
    for row in p:
        new_row = []
        for cell in row:
            new_cell = []
            for ff, v in enumerate(cell):
                d = _wrap32(v - int(threshold[ff]))
                step = math.floor(float(np.float32(act_step[ff])) * 16) % (1 << 28)
                new_cell.append(0 if d <= 0 else min(((d * (1 << bits) - 1) % (1 << 28)) // step + 1, top))
            new_row.append(new_cell)
        out.append(new_row)
    return out


def run_sample(model, variables, x):
    """Potentials and outputs of every layer for one sample ``x`` (d0, d1, C); nested int lists."""
    h = np.asarray(x).tolist()
    potentials, outputs = [], []
    for layer, v in zip(model.layers, variables):
        if layer.type == "FullyConnected":
            p = fully_connected(h, v["weights"])
        elif layer.type == "SeparableConvolutional":
            p = separable(h, v["weights"], v["weights_pw"], layer.kernel_stride, layer.padding)
        else:
            flip = layer.type != "InputConvolutional"
            p = conv(h, v["weights"], layer.kernel_stride, layer.padding, flip, layer.padding_value or 0)
        if layer.pool_type == "max":
            p = max_pool(p, layer.pool_size, layer.pool_stride, layer.padding)
        elif layer.pool_type == "average":
            p = global_sum(p)
        h = activate(p, v["threshold"], v["act_step"], layer.act_bits) if layer.activation else p
        potentials.append(p)
        outputs.append(h)
    return potentials, outputs


def predict(p, threshold, act_step):
    """float32(p - threshold) / float32(act_step) with the int32 wrap, cell by cell."""
    return [[[np.float32(_wrap32(v - int(threshold[ff]))) / np.float32(act_step[ff]) for ff, v in enumerate(cell)]
             for cell in row] for row in p]
