"""Segmentation losses and the Betti number error, against independent references.

- Hu et al.'s loss: the squared 2-Wasserstein distance of gudhi's own cubical diagrams (POT inside
  gudhi.wasserstein), the paper's formula with the matching found by brute force, topolosses'
  ``HutopoLoss`` (the V-construction, where the two agree), gradcheck in float64.
- Betti matching: topolosses' ``BettiMatchingLoss`` (values and gradients), gradcheck.
- Betti number error: scipy.ndimage.label counts and the Euler characteristic counted cell by cell.
"""

from __future__ import annotations

import importlib.util
import itertools
import sys
import types
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

import difftda
from difftda.losses import betti_matching_loss, betti_number_error, hu_topological_loss

gudhi = pytest.importorskip("gudhi")
ndimage = pytest.importorskip("scipy.ndimage")

HAS_ENGINE = any(importlib.util.find_spec(m) is not None for m in ("topolosses", "betti_matching"))
needs_engine = pytest.mark.skipif(not HAS_ENGINE, reason="Betti-Matching-3D (pip install --no-deps topolosses) absent")
cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def topolosses_losses():
    """topolosses' loss classes. Its package imports OpenCV and torchvision for losses we do not
    call; when they are absent, empty stand-ins are put in their place for the import only."""
    if importlib.util.find_spec("topolosses") is None:
        pytest.skip("topolosses is not installed")
    added = []
    for name in ("cv2", "torchvision"):
        if name not in sys.modules and importlib.util.find_spec(name) is None:
            sys.modules[name] = types.ModuleType(name)
            added.append(name)
    try:
        from topolosses.losses.betti_matching.src.betti_matching_loss import BettiMatchingLoss
        from topolosses.losses.hutopo.src.hutopo_loss import HutopoLoss
    except ImportError as err:
        pytest.skip(f"topolosses cannot be imported here: {err}")
    finally:
        for name in added:
            sys.modules.pop(name, None)
    return HutopoLoss, BettiMatchingLoss


