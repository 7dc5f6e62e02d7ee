"""Step 3 of the pipeline: critical positions -> differentiable diagrams, for every filtration and
a whole batch at once.

This is the only place where positions become values. A filtration hands over two things:

* :class:`Bars`: for every bar of the batch, where in the filtration's values it is born and dies
  (flat positions into the values of the whole batch; ``-1`` is the constant 0, e.g. the birth of a
  Vietoris-Rips component), its homology dimension and item, and the ``index`` users see;
* a :class:`Values` reader: how a value is read at a position. The default reads a flat tensor by
  plain indexing, so autograd (reverse and forward mode) flows into it: the pixels of an image, the
  vertex values of a mesh, a precomputed distance matrix. A filtration whose values are computed
  from other inputs (edge lengths or circumradii from points) subclasses it and recomputes only the
  values at the critical positions.

:func:`normalize` checks and orders the bars on the host; :func:`gather` makes one host-to-device
copy of every index of the batch, reads all values in one call, and splits them into one
:class:`~difftda.diagrams.Diagrams` per item.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from .diagrams import Diagram, DiagramBatch, Diagrams

__all__ = ["Bars", "Values", "gather", "normalize"]


class Bars(NamedTuple):
    """The critical positions of every bar of a batch, as int64 numpy arrays on the host.

    Row ``r`` of the finite bars belongs to homology dimension ``group[r] // B`` of item
    ``group[r] % B`` (dimension-major groups, so one dimension of the whole batch is contiguous once
    sorted by group).

    Attributes:
        birth: ``(K,)`` flat position of each finite bar's birth in the batch's values (-1: 0).
        death: ``(K,)`` flat position of each finite bar's death.
        group: ``(K,)`` ``dim * B + item``.
        index: ``(K, c)`` what :attr:`Diagram.index` shows, local to the item (its layout is the
            filtration's).
        ess_birth: ``(M,)`` flat position of each essential bar's birth (-1: 0).
        ess_group: ``(M,)`` ``dim * B + item``.
        ess_index: ``(M, c')`` what :attr:`Diagram.essential_index` shows.

    The gather may keep views of these arrays (the positions saved for the backward pass): do not
    change them once gathered.
    """

    birth: np.ndarray
    death: np.ndarray
    group: np.ndarray
    index: np.ndarray
    ess_birth: np.ndarray
    ess_group: np.ndarray
    ess_index: np.ndarray


class Values:
    """How a filtration's values are read: ``flat[positions]`` by plain indexing.

    Subclasses override :meth:`read` (values at positions, differentiable in whatever the values
    come from) or, to fuse reading and placing into one autograd node, :meth:`bars`.

    Args:
        flat: the values of the whole batch, one dimension, on the input's device.
    """

    #: Whether :meth:`bars` reads ``pair_pos``. A reader that does not (its values come in slot
    #: order whenever no position is the constant) is given None there in that case, and the gather
    #: does not build it.
    uses_slots: bool = True

    def __init__(self, flat: torch.Tensor) -> None:
        self.flat = flat

    @property
    def device(self) -> torch.device:
        return self.flat.device

    def read(self, positions: torch.Tensor) -> torch.Tensor:
        """The values at ``positions`` (an int64 tensor on :attr:`device`)."""
        if self.flat.device.type == "cpu" and self.flat.dim() == 1:
            # Its backward (scatter_add) sums repeated positions in order on any number of threads;
            # plain indexing's (index_put with accumulate) can round differently from run to run.
            return self.flat.gather(0, positions)
        return self.flat[positions]

    def prepare(self, positions: np.ndarray) -> np.ndarray | None:
        """Optional int64 host data the reader needs besides the positions (e.g. the rows of both
        ends of each edge); it travels to the device in the gather's one copy, as ``extra``."""
        return None

    def bars(
        self, positions: torch.Tensor, pair_pos: torch.Tensor | None, ess_pos: torch.Tensor,
        extra: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, ...]:
        """``(pairs (K, 2), essential births (M,))``: the values at ``positions`` placed where
        ``pair_pos`` and ``ess_pos`` say (slot 0 is the constant 0, slot ``e + 1`` is
        ``positions[e]``). ``pair_pos`` is None only when no position is the constant and
        :attr:`uses_slots` is False: ``positions`` is then births, deaths, essential births.
        ``extra`` is what :meth:`prepare` returned, on the device."""
        return place(self.read(positions), pair_pos, ess_pos)


def place(
    values: torch.Tensor, pair_pos: torch.Tensor | None, ess_pos: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(pairs (K, 2), essential births (M,))`` from the values read; slot 0 is the constant 0
    (``pair_pos`` None: the values come in slot order, births then deaths then essential births)."""
    M = ess_pos.numel()
    K = (values.numel() - M) // 2 if pair_pos is None else pair_pos.numel() // 2
    if values.numel() == 2 * K + M:  # no constant: the values come in slot order (see gather)
        return torch.stack([values[:K], values[K:2 * K]], 1), values[2 * K:]
    assert pair_pos is not None
    ext = torch.cat([values.new_zeros(1), values])
    return ext[pair_pos].view(-1, 2), ext[ess_pos]


def unplace(
    grad_pairs: torch.Tensor, grad_births: torch.Tensor, pair_pos: torch.Tensor | None, ess_pos: torch.Tensor, m: int
) -> torch.Tensor:
    """The adjoint of :func:`place`: the gradient of the ``m`` values read, from the gradients of
    the pairs and the essential births (the constant in slot 0 takes none)."""
    if 2 * len(grad_pairs) + len(grad_births) == m:  # no constant: the values came in slot order
        return torch.cat([grad_pairs.t().reshape(-1), grad_births])
    assert pair_pos is not None
    return grad_pairs.new_zeros(m + 1).index_add(
        0, torch.cat([pair_pos.reshape(-1), ess_pos]), torch.cat([grad_pairs.reshape(-1), grad_births])
    )[1:]


def normalize(host: np.ndarray | None, bars: Bars, *, keep_empty: bool = False) -> Bars:
    """Order the bars of a batch on the host, vectorized over all of them.

    Rows are sorted by group, then ``(birth value, death value, index columns)``, so the order does
    not depend on the engine or on threads; bars with ``death == birth`` are dropped unless
    ``keep_empty``. ``host`` is the flat array of the batch's values in the orientation the engine
    paired (negated for a superlevel filtration), or None when the engine already dropped empty bars
    and its order is canonical: rows are then only grouped.
    """
    birth, death, group, index, ess_birth, ess_group, ess_index = bars
    if host is None:
        if _is_sorted(group) and _is_sorted(ess_group):
            return bars
        order, ess_order = np.argsort(group, kind="stable"), np.argsort(ess_group, kind="stable")
    else:
        b_val, d_val = _values_at(host, birth), _values_at(host, death)
        if not keep_empty:
            keep = d_val != b_val
            if not keep.all():
                birth, death, group, index, b_val, d_val = (v[keep] for v in (birth, death, group, index, b_val, d_val))
        order = _order(group, b_val, d_val, index)
        ess_val = _values_at(host, ess_birth)
        ess_order = _order(ess_group, ess_val, np.zeros_like(ess_val), ess_index)
    return Bars(birth[order], death[order], group[order], index[order],
                ess_birth[ess_order], ess_group[ess_order], ess_index[ess_order])


def _order(group: np.ndarray, b_val: np.ndarray, d_val: np.ndarray, index: np.ndarray) -> np.ndarray:
    """The permutation that sorts rows by ``(group, b_val, d_val, index columns)``.

    One sort of the complex numbers ``b_val + i d_val`` (numpy compares them as pairs, exactly), or
    for float32 values of one 64-bit integer key that sorts the same way (twice as fast), orders the
    values, each group on its own when the rows come grouped, else followed by a stable sort by
    group; the index columns are read only for the runs of rows of a group that share both values.
    Several times faster than :func:`numpy.lexsort` over all the keys, and the result is the same.
    """
    if len(group) < _SMALL:
        return np.lexsort(tuple(index.T[::-1]) + (d_val, b_val, group))
    if b_val.dtype == np.float32 and d_val.dtype == np.float32:  # one integer key, as fast as one float
        pair = (_ordered_bits(b_val).astype(np.uint64) << np.uint64(32)) | _ordered_bits(d_val)
    else:
        pair = b_val.astype(np.float64) + 1j * d_val.astype(np.float64)
    runs = _runs(group)
    if runs is not None and len(runs) <= _MAX_RUNS:  # grouped rows: each group sorts on its own
        order = np.concatenate([np.argsort(pair[a:b]) + a for a, b in runs]) if len(runs) > 1 else np.argsort(pair)
        sg = group  # unchanged by the order
    else:
        order = _stable_by(group, np.argsort(pair))
        sg = group[order]
    sp = pair[order]
    tie = (sp[1:] == sp[:-1]) & (sg[1:] == sg[:-1])
    if tie.any():  # tied values: the index decides, within each run of tied rows only
        member = np.zeros(len(order), np.bool_)
        member[1:] |= tie
        member[:-1] |= tie
        at = np.flatnonzero(member)  # where tied rows sit in ``order``; each run is contiguous
        run = np.cumsum(np.concatenate([[True], ~tie[at[:-1]]]))  # a new run unless tied to the row before
        rows = order[at]
        # By run, then the index columns, then the input row (rows equal in everything keep their
        # input order, as in a stable sort).
        order[at] = rows[np.lexsort((rows,) + _index_keys(index[rows]) + (run,))]
    return order


#: Below this many rows one :func:`numpy.lexsort` is the fastest.
_SMALL = 1024
#: Grouped rows sort group by group up to this many groups (beyond, one sort and a radix sort by group).
_MAX_RUNS = 64


def _ordered_bits(v: np.ndarray) -> np.ndarray:
    """uint32 keys that sort like the float32 values ``v`` (no NaN; -0.0 and 0.0 get the same key)."""
    u = (v + np.float32(0)).view(np.uint32)  # -0.0 + 0.0 is 0.0
    return np.where(u >= np.uint32(1 << 31), ~u, u | np.uint32(1 << 31))


def _runs(group: np.ndarray) -> list[tuple[int, int]] | None:
    """``[(start, stop), ...]`` of the runs of equal values of a sorted ``group``; None if unsorted."""
    if not _is_sorted(group):
        return None
    cuts = (np.flatnonzero(group[1:] != group[:-1]) + 1).tolist()
    return list(zip([0] + cuts, cuts + [len(group)]))


def _stable_by(group: np.ndarray, order: np.ndarray) -> np.ndarray:
    """``order`` stably re-sorted by ``group`` (a radix sort when the groups fit in 16 bits)."""
    g = group[order]
    if _is_sorted(g):
        return order
    return order[np.argsort(g.astype(np.uint16) if g.max() < 2**16 else g, kind="stable")]


def _is_sorted(a: np.ndarray) -> bool:
    return len(a) < 2 or bool((a[1:] >= a[:-1]).all())


def _index_keys(index: np.ndarray) -> tuple[np.ndarray, ...]:
    """Sort keys (last is primary, as :func:`numpy.lexsort` wants) that order rows of ``index``
    lexicographically: one packed key when its columns fit into 63 bits, else one key a column."""
    if len(index) == 0 or index.shape[1] == 1:
        return tuple(index.T[::-1])
    low, span = index.min(axis=0), index.max(axis=0) - index.min(axis=0) + 1
    if float(np.prod(span.astype(np.float64))) < 2.0**62:
        key = index[:, 0] - low[0]
        for col in range(1, index.shape[1]):
            key = key * span[col] + (index[:, col] - low[col])
        return (key,)
    return tuple(index.T[::-1])


def _values_at(host: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """``host[positions]`` with -1 read as 0."""
    values = host.take(positions)
    return np.where(positions >= 0, values, 0) if (positions < 0).any() else values


def gather(reader: Values, bars: Bars, n_items: int, maxdim: int) -> DiagramBatch:
    """Turn normalized bars into one :class:`~difftda.diagrams.Diagrams` per item.

    Args:
        reader: reads the values at positions, on the device of the result.
        bars: the output of :func:`normalize`.
        n_items: ``B``, the number of items (clouds, images, graphs) in the batch.
        maxdim: the top homology dimension.
    """
    B = n_items
    birth, death, group, index, ess_birth, ess_group, ess_index = bars
    K, M = len(birth), len(ess_birth)
    c, ce = index.shape[1], ess_index.shape[1]
    dims = maxdim + 1
    ngroups = dims * B
    # Every position that is read, once per use; slot 0 of the placed values is the constant 0.
    wanted = _joined(birth, death, ess_birth)
    if wanted.min(initial=0) >= 0:  # slot e + 1 is positions[e]: place() lays the values out without indexing
        positions = wanted
        ess_pos = np.arange(2 * K + 1, 2 * K + M + 1)
        pair_pos = None  # births in slots 1..K, deaths in K + 1..2K: built only for readers that read it
        if reader.uses_slots:
            pair_pos = np.stack([np.arange(1, K + 1), np.arange(K + 1, 2 * K + 1)], 1).ravel()
    else:
        read_mask = wanted >= 0
        positions = wanted[read_mask]
        slots = np.zeros(len(wanted), np.int64)
        slots[read_mask] = np.arange(1, len(positions) + 1)
        pair_pos = np.stack([slots[:K], slots[K: 2 * K]], 1).ravel()  # (birth slot, death slot) of each bar
        ess_pos = slots[2 * K:]
    parts_host = [index.ravel(), ess_index.ravel(), positions, ess_pos]
    sizes = [c * K, ce * M, len(positions), M]
    if pair_pos is not None:
        parts_host.append(pair_pos)
        sizes.append(2 * K)
    if B > 1:  # the item of each bar (one item: zeros, made on the device below)
        parts_host += [group % B, ess_group % B]
        sizes += [K, M]
    extra = reader.prepare(positions)
    if extra is not None:
        parts_host.append(extra.ravel())
        sizes.append(extra.size)
    if reader.device.type == "cpu":  # no copy to make: tensors that share the host arrays' memory
        host_t = [torch.from_numpy(np.ascontiguousarray(a, np.int64)) for a in parts_host]
    else:  # one host -> device copy for all the indices of the batch; the rest are views of it
        host_t = list(torch.from_numpy(np.concatenate(parts_host)).to(reader.device).split_with_sizes(sizes))
    index_t, ess_index_t, read_t, ess_pos_t = host_t[:4]
    pair_pos_t = host_t[4] if pair_pos is not None else None
    rest = host_t[4 + (pair_pos is not None):]
    fin_item = ess_item = None
    if B > 1:
        fin_item, ess_item, *extra_t = rest
    else:
        extra_t = rest
    index_t, ess_index_t = index_t.view(K, c), ess_index_t.view(M, ce)
    pairs, births = reader.bars(read_t, pair_pos_t, ess_pos_t, *extra_t)
    # Groups are dimension-major and sorted, so each dimension of the whole batch is one contiguous
    # slice, found by bisection.
    if dims == 1:
        whole = Diagrams([Diagram(pairs, births, index_t, ess_index_t)])
        f_dim, e_dim = [K], [M]
    else:
        first = np.arange(0, ngroups + 1, B)  # the first group of each dimension, and the end
        f_at, e_at = np.searchsorted(group, first).tolist(), np.searchsorted(ess_group, first).tolist()
        f_dim = [b - a for a, b in zip(f_at, f_at[1:])]
        e_dim = [b - a for a, b in zip(e_at, e_at[1:])]
        parts = ((pairs, f_dim), (births, e_dim), (index_t, f_dim), (ess_index_t, e_dim))
        split = [t.split_with_sizes(n) for t, n in parts]
        whole = Diagrams(Diagram(*parts) for parts in zip(*split))

    def items() -> list[tuple[torch.Tensor, torch.Tensor]]:  # the item of each bar, made when asked for
        fin, ess = (fin_item, ess_item) if B > 1 else (index_t.new_zeros(K), index_t.new_zeros(M))
        return list(zip(fin.split_with_sizes(f_dim), ess.split_with_sizes(e_dim)))

    if B == 1:
        return DiagramBatch([whole], whole, items)

    def per_item() -> list[Diagrams]:  # split only when an item is read
        per_group = [np.bincount(g, minlength=ngroups).tolist() for g in (group, ess_group)]
        per_dim = [
            list(zip(*(t.split_with_sizes(per_group[n][k * B:(k + 1) * B]) for t, n in zip(dgm, (0, 1, 0, 1)))))
            for k, dgm in enumerate(whole)
        ]
        return [Diagrams(Diagram(*per_dim[k][b]) for k in range(dims)) for b in range(B)]

    return DiagramBatch(per_item, whole, items, B)


def _joined(*parts: np.ndarray) -> np.ndarray:
    """``np.concatenate(parts)`` of 1-D int64 arrays; a view with no copy when they already lie back to
    back in one buffer (as :mod:`~difftda.filtrations.cubical` writes births, deaths and essential
    births)."""
    base = parts[0].base
    if isinstance(base, np.ndarray) and base.ndim == 1 and base.dtype == np.int64 and base.flags.c_contiguous:
        origin = base.__array_interface__["data"][0]
        start = at = (parts[0].__array_interface__["data"][0] - origin) // 8
        for p in parts:
            if (p.base is not base or p.dtype != np.int64 or p.ndim != 1 or (len(p) > 1 and p.strides[0] != 8)
                    or p.__array_interface__["data"][0] != origin + 8 * at):
                break
            at += len(p)
        else:
            return base[start:at]
    return np.concatenate(parts)


def has_tangent(x: torch.Tensor) -> bool:
    """Whether ``x`` carries a forward-mode AD tangent (at the current dual level)."""
    return torch.autograd.forward_ad.unpack_dual(x).tangent is not None
