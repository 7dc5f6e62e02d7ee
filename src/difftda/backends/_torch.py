"""The native H0 backend: a minimum spanning forest by dense Prim, on the matrix's device."""

from __future__ import annotations

import numpy as np
import torch

from .. import _jit
from . import register_backend
from ._base import Backend, BatchPairing, DimPairing, Pairing


@register_backend
class TorchBackend(Backend):
    """H0 only, no extra package: dense Prim on the distance matrix, one loop of n steps per batch.

    On the CPU the loop runs in numpy (a few microseconds a step); on CUDA it runs in torch on the
    input's device, for all clouds of a batch at once, so the matrix never leaves the GPU. H0 deaths
    are the spanning tree's edges; each vertex added by Prim names the component that dies (all
    births are 0). With a finite ``thresh`` the forest's extra roots are the essential bars.
    """

    name = "torch"
    requires = None
    extra = None
    auto_rank = 0
    max_maxdim = 0
    on_device = True
    canonical = True

    def __init__(self) -> None:
        pass

    def pairing(self, dist: np.ndarray, *, maxdim: int, thresh: float, coeff: int) -> Pairing:
        bp = self.pairing_batch(torch.from_numpy(np.ascontiguousarray(dist))[None], [dist.shape[0]],
                                maxdim=maxdim, thresh=thresh, coeff=coeff)
        return (DimPairing(bp.finite, bp.essential),)

    def pairing_batch(
        self, dist: torch.Tensor, sizes: list[int], *, maxdim: int, thresh: float, coeff: int
    ) -> BatchPairing:
        if maxdim != 0:
            raise ValueError(
                f"backend 'torch' computes H0 only (maxdim=0); got maxdim={maxdim}. "
                "Use backend='giotto', 'gudhi' or 'ripser' for higher dimensions"
            )
        # Prim marks finished vertices with an infinite key, so edges longer than thresh get the
        # largest finite value instead: a step that can only pick such an edge starts a new tree.
        big = torch.finfo(dist.dtype).max
        if dist.device.type == "cpu":
            d = dist.numpy()
            if thresh != np.inf:
                d = np.where(d <= thresh, d, big)
            if _jit.enabled():
                return _prim_compiled(d, np.asarray(sizes, np.int64), big)
            if len(sizes) == 1:
                added, parent, weight = (a[None] for a in _prim_numpy_one(d[0, : sizes[0], : sizes[0]]))
            else:
                added, parent, weight = _prim_numpy(d, np.asarray(sizes))
        else:
            d = dist if thresh == np.inf else torch.where(dist <= thresh, dist, big)
            added, parent, weight = (t.cpu().numpy() for t in _prim_torch(d, sizes))
        return _to_batch_pairing(added, parent, weight >= big, weight > 0, np.asarray(sizes))


def _to_batch_pairing(
    added: np.ndarray, parent: np.ndarray, new_tree: np.ndarray, positive: np.ndarray, sizes: np.ndarray
) -> BatchPairing:
    """Prim's record for a batch -> H0 critical edges, vectorized over every cloud.

    ``added[b, s]`` is the vertex joined at step ``s`` through the edge to ``parent[b, s]``;
    ``new_tree`` marks steps that found no edge within ``thresh`` (the vertex starts a new tree, an
    essential bar); a step whose edge has length 0 joins duplicates (a zero-length bar, dropped).
    """
    B = len(sizes)
    valid = np.arange(added.shape[1])[None, :] < (sizes - 1)[:, None]
    b, s = np.nonzero(valid & ~new_tree & positive)
    v, p = added[b, s], parent[b, s]
    finite = np.stack([v, v, np.minimum(v, p), np.maximum(v, p)], axis=1).astype(np.int64)
    rb, rs = np.nonzero(valid & new_tree)
    roots = np.concatenate([np.zeros(B, np.int64), added[rb, rs]])
    root_cloud = np.concatenate([np.arange(B), rb])
    return BatchPairing(finite, b.astype(np.int64), np.stack([roots, roots], axis=1), root_cloud.astype(np.int64))


def _prim_compiled(d: np.ndarray, sizes: np.ndarray, big: float) -> BatchPairing:
    """Prim on a padded batch ``(B, N, N)`` by the compiled kernel, straight to the critical edges:
    the same steps, ties, parents and rows as :func:`_prim_numpy` with :func:`_to_batch_pairing`."""
    B, N, _ = d.shape
    S = B * max(N - 1, 0)
    finite, fin_cloud = np.empty((S, 4), np.int64), np.empty(S, np.int64)
    roots, root_cloud = np.empty((B + S, 2), np.int64), np.empty(B + S, np.int64)
    K, M = _prim_kernel(np.ascontiguousarray(d), sizes, big, finite, fin_cloud, roots, root_cloud)
    return BatchPairing(finite[:K], fin_cloud[:K], roots[:M], root_cloud[:M])


