"""Engines of the cubical filtration of images and volumes: a detached array in, critical pixel
positions out.

Every engine returns positions in the C-order (row-major) flattening of the image it was given, for
both constructions: ``"T"`` (values on the top-dimensional cells, i.e. the pixels) and ``"V"`` (values
on the vertices, i.e. the pixels are the grid's vertices). The value of a bar's birth (death) is
the pixel at its birth (death) position, exactly.
"""

from __future__ import annotations

import math
import os
from abc import abstractmethod
from concurrent.futures import ThreadPoolExecutor
from typing import ClassVar, NamedTuple

import numpy as np

from .. import _jit
from ..gather import _is_sorted
from . import register_backend
from ._base import Engine

__all__ = ["CubicalEngine", "CubicalPairing", "CripserEngine", "GudhiCubicalEngine", "CONSTRUCTIONS"]

CONSTRUCTIONS = ("T", "V")


class CubicalPairing(NamedTuple):
    """Critical positions of the bars of one image or of a batch, as int64 numpy arrays.

    For one image positions are flat C-order positions in the image and ``group`` is the homology
    dimension; for a batch of ``B`` images positions stay local to their image and ``group`` is
    ``dim * B + image``.

    Attributes:
        birth: ``(k,)`` position of each finite bar's birth.
        death: ``(k,)`` position of each finite bar's death.
        group: ``(k,)`` its group.
        ess_birth: ``(m,)`` position of each essential bar's birth.
        ess_group: ``(m,)`` its group.
    """

    birth: np.ndarray
    death: np.ndarray
    group: np.ndarray
    ess_birth: np.ndarray
    ess_group: np.ndarray


def _check_threads(n_threads: object, name: str) -> int:
    if isinstance(n_threads, bool) or not isinstance(n_threads, int) or n_threads < 0:
        raise ValueError(f"{name} option n_threads must be an int >= 0 (0: one per CPU core); got {n_threads!r}")
    return n_threads


class CubicalEngine(Engine):
    """A persistence engine of the cubical filtration of an image (1-D signal, 2-D image, 3-D volume, ...).

    Subclasses implement :meth:`pairing` for one image. :meth:`pairing_batch` pairs a batch image by
    image, in a pool of threads (both engines release the GIL while they compute): ``n_threads``
    threads, or with ``n_threads=0`` (the default) one per CPU core when the batch has at least
    32768 pixels. Results do not depend on the number of threads.
    """

    filtration: ClassVar[str] = "cubical"
    #: The largest number of spatial axes the engine handles (None: any).
    max_spatial_dims: ClassVar[int | None] = None

    @classmethod
    def refuses(cls, maxdim: int | None, *, spatial_dims: int | None = None, **request: object) -> str | None:
        if spatial_dims is not None and cls.max_spatial_dims is not None and spatial_dims > cls.max_spatial_dims:
            return f"handles images of at most {cls.max_spatial_dims} axes (of length > 1); got {spatial_dims}"
        return super().refuses(maxdim, **request)
    #: Worker threads over the images of a batch (set by the subclass from its option).
    n_threads: int = 1

    @abstractmethod
    def pairing(self, image: np.ndarray, *, maxdim: int, construction: str) -> CubicalPairing:
        """The sublevel-set pairing of ``image``, a C-contiguous float64 array of any shape with
        at least one pixel, finite; ``construction`` is ``"T"`` or ``"V"``. ``group`` is the homology
        dimension (bars of dimensions above ``maxdim`` may be returned; they are dropped)."""

    def pairing_batch(self, images: np.ndarray, *, maxdim: int, construction: str) -> CubicalPairing:
        """Pair a batch ``(B, *shape)`` (C-contiguous float64) image by image."""
        B = images.shape[0]
        threads = self.n_threads
        if threads == 0 and B > 1:  # automatic: a thread per core for a batch large enough to pay for the pool
            threads = (os.cpu_count() or 1) if images.size >= _POOL_MIN_PIXELS else 1

        def one(b: int) -> CubicalPairing:
            return self.pairing(images[b], maxdim=maxdim, construction=construction)

        if threads > 1 and B > 1:
            with ThreadPoolExecutor(min(threads, B)) as pool:
                results = list(pool.map(one, range(B)))
        else:
            results = [one(b) for b in range(B)]
        return _concat(results, B, maxdim, math.prod(images.shape[1:]))


#: With ``n_threads=0``, batches with fewer pixels than this are paired without a thread pool.
_POOL_MIN_PIXELS = 1 << 15


