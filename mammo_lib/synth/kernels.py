"""Compiled (numba) loops of phantom v2: the same float32 operations, in the same order, as the numpy expressions
they replaced, so that every rendered view keeps its bytes (issue 29).

Numba compiles these without fast-math: no reassociation and no fused multiply-add, so each ``+``, ``*``, ``/``
and ``sqrt`` rounds exactly as numpy's does on every CPU. Transcendental functions (``exp``, ``tanh``, ``arctan2``)
stay in numpy, whose own implementations the twin's checksums were made with; what moves here is the arithmetic
and gathering that numpy spreads over many temporary arrays. ``tests/test_synth_kernels.py`` holds the numpy
formulas and checks every kernel against them bit for bit.

Compiled on first use and cached beside this file (``__pycache__``), so a fresh clone compiles once.
"""
from __future__ import annotations

import numba
import numpy as np

f32 = np.float32
_jit = numba.njit(cache=True, nogil=True, fastmath=False, error_model="numpy")


@_jit
def _weights(factor: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per output phase ``k`` of an integer upsampling: whether it reads the sample before (``back``) and the
    float32 weights of its two neighbours (``1 - t``, ``t``), as :func:`mammo_lib.synth.texture.upsample_linear`
    defines them."""
    back = np.zeros(factor, dtype=np.bool_)
    w0 = np.empty(factor, dtype=np.float32)
    w1 = np.empty(factor, dtype=np.float32)
    for k in range(factor):
        o = (k + 0.5) / factor - 0.5
        t = o if o >= 0 else 1.0 + o
        back[k] = o < 0
        w0[k] = f32(1.0 - t)
        w1[k] = f32(t)
    return back, w0, w1


@_jit
def _neighbours(j: int, n: int, back: bool) -> tuple[int, int]:
    """The two input samples between which output sample ``j`` of its phase lies (edges repeated)."""
    if back:
        return max(j - 1, 0), j
    return j, min(j + 1, n - 1)


@_jit
def _row(a: np.ndarray, i: int, factor: int, back: np.ndarray, w0: np.ndarray, w1: np.ndarray,
         line: np.ndarray) -> None:
    """Fine-grid row ``i`` of ``a`` resampled along the rows only (rounded to float32), into ``line``."""
    if factor == 1:
        line[:] = a[i]
        return
    k = i % factor
    r0, r1 = _neighbours(i // factor, a.shape[0], back[k])
    u, v = w0[k], w1[k]
    for c in range(a.shape[1]):
        line[c] = a[r0, c] * u + a[r1, c] * v


@_jit
def _columns(line: np.ndarray, factor: int, back: np.ndarray, w0: np.ndarray, w1: np.ndarray,
             out: np.ndarray) -> None:
    """``line`` resampled along the columns into ``out`` (cropped to its length)."""
    m, cols = len(line), len(out)
    if factor == 1:
        out[:] = line[:cols]
        return
    for k in range(factor):
        u, v = w0[k], w1[k]
        for c in range(m):
            j = c * factor + k
            if j >= cols:
                break
            c0, c1 = _neighbours(c, m, back[k])
            out[j] = line[c0] * u + line[c1] * v


@_jit
def upsample_linear(a: np.ndarray, rows: int, cols: int, factor: int) -> np.ndarray:
    """Bilinear upsampling of float32 ``a`` by ``factor`` (> 1), cropped to ``rows`` x ``cols``
    (:func:`mammo_lib.synth.texture.upsample_linear`): along the rows first, rounded to float32, then along the
    columns, as the numpy version did in two passes."""
    back, w0, w1 = _weights(factor)
    out = np.empty((rows, cols), dtype=np.float32)
    line = np.empty(a.shape[1], dtype=np.float32)
    for i in range(rows):
        _row(a, i, factor, back, w0, w1, line)
        _columns(line, factor, back, w0, w1, out[i])
    return out


@_jit
def neg_square_upsampled(q: np.ndarray, rows: int, cols: int, factor: int) -> np.ndarray:
    """``-(f * f)`` of ``f`` = :func:`upsample_linear` of float32 ``q``: the exponent of a
    Gaussian ridge."""
    out = upsample_linear(q, rows, cols, factor)
    for i in range(rows):
        for j in range(cols):
            out[i, j] = -(out[i, j] * out[i, j])
    return out


@_jit
def add_product_upsampled(out: np.ndarray, e: np.ndarray, amp: np.ndarray, factor: int) -> None:
    """``out += e * upsample_linear(amp)`` in place (``out`` and ``e`` of one shape; the product
    rounded to float32 before it is added)."""
    back, w0, w1 = _weights(factor)
    line = np.empty(amp.shape[1], dtype=np.float32)
    fine = np.empty(out.shape[1], dtype=np.float32)
    for i in range(out.shape[0]):
        _row(amp, i, factor, back, w0, w1, line)
        _columns(line, factor, back, w0, w1, fine)
        for j in range(out.shape[1]):
            out[i, j] += e[i, j] * fine[j]


@_jit
def rank_candidates(cand: np.ndarray, block: np.ndarray, s0: np.ndarray, s1: np.ndarray, s2: np.ndarray,
                    q0: np.ndarray, q1: np.ndarray, q2: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The two nearest of each point's candidate seeds and its distance to their bisecting plane.

    ``cand`` (blocks, k): candidate seeds per block, in the order the k-d tree gave them; ``block`` (points,): each
    point's block; ``s0..s2`` the seeds' and ``q0..q2`` the points' coordinates (float32). Squared distances
    summed over the coordinates in order; a later candidate replaces an earlier one only when strictly nearer.
    Returns (nearest, second nearest) as int32 and ``(d2 - d1) / (2 |s2 - s1|)`` (float32, the gap at least 1e-6).
    """
    n = len(block)
    first = np.empty(n, dtype=np.int32)
    second = np.empty(n, dtype=np.int32)
    b = np.empty(n, dtype=np.float32)
    eps, two = f32(1e-6), f32(2.0)
    for p in range(n):
        row = block[p]
        x, y, z = q0[p], q1[p], q2[p]
        m = np.int32(cand[row, 0])
        dx, dy, dz = s0[m] - x, s1[m] - y, s2[m] - z
        near = dx * dx
        near += dy * dy
        near += dz * dz
        f, s, far = m, m, f32(np.inf)
        for c in range(1, cand.shape[1]):
            m = np.int32(cand[row, c])
            dx, dy, dz = s0[m] - x, s1[m] - y, s2[m] - z
            d = dx * dx
            d += dy * dy
            d += dz * dz
            if d < near:
                s, far, f, near = f, near, m, d
            elif d < far:
                s, far = m, d
        gx, gy, gz = s0[s] - s0[f], s1[s] - s1[f], s2[s] - s2[f]
        gap2 = gx * gx
        gap2 += gy * gy
        gap2 += gz * gz
        first[p], second[p] = f, s
        b[p] = (far - near) / (two * max(np.sqrt(gap2), eps))
    return first, second, b


@_jit
def pair_values(id1: np.ndarray, id2: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """The fractional part of ``u[lo] + v[hi] + u[hi] * v[lo]`` per pair of cells (``lo``/``hi`` the smaller and
    larger index; float32 ``u``, ``v`` in [0, 1))."""
    out = np.empty(len(id1), dtype=np.float32)
    for p in range(len(id1)):
        lo, hi = min(id1[p], id2[p]), max(id1[p], id2[p])
        x = u[lo] + v[hi] + u[hi] * v[lo]
        out[p] = np.fmod(x, f32(1.0))  # exact, and as np.mod for x >= 0
    return out


# --- the k nearest seeds (what scipy's cKDTree.query gave, on a uniform grid of buckets) ----------------------
@_jit
def bucket_seeds(seeds: np.ndarray, per_cell: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                                                               np.ndarray]:
    """A uniform grid over ``seeds`` ((S, 3) float64) with about ``per_cell`` seeds a cell: (origin, cell size
    per axis, cells per axis, start of each cell's run in ``order`` (cells + 1), seed indices ordered by cell)."""
    lo = np.empty(3)
    hi = np.empty(3)
    for d in range(3):
        lo[d], hi[d] = seeds[:, d].min(), seeds[:, d].max()
    extent = np.maximum(hi - lo, 1e-9)
    side = (extent[0] * extent[1] * extent[2] * per_cell / len(seeds)) ** (1.0 / 3.0)
    dims = np.maximum(1, np.minimum(256, np.floor(extent / side).astype(np.int64)))
    size = extent / dims
    cell = np.empty(len(seeds), dtype=np.int64)
    for i in range(len(seeds)):
        c = 0
        for d in range(3):
            k = min(max(int((seeds[i, d] - lo[d]) / size[d]), 0), dims[d] - 1)
            c = c * dims[d] + k
        cell[i] = c
    order = np.argsort(cell, kind="mergesort").astype(np.int64)
    start = np.zeros(dims[0] * dims[1] * dims[2] + 1, dtype=np.int64)
    for i in range(len(seeds)):
        start[cell[i] + 1] += 1
    for c in range(1, len(start)):
        start[c] += start[c - 1]
    return lo, size, dims, start, order


@_jit
def nearest_seeds(seeds: np.ndarray, lo: np.ndarray, size: np.ndarray, dims: np.ndarray, start: np.ndarray,
                  order: np.ndarray, pts: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` seeds nearest to each point of ``pts`` ((N, 3)), nearest first: (N, k) int64 indices into
    ``seeds`` (the grid of :func:`bucket_seeds`). Exact: cells are searched in growing shells around the
    point's cell until no unsearched cell can hold a nearer seed than the k-th found. Squared distances are
    summed in float64 over the axes in order, as scipy's k-d tree does; of equal distances the seed met first
    comes first."""
    n = len(pts)
    out = np.empty((n, k), dtype=np.int64)
    best_d = np.empty(k)
    best_i = np.empty(k, dtype=np.int64)
    home = np.empty(3, dtype=np.int64)
    for p in range(n):
        x = (np.float64(pts[p, 0]), np.float64(pts[p, 1]), np.float64(pts[p, 2]))
        for d in range(3):
            home[d] = min(max(int(np.floor((x[d] - lo[d]) / size[d])), 0), dims[d] - 1)
        found = 0
        radius = 0
        while True:
            for a in range(max(home[0] - radius, 0), min(home[0] + radius, dims[0] - 1) + 1):
                for b in range(max(home[1] - radius, 0), min(home[1] + radius, dims[1] - 1) + 1):
                    for c in range(max(home[2] - radius, 0), min(home[2] + radius, dims[2] - 1) + 1):
                        if max(abs(a - home[0]), abs(b - home[1]), abs(c - home[2])) != radius:
                            continue  # searched in an earlier shell
                        cell = (a * dims[1] + b) * dims[2] + c
                        for t in range(start[cell], start[cell + 1]):
                            s = order[t]
                            e = x[0] - seeds[s, 0]
                            dist = e * e
                            e = x[1] - seeds[s, 1]
                            dist += e * e
                            e = x[2] - seeds[s, 2]
                            dist += e * e
                            if found == k and dist >= best_d[k - 1]:
                                continue
                            j = min(found, k - 1)
                            while j > 0 and best_d[j - 1] > dist:
                                best_d[j], best_i[j] = best_d[j - 1], best_i[j - 1]
                                j -= 1
                            best_d[j], best_i[j] = dist, s
                            found = min(found + 1, k)
            # the nearest an unsearched cell can be: the distance to the searched box's open faces
            gap = np.inf
            for d in range(3):
                if home[d] - radius > 0:
                    gap = min(gap, x[d] - (lo[d] + (home[d] - radius) * size[d]))
                if home[d] + radius < dims[d] - 1:
                    gap = min(gap, lo[d] + (home[d] + radius + 1) * size[d] - x[d])
            gap -= 1e-6  # margin for the rounding of the cell faces (coordinates in mm)
            if gap == np.inf or (found == k and gap > 0 and gap * gap >= best_d[k - 1]):
                break
            radius += 1
        for j in range(k):
            out[p, j] = best_i[j]
    return out
