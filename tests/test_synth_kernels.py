"""The compiled loops of phantom v2 give the bits of the numpy expressions they replaced (the twin's checksums
depend on it): each numpy formula is kept here as the reference."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import spatial

from mammo_lib.synth import kernels

f32 = np.float32


def _upsample_parts(a: np.ndarray, factor: int, axis: int) -> list[np.ndarray]:
    first, last = (a[:1], a[-1:]) if axis == 0 else (a[:, :1], a[:, -1:])
    padded = np.concatenate([first, a, last], axis=axis)
    n = a.shape[axis]
    parts = []
    for k in range(factor):
        o = (k + 0.5) / factor - 0.5
        start, t = (1, o) if o >= 0 else (0, 1.0 + o)
        lo, hi = ((padded[start:start + n], padded[start + 1:start + 1 + n]) if axis == 0
                  else (padded[:, start:start + n], padded[:, start + 1:start + 1 + n]))
        parts.append(lo * np.float32(1.0 - t) + hi * np.float32(t))
    return parts


def upsample_numpy(a: np.ndarray, shape: tuple[int, int], factor: int) -> np.ndarray:
    out = np.asarray(a, dtype=np.float32)
    if factor == 1:
        return out[: shape[0], : shape[1]]
    out = np.concatenate(_upsample_parts(out, factor, axis=0), axis=1).reshape(-1, out.shape[1])
    out = np.stack(_upsample_parts(out, factor, axis=1), axis=-1).reshape(out.shape[0], -1)
    return out[: shape[0], : shape[1]]


def rank_numpy(cand, block, seeds, pts):
    mine = np.ascontiguousarray(cand.astype(np.int32).T)[:, block]
    s = [np.ascontiguousarray(seeds[:, c], dtype=np.float32) for c in range(3)]
    q = [np.ascontiguousarray(pts[:, c], dtype=np.float32) for c in range(3)]

    def dist2(m):
        out = (s[0][m] - q[0]) ** 2
        for c in (1, 2):
            out += (s[c][m] - q[c]) ** 2
        return out

    near, first = dist2(mine[0]), mine[0]
    far, second = np.full(len(first), np.inf, dtype=np.float32), mine[0]
    for m in mine[1:]:
        d = dist2(m)
        nearer = d < near
        second = np.where(nearer, first, np.where(d < far, m, second))
        far = np.where(nearer, near, np.minimum(d, far))
        first, near = np.where(nearer, m, first), np.where(nearer, d, near)
    gap2 = (s[0][second] - s[0][first]) ** 2
    for c in (1, 2):
        gap2 += (s[c][second] - s[c][first]) ** 2
    b = (far - near) / (f32(2.0) * np.maximum(np.sqrt(gap2), f32(1e-6)))
    return first, second, b.astype(np.float32)


def _bits(a: np.ndarray) -> bytes:
    return np.ascontiguousarray(a).tobytes()


@pytest.mark.parametrize("factor", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("shape", [(1, 1), (2, 7), (37, 23)])
def test_upsampling_gives_the_numpy_passes_bits(factor, shape):
    rng = np.random.default_rng(factor * 100 + shape[0])
    a = (rng.standard_normal(shape) * 10 ** rng.uniform(-3, 3, shape)).astype(np.float32)
    for crop in ((shape[0] * factor, shape[1] * factor), (shape[0] * factor - factor + 1, max(1, shape[1] * factor - 1))):
        want = upsample_numpy(a, crop, factor)
        got = kernels.upsample_linear(a, crop[0], crop[1], factor)
        assert got.dtype == np.float32 and got.shape == want.shape and _bits(got) == _bits(want)
        assert _bits(kernels.neg_square_upsampled(a, crop[0], crop[1], factor)) == _bits(-(want * want))
        base = rng.standard_normal(crop).astype(np.float32)
        e = rng.uniform(size=crop).astype(np.float32)
        out = base.copy()
        kernels.add_product_upsampled(out, e, a, factor)
        ref = base.copy()
        ref += e * want
        assert _bits(out) == _bits(ref)


def test_candidate_ranking_gives_the_numpy_bits_on_a_voronoi_partition():
    rng = np.random.default_rng(7)
    seeds = rng.uniform(0, 50, (400, 3)) * [1.0, 2.0, 0.3]
    pts = (rng.uniform(0, 50, (20000, 3)) * [1.0, 2.0, 0.3]).astype(np.float32)
    block_pts = pts[::4]
    block = np.repeat(np.arange(len(block_pts)), 4)[: len(pts)]
    _, cand = spatial.cKDTree(seeds).query(block_pts, k=4)
    seeds_ties = seeds.copy()
    seeds_ties[1] = seeds_ties[0]  # a duplicated seed: ties broken the same way
    for s in (seeds, seeds_ties):
        want = rank_numpy(cand, block, s, pts)
        s32 = [np.ascontiguousarray(s[:, c], dtype=np.float32) for c in range(3)]
        got = kernels.rank_candidates(cand, block, *s32, *(np.ascontiguousarray(pts[:, c]) for c in range(3)))
        for g, w in zip(got, want):
            assert g.dtype == w.dtype and _bits(g) == _bits(w)


def test_pair_values_give_the_numpy_bits_and_are_symmetric():
    rng = np.random.default_rng(3)
    u, v = (rng.uniform(0, 1, 500).astype(np.float32) for _ in range(2))
    id1, id2 = rng.integers(0, 500, 10000).astype(np.int32), rng.integers(0, 500, 10000).astype(np.int32)
    lo, hi = np.minimum(id1, id2), np.maximum(id1, id2)
    want = np.mod(u[lo] + v[hi] + u[hi] * v[lo], 1.0).astype(np.float32)
    got = kernels.pair_values(id1, id2, u, v)
    assert _bits(got) == _bits(want)
    assert _bits(got) == _bits(kernels.pair_values(id2, id1, u, v))


@pytest.mark.parametrize("n_seeds", [30, 2000])
def test_nearest_seeds_are_the_k_d_trees(n_seeds):
    rng = np.random.default_rng(n_seeds)
    seeds = rng.uniform(0, 1, (n_seeds, 3)) * [80.0, 150.0, 8.0] + [0.0, -75.0, -4.0]  # anisotropic, as the cells
    pts = (rng.uniform(-0.2, 1.2, (30000, 3)) * [80.0, 150.0, 8.0] + [0.0, -75.0, -4.0]).astype(np.float32)
    want = spatial.cKDTree(seeds).query(pts, k=4)[1]
    for per_cell in (0.5, 2.0, 8.0):
        got = kernels.nearest_seeds(seeds, *kernels.bucket_seeds(seeds, per_cell), pts, 4)
        assert got.dtype == np.int64 and np.array_equal(got, want)