def _concat(results: list[CubicalPairing], B: int, maxdim: int, n_pixels: int) -> CubicalPairing:
    """One pairing for the batch: groups become ``dim * B + image``; dimensions above ``maxdim`` go."""
    if B == 1:
        birth, death, group, ess_birth, ess_group = (np.asarray(a, np.int64).reshape(-1) for a in results[0])
    else:
        parts = [[np.asarray(a, np.int64).reshape(-1) for a in r] for r in results]
        if all(_is_sorted(p[2]) for p in parts):  # rows come by dimension: lay them out group by group
            cuts = [np.searchsorted(p[2], np.arange(maxdim + 2)).tolist() for p in parts]
            pieces = [(p, c[k], c[k + 1]) for k in range(maxdim + 1) for p, c in zip(parts, cuts)]
            birth, death = (np.concatenate([p[i][a:b] for p, a, b in pieces]) for i in (0, 1))
            group = np.repeat(np.arange(len(pieces)), [b - a for _, a, b in pieces])  # k * B + image
        else:
            birth, death = (np.concatenate([p[i] for p in parts]) for i in (0, 1))
            group = np.concatenate([p[2] * B + b for b, p in enumerate(parts)])
        ess_birth = np.concatenate([p[3] for p in parts])
        ess_group = np.concatenate([p[4] * B + b for b, p in enumerate(parts)])
    limit = (maxdim + 1) * B
    if _jit.enabled():  # one pass that checks the positions and finds rows above maxdim
        inside, kept = _scan(birth, death, group, ess_birth, ess_group, n_pixels, limit)
    else:
        inside, kept = True, False
    if not kept:
        keep, ess_keep = group < limit, ess_group < limit
        if not keep.all():
            birth, death, group = birth[keep], death[keep], group[keep]
        if not ess_keep.all():
            ess_birth, ess_group = ess_birth[ess_keep], ess_group[ess_keep]
        low = min(birth.min(initial=0), death.min(initial=0), ess_birth.min(initial=0), group.min(initial=0),
                  ess_group.min(initial=0))
        high = max(birth.max(initial=0), death.max(initial=0), ess_birth.max(initial=0))
        inside = low >= 0 and high < n_pixels
    if not inside:
        raise RuntimeError("the cubical engine returned a position outside the image")
    return CubicalPairing(birth, death, group, ess_birth, ess_group)


@_jit.kernel
def _scan(birth, death, group, ess_birth, ess_group, n_pixels, limit):  # pragma: no cover - compiled
    """``(inside, kept)``: whether every position of a kept row lies in ``[0, n_pixels)`` and every
    group in ``[0, limit)``; when rows above ``limit`` exist, ``kept`` is False (the caller drops
    them and checks what is left)."""
    for r in range(len(birth)):
        if group[r] >= limit:
            return True, False
        if group[r] < 0 or birth[r] < 0 or birth[r] >= n_pixels or death[r] < 0 or death[r] >= n_pixels:
            return False, True
    for r in range(len(ess_birth)):
        if ess_group[r] >= limit:
            return True, False
        if ess_group[r] < 0 or ess_birth[r] < 0 or ess_birth[r] >= n_pixels:
            return False, True
    return True, True


def _positions(out: np.ndarray, first: int, shape: tuple[int, ...]) -> np.ndarray:
    """Flat C-order positions from the coordinate columns ``first .. first + len(shape)`` of cripser's
    output (float64 holding integers: the sums are exact below 2**53 pixels)."""
    flat = out[:, first].copy()
    for axis in range(1, len(shape)):
        flat *= shape[axis]
        flat += out[:, first + axis]
    return flat.astype(np.int64)


@register_backend
class CripserEngine(CubicalEngine):
    """CubicalRipser (``cripser``): fast cubical persistence of 1-D to 4-D arrays, both constructions.

    Its output rows ``[dim, birth, death, creator coordinates, destroyer coordinates]`` are turned
    into flat C-order positions with one vectorized product per image. Homology over Z/2.

    Args:
        n_threads: threads over the images of a batch: 0 (the default) one per CPU core for a
            batch of at least 32768 pixels, 1 none, ``n`` at most ``n``. cripser releases the GIL
            while it computes.
    """

    name = "cripser"
    requires = "cripser"
    package = "cripser"
    extra = "cripser"
    auto_rank = 1
    max_spatial_dims: ClassVar[int | None] = 4

    def __init__(self, *, n_threads: int = 0) -> None:
        self.n_threads = _check_threads(n_threads, "cripser")
        import cripser

        self._compute = {"V": cripser.computePH, "T": cripser.computePH_T}

    def pairing(self, image: np.ndarray, *, maxdim: int, construction: str) -> CubicalPairing:
        nd = image.ndim
        if nd > 4:
            raise ValueError(f"cripser handles images of 1 to 4 axes; got {nd}. Use backend='gudhi'")
        out = self._compute[construction](
            image, maxdim=min(maxdim, nd - 1), top_dim=False, embedded=False, location="yes",
            representatives=False, n_threads=1,
        )
        out = np.asarray(out)
        # Columns: dim, birth, death, then the creator's and the destroyer's coordinates (3 each, 4 in
        # 4-D), as floats holding small integers: positions are their C-order sums.
        width = 4 if nd == 4 else 3
        if _jit.enabled() and out.dtype == np.float64 and out.flags.c_contiguous:
            strides = np.array([math.prod(image.shape[a + 1:]) for a in range(nd)], np.int64)
            return CubicalPairing(*_cripser_rows(out, strides, width, _ESSENTIAL))
        return _cripser_rows_numpy(out, image.shape, width)


