"""Speed of the Topo-GEN regularizers: milliseconds per forward + backward, 128 points in R^20.

    python benchmarks/bench_topogen.py                     # defaults: n=128, d=20, H0+H1, 20 repeats
    python benchmarks/bench_topogen.py --n 256 --backend gudhi --device cuda

Two numbers per regularizer:

* ``loss only``: the regularizer on diagrams already computed (with their autograd graph), forward
  and backward down to the points: what the loss itself costs;
* ``end to end``: distances, pairing, gather, the regularizer and the backward pass, from the points:
  what a training step pays, and what Topo-GEN's timings (11 s for ``loss_dsigma0`` and 16 s for
  ``loss_dsigma1`` on 128 points, measured on the machine of docs/losses.md) include.

The target is a second random cloud of the same size; its diagrams are computed once, as Topo-GEN's
experiments do. This is a benchmark, not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch

import difftda
from difftda import losses as L


def regularizers(target):
    t0, t1 = target[0], target[1]
    return {
        "bottleneck0 (sum)": lambda d: L.bottleneck_loss(d[0], t0, "sum"),
        "bottleneck0 (max)": lambda d: L.bottleneck_loss(d[0], t0, "max"),
        "bottleneck1 (sum)": lambda d: L.bottleneck_loss(d[1], t1, "sum"),
        "persentropy0": lambda d: L.persistent_entropy_loss(d[0], t0, 0.001),
        "persentropy1": lambda d: L.persistent_entropy_loss(d[1], t1, 0.001),
        "dsigma0": lambda d: L.dsigma_loss(d[0], t0, 0.05),
        "dsigma1": lambda d: L.dsigma_loss(d[1], t1, 0.05),
        "density": lambda d: L.density_loss(d[0], t0, 0.2, 0.002, 35.0, 30),
        "push0": lambda d: L.push_loss(d[0]),
        "all seven (TopoGenLoss)": None,
    }


def timed(fn, repeat: int, sync) -> float:
    fn()  # warm-up (allocations, lazy imports)
    times = []
    for _ in range(repeat):
        sync()
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return 1000.0 * statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=128, help="points per cloud (default 128)")
    p.add_argument("--dim", type=int, default=20, help="ambient dimension (default 20)")
    p.add_argument("--repeat", type=int, default=20, help="timed repetitions; the median is printed")
    p.add_argument("--backend", default="auto", help="persistence backend spec (default auto)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0,
                   help="torch intra-op threads (0: torch's default). On a loaded machine 1 avoids OpenMP stalls")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    torch.manual_seed(args.seed)
    dtype = getattr(torch, args.dtype)
    dev = torch.device(args.device)
    sync = (lambda: torch.cuda.synchronize(dev)) if dev.type == "cuda" else (lambda: None)
    x0 = torch.randn(args.n, args.dim, dtype=dtype, device=dev)
    y = torch.randn(args.n, args.dim, dtype=dtype, device=dev) * 1.3
    target = difftda.persistence(y, maxdim=1, backend=args.backend)
    crit = difftda.nn.TopoGenLoss(weights=[1.0] * 7, backend=args.backend, target=y)
    x = x0.clone().requires_grad_(True)
    dgms = difftda.persistence(x, maxdim=1, backend=args.backend)
    print(
        f"Topo-GEN regularizers, {args.n} points in R^{args.dim}, {args.dtype}, {dev}, backend "
        f"{difftda.get_backend(args.backend, maxdim=1)}, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads); "
        f"median of {args.repeat} runs"
    )
    print(f"diagrams: H0 {dgms[0].pairs.shape[0]} finite bars, H1 {dgms[1].pairs.shape[0]}")
    print(f"{'regularizer':<26}{'loss only (ms)':>16}{'end to end (ms)':>18}")

    def persistence_only() -> None:
        xx = x0.clone().requires_grad_(True)
        d = difftda.persistence(xx, maxdim=1, backend=args.backend)
        (d[0].pairs.sum() + d[1].pairs.sum()).backward()

    for name, fn in regularizers(target).items():
        if fn is None:
            def end_to_end() -> None:
                xx = x0.clone().requires_grad_(True)
                crit(xx).backward()

            only = float("nan")
        else:
            def loss_only(fn=fn) -> None:
                x.grad = None
                fn(dgms).backward(retain_graph=True)

            def end_to_end(fn=fn) -> None:
                xx = x0.clone().requires_grad_(True)
                fn(difftda.persistence(xx, maxdim=1, backend=args.backend)).backward()

            only = timed(loss_only, args.repeat, sync)
        full = timed(end_to_end, args.repeat, sync)
        print(f"{name:<26}{'-' if only != only else f'{only:.2f}':>16}{full:>18.2f}")
    print(f"{'(persistence + gather alone)':<26}{'':>16}{timed(persistence_only, args.repeat, sync):>18.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