def ring_batch(B: int = 3, n: int = 20, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Binary targets (rings, bars, dots) and noisy float32 predictions in [0, 1], tie-free."""
    rng = np.random.default_rng(seed)
    tgt = np.zeros((B, 1, n, n), np.float32)
    for b in range(B):
        r0, c0 = rng.integers(2, 6, size=2)
        tgt[b, 0, r0:r0 + 8, c0:c0 + 8] = 1
        tgt[b, 0, r0 + 2:r0 + 6, c0 + 2:c0 + 6] = 0
        tgt[b, 0, 14:16, 3:17] = 1
        tgt[b, 0, rng.integers(0, n), rng.integers(0, n)] = 1
    pred = np.clip(0.7 * tgt + 0.3 * rng.random(tgt.shape), 0, 1).astype(np.float32)
    return torch.from_numpy(pred), torch.from_numpy(tgt)


def gudhi_finite(img: np.ndarray, construction: str, maxdim: int) -> list[np.ndarray]:
    """Finite superlevel bars (birth >= death) of one image from gudhi, per dimension."""
    neg = -np.asarray(img, np.float64)
    cc = (gudhi.CubicalComplex(top_dimensional_cells=neg) if construction == "T"
          else gudhi.CubicalComplex(vertices=neg))
    cc.compute_persistence(homology_coeff_field=2, min_persistence=0)
    out = []
    for k in range(maxdim + 1):
        iv = cc.persistence_intervals_in_dimension(k).reshape(-1, 2)
        iv = iv[np.isfinite(iv[:, 1])]
        out.append(-iv)
    return out


def w2_squared_gudhi(a: np.ndarray, b: np.ndarray) -> float:
    from gudhi.wasserstein import wasserstein_distance

    return float(wasserstein_distance(a, b, order=2, internal_p=2)) ** 2


def paper_formula(P: np.ndarray, T: np.ndarray) -> float:
    """Hu et al.'s sum over the predicted dots of the squared distance to their partner, minimized by
    brute force over every matching of the target's dots (unmatched dots go to the diagonal)."""
    diag = lambda p: 0.5 * (p[0] - p[1]) ** 2  # noqa: E731
    best = np.inf
    n, m = len(P), len(T)
    for r in range(min(n, m) + 1):
        for pr in itertools.permutations(range(n), r):
            for tr in itertools.combinations(range(m), r):
                cost = sum(diag(p) for p in P) + sum(diag(t) for t in T)
                for i, j in zip(pr, tr):
                    cost += ((P[i] - T[j]) ** 2).sum() - diag(P[i]) - diag(T[j])
                best = min(best, cost)
    return float(best)


# ----------------------------------------------------------------------------- Hu et al.


@pytest.mark.parametrize("construction", ["T", "V"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_hu_equals_w2_of_gudhi_diagrams(construction, dtype):
    pred, tgt = ring_batch(3, 20, seed=1)
    pred = pred.to(dtype)
    got = hu_topological_loss(pred, tgt, construction=construction)
    ref = np.mean([
        sum(w2_squared_gudhi(a, b) for a, b in zip(gudhi_finite(pred[i, 0].numpy(), construction, 1),
                                                   gudhi_finite(tgt[i, 0].numpy(), construction, 1)))
        for i in range(3)
    ])
    assert got.dtype == dtype
    np.testing.assert_allclose(got.item(), ref, rtol=1e-5)


def test_hu_soft_target_exact_matching():
    """Non-binary targets go through the exact assignment; gudhi's W2 is the reference."""
    rng = np.random.default_rng(3)
    pred = torch.from_numpy(rng.random((2, 1, 9, 9)))
    tgt = torch.from_numpy(rng.random((2, 1, 9, 9)))
    got = hu_topological_loss(pred, tgt)
    ref = np.mean([sum(w2_squared_gudhi(a, b) for a, b in zip(gudhi_finite(pred[i, 0].numpy(), "T", 1),
                                                              gudhi_finite(tgt[i, 0].numpy(), "T", 1)))
                   for i in range(2)])
    np.testing.assert_allclose(got.item(), ref, rtol=1e-9)


@pytest.mark.parametrize("construction", ["T", "V"])
def test_binary_target_bar_counts_equal_gudhi(construction):
    """A 0/1 target's bars are counted by labelling (and the Euler characteristic in 3-D): the
    counts equal the number of finite bars of gudhi's superlevel diagram, image by image."""
    from difftda.losses.segmentation import _binary_bar_counts

    rng = np.random.default_rng(21)
    for shape, maxdim in [((5, 13, 16), 1), ((3, 6, 7, 5), 2), ((3, 19), 0), ((2, 1, 9), 1)]:
        for p in (0.0, 0.35, 0.6, 1.0):
            t = rng.random(shape) < p
            got = _binary_bar_counts(t, maxdim, construction)
            grid = [x for x in shape[1:] if x > 1]
            ref = [[len(dg) for dg in gudhi_finite(im.reshape(grid).astype(np.float64), construction, maxdim)]
                   for im in t]
            assert got.T.tolist() == ref, (shape, p)


@pytest.mark.parametrize("jit", [True, False])
@pytest.mark.parametrize("construction", ["T", "V"])
def test_binary_2d_bar_counts_equal_cripser_on_many_masks(monkeypatch, construction, jit):
    """Image masks of every density, with foreground and holes on the border, one-pixel lines and
    checkerboards (8- against 4-connectivity): the counts equal cripser's finite superlevel bars,
    with the compiled pass and with scipy's labelling and the numpy Euler characteristic; a batch
    equals its images one by one."""
    import cripser

    import difftda
    from difftda.losses.segmentation import _binary_bar_counts

    if jit and not difftda._jit.enabled():
        pytest.skip("needs numba")
    monkeypatch.setattr(difftda._jit, "DISABLED", not jit)
    rng = np.random.default_rng(8)
    batch = rng.random((12, 10, 9)) < rng.random((12, 1, 1))
    np.testing.assert_array_equal(_binary_bar_counts(batch, 1, construction),
                                  np.concatenate([_binary_bar_counts(m[None], 1, construction) for m in batch], 1))
    masks = [rng.random((int(rng.integers(1, 14)), int(rng.integers(1, 14)))) < rng.random() for _ in range(120)]
    checker = (np.indices((7, 9)).sum(0) % 2).astype(bool)
    frame = np.ones((6, 8), bool)
    frame[1:-1, 1:-1] = False
    masks += [checker, ~checker, frame, ~frame, np.zeros((5, 5), bool), np.ones((5, 5), bool)]
    for t in masks:
        got = _binary_bar_counts(t[None], 1, construction)[:, 0].tolist()
        ph = cripser.compute_ph(-t.astype(np.float64), filtration=construction, maxdim=1)
        finite = ph[np.isfinite(ph[:, 2]) & (ph[:, 2] > ph[:, 1])]
        ref = [int((finite[:, 0] == k).sum()) for k in (0, 1)]
        if min(t.shape) == 1:  # cripser miscounts along an axis of length 1: a 1-D mask has no loops
            ref = [len(gudhi_finite(t.ravel().astype(np.float64), construction, 0)[0]), 0]
        assert got == ref, (t.astype(int), construction)


@pytest.mark.parametrize("construction", ["T", "V"])
@pytest.mark.parametrize("matching", ["optimal", "persistence"])
def test_hu_binary_target_equals_the_general_path(construction, matching):
    """The labelling path of 0/1 targets gives the loss of the persistence path, which a batch takes
    when one of its targets is not 0/1 (that image's own loss is then taken out)."""
    pred, tgt = ring_batch(3, 20, seed=4)
    soft = tgt.clone()
    soft[2] = 0.5 * soft[2] + 0.25  # not binary: the whole batch goes through persistence
    pred = pred.requires_grad_(True)
    kw = dict(construction=construction, matching=matching)
    fast = hu_topological_loss(pred[:2], tgt[:2], **kw) * 2
    slow_all = hu_topological_loss(pred, soft, **kw) * 3
    slow_last = hu_topological_loss(pred[2:], soft[2:], **kw)
    np.testing.assert_allclose(fast.item(), (slow_all - slow_last).item(), rtol=1e-5)
    g_fast, = torch.autograd.grad(fast, pred)
    g_slow, = torch.autograd.grad(slow_all - slow_last, pred)
    torch.testing.assert_close(g_fast, g_slow, rtol=1e-5, atol=1e-6)


def test_top_gains_kernel_equals_numpy(monkeypatch):
    """The compiled selection of the matched bars keeps the rows the numpy ranking keeps and those a
    plain Python sort keeps (tied gains by larger birth, larger death, smaller positions; no positive
    gain no match; more target bars than candidates), whatever the order of the rows in each item."""
    import difftda
    from difftda.losses.segmentation import _top_gains

    rng = np.random.default_rng(2)
    for _ in range(50):
        n = int(rng.integers(1, 6))
        item = np.sort(rng.integers(0, n, int(rng.integers(0, 200))))
        gain = np.round(rng.normal(0, 1, len(item)), 1)  # many ties, about half not positive
        pairs = np.round(rng.random((len(item), 2)), 1)
        index = rng.integers(0, 3, (len(item), 2))
        k = rng.integers(0, 30, n)
        key = {r: (-gain[r], -pairs[r, 0], -pairs[r, 1], index[r, 0], index[r, 1], r) for r in range(len(item))}
        expected = sorted(r for i in range(n) for r in sorted(
            (r for r in np.flatnonzero(item == i) if gain[r] > 0), key=key.get)[: k[i]])
        monkeypatch.setattr(difftda._jit, "DISABLED", False)
        fast = _top_gains(gain, item, k, n, pairs, index)
        monkeypatch.setattr(difftda._jit, "DISABLED", True)
        slow = _top_gains(gain, item, k, n, pairs, index)
        np.testing.assert_array_equal(slow, expected)
        if difftda._jit._have_numba():
            np.testing.assert_array_equal(fast, expected)


def _bar_set(dg) -> list[tuple]:
    return sorted(map(tuple, torch.cat([dg.index.double(), dg.pairs.detach().double()], 1).tolist()))


@pytest.mark.parametrize("jit", [True, False])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_hu_binary_does_not_depend_on_the_row_order(monkeypatch, jit, dtype):
    """The direct 0/1-target path reads the diagrams in the engine's row order; on the canonical
    diagrams it gives the same bars, the same value up to the order of the sums and the same gradient,
    ties between predicted bars included (a prediction with few distinct values)."""
    import difftda
    from difftda.losses import segmentation as seg

    if jit and not difftda._jit.enabled():
        pytest.skip("needs numba")
    monkeypatch.setattr(difftda._jit, "DISABLED", not jit)
    rng = np.random.default_rng(8)
    target = np.zeros((3, 1, 24, 24))
    target[:, :, 3:20, 3:20] = 1
    target[:, :, 8:12, 8:12] = 0
    target[1, :, 21:, 21:] = 1
    noisy = 0.6 * target + 0.4 * rng.random(target.shape)
    for pred in (noisy, np.round(noisy, 1)):
        x = torch.from_numpy(pred).to(dtype).reshape(3, 24, 24)
        counts = seg._binary_bar_counts(target.reshape(3, 24, 24) > 0.5, 1, "T")
        results = []
        for canonical in (True, False):
            xr = x.clone().requires_grad_(True)
            out = seg._cubical(xr, 1, 2, "T", canonical=canonical)
            loss = seg._hu_binary(out, counts, 3, 1, xr)
            loss.backward()
            results.append((out, loss.detach(), xr.grad))
        (oa, la, ga), (ob, lb, gb) = results
        assert not all(torch.equal(a.index, b.index) for a, b in zip(oa.cat(), ob.cat()))  # the orders differ
        for a, b in zip(oa.cat(), ob.cat()):  # the same bars
            assert _bar_set(a) == _bar_set(b)
        torch.testing.assert_close(la, lb, rtol=256 * torch.finfo(dtype).eps, atol=0)  # sums of many terms
        torch.testing.assert_close(ga, gb, rtol=4 * torch.finfo(dtype).eps, atol=4 * torch.finfo(dtype).eps)


def test_hu_paper_formula_brute_force():
    """Small diagrams: the paper's sum with the best matching found by enumeration."""
    tgt = np.zeros((1, 1, 8, 8))
    tgt[0, 0, 1:6, 1:6] = 1
    tgt[0, 0, 3, 3] = 0  # a hole
    tgt[0, 0, 7, 7] = 1  # a second component
    ran = 0
    for seed in range(6):
        rng = np.random.default_rng(seed)
        pred = np.clip(0.6 * tgt + 0.4 * rng.random(tgt.shape), 0, 1)
        pred[0, 0, 0, 6] = 0.95  # a spurious component
        P = gudhi_finite(pred[0, 0], "T", 1)
        T = gudhi_finite(tgt[0, 0], "T", 1)
        if max(len(p) for p in P) > 6:
            continue
        assert [len(t) for t in T] == [1, 1]
        ref = sum(paper_formula(a, b) for a, b in zip(P, T))
        got = hu_topological_loss(torch.from_numpy(pred), torch.from_numpy(tgt))
        np.testing.assert_allclose(got.item(), ref, rtol=1e-10)
        ran += 1
    assert ran >= 3


def test_hu_persistence_matching_is_the_reference_codes_rule():
    """matching='persistence': the k most persistent dots go to (1, 0), the rest to the diagonal."""
    pred, tgt = ring_batch(2, 20, seed=4)
    pred = pred.double()
    got = hu_topological_loss(pred, tgt, matching="persistence")
    total = 0.0
    for i in range(2):
        for P, T in zip(gudhi_finite(pred[i, 0].numpy(), "T", 1), gudhi_finite(tgt[i, 0].numpy(), "T", 1)):
            k = len(T)
            order = np.argsort(-(P[:, 0] - P[:, 1]), kind="stable")
            top, rest = P[order[:k]], P[order[k:]]
            total += ((top - np.array([1.0, 0.0])) ** 2).sum() + 0.5 * ((rest[:, 0] - rest[:, 1]) ** 2).sum()
            total += 0.5 * max(k - len(P), 0)
    np.testing.assert_allclose(got.item(), total / 2, rtol=1e-10)


def test_hu_equals_topolosses_with_v_construction():
    HutopoLoss, _ = topolosses_losses()
    pred, tgt = ring_batch(4, 24, seed=2)
    pred.requires_grad_(True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = HutopoLoss(use_base_loss=False, alpha=1.0)(pred, tgt)
    got = hu_topological_loss(pred, tgt, construction="V")
    np.testing.assert_allclose(got.item(), ref.item(), rtol=1e-5)
    g_ref, = torch.autograd.grad(ref, pred)
    g_got, = torch.autograd.grad(got, pred)
    torch.testing.assert_close(g_got, g_ref, rtol=1e-4, atol=1e-6)


def test_hu_gradcheck_float64():
    rng = np.random.default_rng(7)
    tgt = torch.zeros(2, 1, 6, 6, dtype=torch.float64)
    tgt[:, :, 1:5, 1:5] = 1
    tgt[:, :, 2:4, 2:4] = 0
    pred = torch.from_numpy(rng.random((2, 1, 6, 6))).requires_grad_(True)
    for construction in ("T", "V"):
        assert torch.autograd.gradcheck(
            lambda p, c=construction: hu_topological_loss(p, tgt, construction=c), (pred,), eps=1e-7, atol=1e-6)


def test_hu_perfect_prediction_is_zero_and_batch_is_mean():
    _, tgt = ring_batch(3, 20, seed=0)
    assert hu_topological_loss(tgt.clone(), tgt).item() == 0.0
    pred, tgt = ring_batch(3, 20, seed=6)
    whole = hu_topological_loss(pred, tgt)
    each = [hu_topological_loss(pred[i:i + 1], tgt[i:i + 1]) for i in range(3)]
    np.testing.assert_allclose(whole.item(), np.mean([e.item() for e in each]), rtol=1e-6)
    # channels are images too
    two_ch = hu_topological_loss(pred.reshape(1, 3, 20, 20), tgt.reshape(1, 3, 20, 20))
    np.testing.assert_allclose(two_ch.item(), whole.item(), rtol=1e-6)


def test_hu_volume_maxdim2():
    rng = np.random.default_rng(8)
    tgt = np.zeros((1, 1, 8, 8, 8))
    tgt[0, 0, 1:7, 1:7, 1:7] = 1
    tgt[0, 0, 3:5, 3:5, 3:5] = 0  # a cavity
    pred = np.clip(0.7 * tgt + 0.3 * rng.random(tgt.shape), 0, 1)
    got = hu_topological_loss(torch.from_numpy(pred), torch.from_numpy(tgt), spatial_dims=3, maxdim=2)
    ref = sum(w2_squared_gudhi(a, b) for a, b in zip(gudhi_finite(pred[0, 0], "T", 2), gudhi_finite(tgt[0, 0], "T", 2)))
    np.testing.assert_allclose(got.item(), ref, rtol=1e-9)


def test_module_twins_and_errors():
    pred, tgt = ring_batch(2, 16, seed=0)
    crit = difftda.nn.HuTopologicalLoss(construction="V")
    assert crit(pred, tgt).item() == hu_topological_loss(pred, tgt, construction="V").item()
    assert "construction='V'" in repr(crit)
    with pytest.raises(ValueError, match="construction"):
        difftda.nn.HuTopologicalLoss(construction="X")
    with pytest.raises(ValueError, match="maxdim"):
        hu_topological_loss(pred, tgt, maxdim=2)
    with pytest.raises(ValueError, match="sigmoid"):
        hu_topological_loss(pred * 3 - 1, tgt)
    with pytest.raises(ValueError, match="spatial"):
        hu_topological_loss(pred[:, 0], tgt[:, 0])
    with pytest.raises(ValueError, match="shape"):
        hu_topological_loss(pred, tgt[:, :, :8])
    with pytest.raises(TypeError, match="pred"):
        hu_topological_loss(pred.numpy(), tgt)
    with pytest.raises(TypeError, match="topology_weights"):
        difftda.nn.BettiMatchingLoss(topology_weights=1.0)


# ----------------------------------------------------------------------------- Betti matching


@needs_engine
def test_betti_matching_equals_topolosses():
    _, BettiMatchingLoss = topolosses_losses()
    pred, tgt = ring_batch(4, 24, seed=3)
    for kwargs, ours in [({}, {}), ({"topology_weights": (0.7, 2.0), "barcode_length_threshold": 0.1},
                                    {"topology_weights": (0.7, 2.0), "barcode_length_threshold": 0.1}),
                         ({"filtration_type": "sublevel"}, {"superlevel": False})]:
        p = pred.clone().requires_grad_(True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = BettiMatchingLoss(use_base_loss=False, alpha=1.0, **kwargs)(p, tgt)
        got = betti_matching_loss(p, tgt, **ours)
        np.testing.assert_allclose(got.item(), ref.item(), rtol=1e-5)
        g_ref, = torch.autograd.grad(ref, p)
        g_got, = torch.autograd.grad(got, p)
        torch.testing.assert_close(g_got, g_ref, rtol=1e-4, atol=1e-6)


@needs_engine
def test_betti_matching_volume_and_module():
    _, BettiMatchingLoss = topolosses_losses()
    rng = np.random.default_rng(1)
    tgt = torch.from_numpy((rng.random((2, 1, 7, 7, 7)) > 0.6).astype(np.float32))
    pred = torch.from_numpy(rng.random((2, 1, 7, 7, 7)).astype(np.float32))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = BettiMatchingLoss(use_base_loss=False, alpha=1.0)(pred, tgt)
    got = difftda.nn.BettiMatchingLoss(spatial_dims=3)(pred, tgt)
    np.testing.assert_allclose(got.item(), ref.item(), rtol=1e-5)


@needs_engine
def test_betti_matching_gradcheck_and_zero():
    _, tgt = ring_batch(2, 12, seed=0)
    assert betti_matching_loss(tgt.clone(), tgt).item() == 0.0
    rng = np.random.default_rng(2)
    pred = torch.from_numpy(rng.random((2, 1, 6, 6))).requires_grad_(True)
    t = torch.zeros(2, 1, 6, 6, dtype=torch.float64)
    t[:, :, 1:5, 1:5] = 1
    t[:, :, 2:4, 2:4] = 0
    assert torch.autograd.gradcheck(lambda p: betti_matching_loss(p, t), (pred,), eps=1e-7, atol=1e-6)


# ----------------------------------------------------------------------------- Betti number error


def betti_scipy(mask: np.ndarray, construction: str) -> list[int]:
    """Betti numbers of a binary 2-D or 3-D mask from connected-component labels (and, for the loops of
    a volume, the Euler characteristic counted cell by cell)."""
    d = mask.ndim
    full, face = np.ones((3,) * d), ndimage.generate_binary_structure(d, 1)
    fg_conn, bg_conn = (full, face) if construction == "T" else (face, full)
    b0 = ndimage.label(mask, structure=fg_conn)[1]
    padded = np.pad(~mask, 1, constant_values=True)
    holes = ndimage.label(padded, structure=bg_conn)[1] - 1  # the outside is one region
    if d == 2:
        return [b0, holes]
    chi = euler_characteristic(mask, construction)
    return [b0, b0 + holes - chi, holes]


def euler_characteristic(mask: np.ndarray, construction: str) -> int:
    """Vertices - edges + squares - cubes of the cubical complex of a 3-D mask, counted cell by cell.

    A cell spans the axes ``e[ax] == 1``. T: voxels are cubes and a cell is in when one of the voxels
    around it is (one voxel across a spanned axis, two across the others). V: voxels are vertices and
    a cell is in when all its corner voxels are (two across a spanned axis, one across the others).
    """
    m = mask.astype(bool)
    chi = 0
    for e in itertools.product((0, 1), repeat=3):
        acc = None
        if construction == "T":
            p = np.pad(m, 1)
            for corner in itertools.product(*[(1,) if s else (0, 1) for s in e]):
                sl = tuple(slice(c, c + n - (2 if s else 1)) for c, n, s in zip(corner, p.shape, e))
                acc = p[sl] if acc is None else acc | p[sl]
        else:
            for corner in itertools.product(*[(0, 1) if s else (0,) for s in e]):
                sl = tuple(slice(c, c + n - s) for c, n, s in zip(corner, m.shape, e))
                acc = m[sl] if acc is None else acc & m[sl]
        chi += (-1) ** sum(e) * int(acc.sum())
    return chi


@pytest.mark.parametrize("construction", ["T", "V"])
def test_betti_number_error_2d_against_labels(construction):
    rng = np.random.default_rng(11)
    pred = rng.random((3, 2, 15, 17))
    tgt = (rng.random((3, 2, 15, 17)) > 0.55).astype(np.float64)
    got = betti_number_error(torch.from_numpy(pred), torch.from_numpy(tgt), construction=construction)
    assert got.shape == (3, 2, 2) and got.dtype == torch.int64
    for b, c in itertools.product(range(3), range(2)):
        bp = betti_scipy(pred[b, c] >= 0.5, construction)
        bt = betti_scipy(tgt[b, c] >= 0.5, construction)
        assert got[b, c].tolist() == [abs(x - y) for x, y in zip(bp, bt)]


@pytest.mark.parametrize("construction", ["T", "V"])
def test_betti_number_error_3d_against_labels_and_euler(construction):
    rng = np.random.default_rng(12)
    pred = rng.random((2, 1, 7, 8, 6))
    tgt = np.zeros_like(pred)
    got = betti_number_error(torch.from_numpy(pred), torch.from_numpy(tgt), construction=construction, spatial_dims=3)
    for b in range(2):
        assert got[b, 0].tolist() == betti_scipy(pred[b, 0] >= 0.5, construction)


def test_betti_numbers_of_known_shapes():
    ring = torch.zeros(1, 1, 9, 9)
    ring[..., 1:8, 1:8] = 1
    ring[..., 3:6, 3:6] = 0
    empty = torch.zeros_like(ring)
    assert betti_number_error(ring, empty).tolist() == [[[1, 1]]]
    diag = torch.zeros(1, 1, 4, 4)
    diag[..., 0, 0] = diag[..., 1, 1] = 1
    assert betti_number_error(diag, torch.zeros_like(diag), construction="T").tolist() == [[[1, 0]]]
    assert betti_number_error(diag, torch.zeros_like(diag), construction="V").tolist() == [[[2, 0]]]


# ----------------------------------------------------------------------------- the example


def test_example_topology_lowers_betti_error():
    """Seeded, CPU: fine-tuning with Dice + Hu's term gives fewer Betti errors than Dice alone from the
    same start, at a similar Dice score."""
    path = Path(__file__).resolve().parents[1] / "examples" / "segmentation.py"
    spec = importlib.util.spec_from_file_location("difftda_example_segmentation", path)
    ex = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ex)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        out = ex.run(quick=True, topo="hu", seed=0, verbose=False)
    finally:
        torch.set_num_threads(threads)
    dice, topo = out["results"]["dice"], out["results"]["dice+topo"]
    assert topo["betti"] < 0.85 * dice["betti"]
    assert topo["dice"] > dice["dice"] - 0.05


# ----------------------------------------------------------------------------- CUDA


@pytest.mark.gpu
@cuda
def test_cuda_matches_cpu():
    pred, tgt = ring_batch(3, 20, seed=9)
    for f in (lambda p, t: hu_topological_loss(p, t), lambda p, t: betti_number_error(p, t).float().sum()) + (
            (lambda p, t: betti_matching_loss(p, t),) if HAS_ENGINE else ()):
        p_cpu = pred.clone().requires_grad_(True)
        p_gpu = pred.cuda().requires_grad_(True)
        a, b = f(p_cpu, tgt), f(p_gpu, tgt.cuda())
        assert b.device.type == "cuda"
        np.testing.assert_allclose(b.item(), a.item(), rtol=1e-5)
        if a.requires_grad:
            ga, = torch.autograd.grad(a, p_cpu)
            gb, = torch.autograd.grad(b, p_gpu)
            torch.testing.assert_close(gb.cpu(), ga)


@pytest.mark.skipif(not __import__("difftda")._jit.enabled(), reason="needs numba")
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_hu_fused_node_equals_the_torch_path(monkeypatch, dtype):
    """With compiled kernels a 0/1 target takes one fused node; its value and gradient equal those of
    the path made of torch operations on the diagrams (kernels off) up to rounding, ties included, and
    its forward-mode derivative equals the gradient's projection."""
    import difftda

    rng = np.random.default_rng(4)
    target = np.zeros((2, 2, 20, 20), np.float32)
    target[:, :, 2:17, 2:17] = 1
    target[:, :, 6:10, 6:10] = 0
    target[0, 1, 18:, :] = 1
    noisy = 0.6 * target + 0.4 * rng.random(target.shape)
    for pred in (noisy, np.round(noisy, 1)):
        results = []
        for disabled in (False, True):
            monkeypatch.setattr(difftda._jit, "DISABLED", disabled)
            x = torch.tensor(pred, dtype=dtype, requires_grad=True)
            loss = difftda.losses.hu_topological_loss(x, torch.from_numpy(target))
            loss.backward()
            results.append((loss.detach(), x.grad))
        (la, ga), (lb, gb) = results
        eps = torch.finfo(dtype).eps
        torch.testing.assert_close(la, lb, rtol=256 * eps, atol=0)
        torch.testing.assert_close(ga, gb, rtol=16 * eps, atol=16 * eps)
        monkeypatch.setattr(difftda._jit, "DISABLED", False)
        tangent = torch.from_numpy(rng.standard_normal(pred.shape)).to(dtype)
        with torch.autograd.forward_ad.dual_level():
            dual = torch.autograd.forward_ad.make_dual(torch.tensor(pred, dtype=dtype), tangent)
            jvp = torch.autograd.forward_ad.unpack_dual(
                difftda.losses.hu_topological_loss(dual, torch.from_numpy(target))).tangent
        torch.testing.assert_close(jvp, (ga * tangent).sum(), rtol=1e-4 if dtype == torch.float32 else 1e-10,
                                   atol=1e-5 if dtype == torch.float32 else 1e-12)


def test_hu_fused_node_gradcheck_and_second_order():
    """gradcheck and gradgradcheck (float64, tie-free) of Hu's loss against a 0/1 target, through the
    fused node where kernels are compiled (backward with create_graph in differentiable operations)."""
    import difftda

    rng = np.random.default_rng(6)
    target = np.zeros((2, 1, 9, 9))
    target[:, :, 2:7, 2:7] = 1
    target[:, :, 4, 4] = 0
    target_t = torch.from_numpy(target)
    x = torch.tensor(0.5 * target + 0.5 * rng.random(target.shape), requires_grad=True)

    def f(x):
        return difftda.losses.hu_topological_loss(x, target_t)

    assert torch.autograd.gradcheck(f, (x,), eps=1e-7, atol=1e-6)
    assert torch.autograd.gradgradcheck(f, (x,), eps=1e-7, atol=1e-6)
