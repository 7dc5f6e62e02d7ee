"""The native H0 backend: a minimum spanning forest by dense Prim, on the matrix's device."""

from __future__ import annotations

import numpy as np
import torch

from . import register_backend
from ._base import Backend, DimPairing, Pairing


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
    max_maxdim = 0
    on_device = True

    def __init__(self) -> None:
        pass

    def pairing(self, dist: np.ndarray, *, maxdim: int, thresh: float, coeff: int) -> Pairing:
        return self._check_and_pair(torch.from_numpy(np.ascontiguousarray(dist))[None], [dist.shape[0]],
                                    maxdim, thresh)[0]

    def pairing_batch(
        self, dist: torch.Tensor, sizes: list[int], *, maxdim: int, thresh: float, coeff: int
    ) -> list[Pairing]:
        return self._check_and_pair(dist, sizes, maxdim, thresh)

    def _check_and_pair(self, dist: torch.Tensor, sizes: list[int], maxdim: int, thresh: float) -> list[Pairing]:
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
            if len(sizes) == 1:
                added, parent, weight = (a[None] for a in _prim_numpy_one(d[0, : sizes[0], : sizes[0]]))
            else:
                added, parent, weight = _prim_numpy(d, np.asarray(sizes))
        else:
            d = dist if thresh == np.inf else torch.where(dist <= thresh, dist, big)
            added, parent, weight = (t.cpu().numpy() for t in _prim_torch(d, sizes))  # one copy back
        weight = np.where(weight >= big, np.inf, weight)
        return [_to_pairing(added[b], parent[b], weight[b], n) for b, n in enumerate(sizes)]


def _to_pairing(added: np.ndarray, parent: np.ndarray, weight: np.ndarray, n: int) -> Pairing:
    """Prim's record (vertex added at each step, its tree neighbour, the edge weight) -> H0 edges.

    An infinite weight marks a vertex that started a new tree (no edge within ``thresh``).
    """
    added, parent, weight = added[: n - 1], parent[: n - 1], weight[: n - 1]
    tree = np.isfinite(weight) & (weight > 0)  # a 0 edge joins duplicates: a zero-length bar, dropped
    roots = np.concatenate([[0], added[~np.isfinite(weight)]]).astype(np.int64)
    v, p = added[tree], parent[tree]
    lo, hi = np.minimum(v, p), np.maximum(v, p)
    finite = np.stack([v, v, lo, hi], axis=1).astype(np.int64)
    return (DimPairing(finite, np.stack([roots, roots], axis=1)),)


def _prim_numpy_one(d: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = d.shape[0]
    done = np.zeros(n, bool)
    done[0] = True
    key = d[0].copy()
    key[0] = np.inf
    parent = np.zeros(n, np.int64)
    added = np.empty(max(n - 1, 0), np.int64)
    via = np.empty_like(added)
    weight = np.empty(max(n - 1, 0))
    for s in range(n - 1):  # n steps of O(n) vector work: the algorithm, not a loop per bar
        v = int(key.argmin())
        added[s], via[s], weight[s] = v, parent[v], key[v]
        done[v] = True
        row = d[v]
        better = row < key
        better &= ~done
        np.copyto(key, row, where=better)
        parent[better] = v
        key[v] = np.inf
    return added, via, weight


def _prim_numpy(d: np.ndarray, sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Prim on a padded batch ``(B, N, N)``: every step advances all clouds together."""
    B, N, _ = d.shape
    rows = np.arange(B)
    done = np.arange(N)[None, :] >= sizes[:, None]  # padding is never picked
    done[:, 0] = True
    key = np.where(done, np.inf, d[:, 0, :])
    parent = np.zeros((B, N), np.int64)
    added = np.zeros((B, max(N - 1, 0)), np.int64)
    via = np.zeros_like(added)
    weight = np.full((B, max(N - 1, 0)), np.inf)
    for s in range(N - 1):
        v = key.argmin(axis=1)
        added[:, s], via[:, s], weight[:, s] = v, parent[rows, v], key[rows, v]
        done[rows, v] = True
        row = d[rows, v]
        better = row < key
        better &= ~done
        np.copyto(key, row, where=better)
        np.copyto(parent, v[:, None], where=better)
        key[rows, v] = np.inf
    return added, via, weight


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