def _cripser_rows_numpy(out: np.ndarray, shape: tuple[int, ...], width: int) -> CubicalPairing:
    """cripser's output rows -> positions, one vectorized product per column (what
    :func:`_cripser_rows` computes in one pass)."""
    birth, death = _positions(out, 3, shape), _positions(out, 3 + width, shape)
    dim = out[:, 0].astype(np.int64)
    ess = out[:, 2] >= _ESSENTIAL  # cripser writes DBL_MAX for a death at infinity
    if ess.any():
        fin = ~ess
        return CubicalPairing(birth[fin], death[fin], dim[fin], birth[ess], dim[ess])
    return CubicalPairing(birth, death, dim, birth[:0], dim[:0])


_ESSENTIAL = np.finfo(np.float64).max / 2


@_jit.kernel
def _cripser_rows(out, strides, width, limit):  # pragma: no cover - compiled
    """One pass over cripser's output rows: finite bars' positions and dimensions, then the
    essential bars' (rows whose death is at least half of DBL_MAX), each in row order."""
    n, nd = out.shape[0], len(strides)
    birth = np.empty(n, np.int64)
    death = np.empty(n, np.int64)
    dim = np.empty(n, np.int64)
    ess_birth = np.empty(n, np.int64)
    ess_dim = np.empty(n, np.int64)
    f = 0
    e = 0
    for r in range(n):
        b = 0
        for a in range(nd):
            b += np.int64(out[r, 3 + a]) * strides[a]
        if out[r, 2] >= limit:
            ess_birth[e] = b
            ess_dim[e] = np.int64(out[r, 0])
            e += 1
        else:
            d = 0
            for a in range(nd):
                d += np.int64(out[r, 3 + width + a]) * strides[a]
            birth[f] = b
            death[f] = d
            dim[f] = np.int64(out[r, 0])
            f += 1
    return birth[:f], death[:f], dim[:f], ess_birth[:e], ess_dim[:e]


@register_backend
class GudhiCubicalEngine(CubicalEngine):
    """gudhi's ``CubicalComplex``: ``top_dimensional_cells=`` for ``"T"`` (critical top cells from
    ``cofaces_of_persistence_pairs``), ``vertices=`` for ``"V"`` (``vertices_of_persistence_pairs``).
    Homology over Z/2.

    gudhi numbers cells in the Fortran order (first axis fastest) of the array it is given. The
    engine gives it the transposed view of the image, whose Fortran order is the image's C order,
    so gudhi's positions are C-order positions of the image with no conversion and no copy
    (transposing the axes maps the cubical complex onto itself).

    Args:
        n_threads: threads over the images of a batch: 0 (the default) one per CPU core for a
            batch of at least 32768 pixels, 1 none, ``n`` at most ``n``. gudhi releases the GIL
            while it computes.
    """

    name = "gudhi"
    requires = "gudhi"
    package = "gudhi"
    extra = "gudhi"
    auto_rank = 2

    def __init__(self, *, n_threads: int = 0) -> None:
        self.n_threads = _check_threads(n_threads, "gudhi")
        import gudhi

        self._gudhi = gudhi

    def pairing(self, image: np.ndarray, *, maxdim: int, construction: str) -> CubicalPairing:
        view = image.T  # Fortran order of the transpose == C order of the image
        if construction == "T":
            cc = self._gudhi.CubicalComplex(top_dimensional_cells=view)
        else:
            cc = self._gudhi.CubicalComplex(vertices=view)
        cc.compute_persistence(homology_coeff_field=2, min_persistence=0.0)
        regular, essential = cc.cofaces_of_persistence_pairs() if construction == "T" else (
            cc.vertices_of_persistence_pairs()
        )
        fin = [np.asarray(r, np.int64).reshape(-1, 2) for r in regular]
        ess = [np.asarray(e, np.int64).reshape(-1) for e in essential]
        fin_all = np.concatenate(fin) if fin else np.zeros((0, 2), np.int64)
        ess_all = np.concatenate(ess) if ess else np.zeros(0, np.int64)
        return CubicalPairing(
            fin_all[:, 0], fin_all[:, 1], np.repeat(np.arange(len(fin)), [len(f) for f in fin]),
            ess_all, np.repeat(np.arange(len(ess)), [len(e) for e in ess]),
        )