@_jit.kernel
def _prim_kernel(d, sizes, big, finite, fin_cloud, roots, root_cloud):  # pragma: no cover - compiled by numba
    """Dense Prim, cloud after cloud, from vertex 0: each step joins the first vertex of smallest
    key, and a key (with its parent) changes only on a strictly smaller value, as in numpy.
    ``blocked`` is +inf on vertices already in the tree (added to their row entry, it keeps them
    out of every update without a branch, so the update loop vectorizes). A step whose key is
    ``big`` (no edge within the threshold) starts a new tree, an essential bar; one of length 0
    joins a duplicate point (no bar). Returns the numbers of finite and essential rows written."""
    B, N, _ = d.shape
    key = np.empty(N, d.dtype)
    par = np.empty(N, np.int64)
    blocked = np.empty(N, d.dtype)
    for b in range(B):
        roots[b, 0] = 0
        roots[b, 1] = 0
        root_cloud[b] = b
    K = 0
    M = B
    for b in range(B):
        n = sizes[b]
        for i in range(n):
            key[i] = d[b, 0, i]
            par[i] = 0
            blocked[i] = 0
        if n > 0:
            key[0] = np.inf
            blocked[0] = np.inf
        for _ in range(n - 1):
            v = 0
            best = key[0]
            for i in range(1, n):
                if key[i] < best:
                    best = key[i]
                    v = i
            if best >= big:
                roots[M, 0] = v
                roots[M, 1] = v
                root_cloud[M] = b
                M += 1
            elif best > 0:
                p = par[v]
                finite[K, 0] = v
                finite[K, 1] = v
                finite[K, 2] = min(v, p)
                finite[K, 3] = max(v, p)
                fin_cloud[K] = b
                K += 1
            blocked[v] = np.inf
            key[v] = np.inf
            for i in range(n):
                w = d[b, v, i] + blocked[i]
                less = w < key[i]
                key[i] = w if less else key[i]
                par[i] = v if less else par[i]
    return K, M


