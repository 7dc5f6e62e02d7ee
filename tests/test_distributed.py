"""Multi-process training: a topological loss under DistributedDataParallel (gloo, 2 CPU processes).

Each rank trains the same 2-layer MLP on its own half of a batch with the connectivity loss (H0, the
default backend) plus the H1 total persistence (a VR pairing backend). DDP averages the gradients over
the ranks, so the single-process reference is the gradient of the mean of the two half-batch losses,
computed in this process without any distributed code. Scaling by 1/2 is exact in floating point, so
the reference and the all-reduced gradient agree to the last bits; the tolerance is only there for
BLAS libraries that change summation order between calls.
"""

from __future__ import annotations

import os

import pytest
import torch
import torch.distributed as dist

import difftda

WORLD = 2
STEPS = 3
N_PER_RANK = 24
LR = 0.05

pytestmark = [
    pytest.mark.skipif(
        not (dist.is_available() and dist.is_gloo_available()),
        reason="torch.distributed with the gloo backend is not available in this torch build",
    ),
    pytest.mark.skipif(not any(difftda.get_backend(b).max_maxdim is None for b in difftda.list_backends()),
                       reason="the H1 term needs a Vietoris-Rips engine (giotto-ph, gudhi or ripser.py)"),
]


def _data() -> torch.Tensor:
    g = torch.Generator().manual_seed(7)
    return torch.randn(WORLD * N_PER_RANK, 2, generator=g, dtype=torch.float64)


def _model() -> torch.nn.Module:
    torch.manual_seed(11)
    return torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2)).double()


def _loss(z: torch.Tensor) -> torch.Tensor:
    """Connectivity (H0, backend 'auto') plus H1 total persistence (the VR pairing backend)."""
    h0 = difftda.persistence(z, maxdim=0)[0]
    h1 = difftda.persistence(z, maxdim=1)[1]
    return difftda.losses.connectivity_loss(h0, eta=0.5) + (h1.pairs[:, 1] - h1.pairs[:, 0]).sum()


def _grads(model: torch.nn.Module) -> list[torch.Tensor]:
    return [p.grad.detach().clone() for p in model.parameters()]


def _rank_main(rank: int, store: str, out: str) -> None:
    """One DDP process: train STEPS steps on its half of the data, save the gradients of every step."""
    os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=WORLD)
    try:
        model = torch.nn.parallel.DistributedDataParallel(_model())
        opt = torch.optim.SGD(model.parameters(), lr=LR)
        x = _data()[rank * N_PER_RANK:(rank + 1) * N_PER_RANK]
        history = []
        for _ in range(STEPS):
            opt.zero_grad()
            loss = _loss(model(x))
            loss.backward()  # DDP all-reduces (averages) the gradients here
            history.append(_grads(model.module))
            opt.step()
        torch.save({"grads": history, "params": [p.detach().clone() for p in model.module.parameters()],
                    "loss": loss.item()}, out)
    finally:
        dist.destroy_process_group()


def _single_process_reference() -> tuple[list[list[torch.Tensor]], list[torch.Tensor], list[list[torch.Tensor]]]:
    """The same training in one process: the mean of the two half-batch losses, no distributed code."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        model = _model()
        opt = torch.optim.SGD(model.parameters(), lr=LR)
        x = _data()
        history, halves = [], []
        for _ in range(STEPS):
            per_half = []
            for r in range(WORLD):  # each half alone, to show the halves pull in different directions
                model.zero_grad()
                _loss(model(x[r * N_PER_RANK:(r + 1) * N_PER_RANK])).backward()
                per_half.append(_grads(model))
            halves.append(per_half)
            opt.zero_grad()
            losses = [_loss(model(x[r * N_PER_RANK:(r + 1) * N_PER_RANK])) for r in range(WORLD)]
            (sum(losses) / WORLD).backward()
            history.append(_grads(model))
            opt.step()
        return history, [p.detach().clone() for p in model.parameters()], halves
    finally:
        torch.set_num_threads(threads)


def test_ddp_gloo_two_processes_match_single_process(tmp_path):
    import torch.multiprocessing as mp

    outs = [str(tmp_path / f"rank{r}.pt") for r in range(WORLD)]
    store = str(tmp_path / "store")
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_rank_main, args=(r, store, outs[r])) for r in range(WORLD)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    for p in procs:
        if p.is_alive():  # a hung rendezvous: stop our own children and fail
            p.kill()
            p.join()
    assert [p.exitcode for p in procs] == [0] * WORLD, f"DDP processes exited with {[p.exitcode for p in procs]}"

    ranks = [torch.load(o) for o in outs]
    ref_grads, ref_params, halves = _single_process_reference()

    for step in range(STEPS):
        # The test can only fail on a missing all-reduce if the two halves disagree, and only tests
        # the topological gradient if it is there at all.
        g0, g1 = halves[step]
        assert any(not torch.allclose(a, b) for a, b in zip(g0, g1)), "the two halves give the same gradient"
        assert sum(float(g.abs().sum()) for g in ref_grads[step]) > 0
        for a, b in zip(ranks[0]["grads"][step], ranks[1]["grads"][step]):
            assert torch.equal(a, b), f"step {step}: the ranks hold different gradients after the all-reduce"
        for a, ref in zip(ranks[0]["grads"][step], ref_grads[step]):
            torch.testing.assert_close(a, ref, rtol=1e-12, atol=1e-14)
        for a, h0, h1 in zip(ranks[0]["grads"][step], g0, g1):
            torch.testing.assert_close(a, (h0 + h1) / 2, rtol=1e-12, atol=1e-14)
    for a, b, ref in zip(ranks[0]["params"], ranks[1]["params"], ref_params):
        assert torch.equal(a, b)
        torch.testing.assert_close(a, ref, rtol=1e-12, atol=1e-14)