def _prim_numpy_one(d: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Prim on one ``(n, n)`` matrix: ``n - 1`` steps of O(n) vector work (the algorithm's loop, not
    a loop per bar). ``blocked`` is +inf on vertices already in the tree, so one addition keeps
    them out of every later update. A vertex's parent never changes once it is in the tree, so the
    joining edges are read once at the end."""
    n = d.shape[0]
    blocked = np.zeros(n, d.dtype)
    blocked[0] = np.inf
    key = d[0] + blocked
    parent = np.zeros(n, np.int64)
    added = np.empty(max(n - 1, 0), np.int64)
    cand, better = np.empty_like(key), np.empty(n, bool)
    for s in range(n - 1):
        v = int(key.argmin())
        added[s] = v
        blocked[v] = key[v] = np.inf
        np.add(d[v], blocked, out=cand)
        np.less(cand, key, out=better)
        np.minimum(key, cand, out=key)
        parent[better] = v
    via = parent[added]
    return added, via, d[via, added]  # the row Prim read: key[v] is d[parent[v], v]


def _prim_numpy(d: np.ndarray, sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Prim on a padded batch ``(B, N, N)``: every step advances all clouds together.

    Small clouds (``N <= 64``, where each step costs a dozen numpy calls on small arrays, not vector
    work) leave the parents out of the loop and find them in one pass at the end
    (:func:`_first_parents`); larger ones update them in the loop, as a step's O(B * N) work then
    costs more than the calls."""
    B, N, _ = d.shape
    S = max(N - 1, 0)
    base = np.arange(B) * N
    blocked = np.where(np.arange(N)[None, :] >= sizes[:, None], np.inf, 0.0).astype(d.dtype)  # padding
    blocked[:, 0] = np.inf
    key = d[:, 0, :] + blocked
    added = np.zeros((S, B), np.int64)  # step-major: each step writes one contiguous row
    key_f, blocked_f, rows = key.reshape(-1), blocked.reshape(-1), d.reshape(B * N, N)
    flat = np.empty(B, np.int64)
    # Each step: a few numpy calls on (B, N) arrays. ``rows.take`` allocates its result, which is
    # cheaper than any ``out=`` form of it (those take a slower buffered or clipped path).
    if N <= _PARENTS_AFTER_MAX_N:
        weight = np.zeros((S, B), d.dtype)
        for s in range(S):
            v = added[s]
            key.argmin(axis=1, out=v)
            np.add(v, base, out=flat)  # flat indices: cheaper than 2-D fancy indexing
            weight[s] = key_f[flat]
            blocked_f[flat] = np.inf
            np.minimum(key, rows.take(flat, axis=0), out=key)
            np.add(key, blocked, out=key)  # finished vertices (v too) back to +inf
        added, weight = np.ascontiguousarray(added.T), np.ascontiguousarray(weight.T)
        return added, _first_parents(rows, added, weight, sizes), weight
    parent = np.zeros((B, N), np.int64)
    v_col = np.empty((B, 1), np.int64)
    cand, better = np.empty_like(key), np.empty(key.shape, bool)
    for s in range(S):
        v = added[s]
        key.argmin(axis=1, out=v)
        np.add(v, base, out=flat)
        blocked_f[flat] = key_f[flat] = np.inf
        np.add(rows.take(flat, axis=0), blocked, out=cand)
        np.less(cand, key, out=better)
        np.minimum(key, cand, out=key)
        v_col[:, 0] = v
        np.copyto(parent, v_col, where=better)
    # Steps past a cloud's size pick padding (masked out by the caller); the rest read their edge.
    added = np.ascontiguousarray(added.T)
    via = np.take_along_axis(parent, added, axis=1)
    weight = d[np.arange(B)[:, None], via, added]
    return added, via, weight


#: The largest padded cloud size whose batched Prim finds the parents after the loop.
_PARENTS_AFTER_MAX_N = 64
#: Entries of the ``(B, steps, N)`` temporaries of :func:`_first_parents` per block of steps.
_PARENTS_BLOCK = 1 << 21


def _first_parents(rows: np.ndarray, added: np.ndarray, weight: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """The vertex each Prim step joined through, from the order and the keys alone.

    The parent of the vertex added at step ``s`` is, of the vertices already in the tree at the key's
    distance ``weight[b, s]``, the earliest one (a strict "<" update keeps it). Vertices added later
    rank later still, so it is the earliest vertex of the whole cloud at that distance: one vectorized
    pass over the added vertices' rows. ``rows`` is the batch as ``(B * N, N)``.
    """
    B, S = added.shape
    N = S + 1
    base = np.arange(B)[:, None] * N
    flat = base + added
    valid = np.arange(S)[None, :] < (sizes - 1)[:, None]
    early = np.zeros(B * N, np.int32)  # N - (rank in Prim's order): larger is earlier, 0 never joined
    early[flat[valid]] = np.broadcast_to(np.arange(N - 1, 0, -1, dtype=np.int32), (B, S))[valid]
    early[base[:, 0]] = N  # the root, vertex 0
    early = early.reshape(B, 1, N)
    via = np.empty((B, S), np.int64)
    step = max(1, _PARENTS_BLOCK // max(B * N, 1))
    for lo in range(0, S, step):  # blocks of steps bound the temporaries, not a loop per bar
        hi = min(S, lo + step)
        # (``take`` of whole rows: several times faster than the same fancy indexing.)
        at_key = rows.take(flat[:, lo:hi].reshape(-1), axis=0).reshape(B, hi - lo, N) == weight[:, lo:hi, None]
        via[:, lo:hi] = (at_key * early).argmax(axis=2)
    return via


def _prim_torch(d: torch.Tensor, sizes: list[int]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The same batched Prim in torch, on the device of ``d`` (no host synchronization in the loop)."""
    B, N, _ = d.shape
    dev = d.device
    rows = torch.arange(B, device=dev)
    done = torch.arange(N, device=dev)[None, :] >= torch.as_tensor(sizes, device=dev)[:, None]
    done[:, 0] = True
    inf = torch.tensor(float("inf"), dtype=d.dtype, device=dev)
    key = torch.where(done, inf, d[:, 0, :])
    parent = torch.zeros((B, N), dtype=torch.int64, device=dev)
    added, via, weight = [], [], []
    for _ in range(N - 1):
        v = key.argmin(dim=1)
        added.append(v)
        via.append(parent[rows, v])
        weight.append(key[rows, v])
        done[rows, v] = True
        row = d[rows, v]
        better = (row < key) & ~done
        key = torch.where(better, row, key)
        parent = torch.where(better, v[:, None], parent)
        key[rows, v] = inf
    if N == 1:
        empty = torch.zeros((B, 0), dtype=torch.int64, device=dev)
        return empty, empty, torch.zeros((B, 0), dtype=d.dtype, device=dev)
    return torch.stack(added, 1), torch.stack(via, 1), torch.stack(weight, 1)
