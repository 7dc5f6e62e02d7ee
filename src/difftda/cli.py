"""The ``difftda`` command line: ``difftda demo`` (also ``python -m difftda demo``).

``difftda demo`` trains a small MLP with the connectivity loss of Hofer et al. (ICML 2019) on three
Gaussians in the plane, prints what the training did to the H0 deaths of its batches, and draws the
latent space and the deaths before and after (``--no-plot`` to skip the picture).
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

import torch

#: name -> (help, add_arguments, run); a module can add a subcommand with :func:`command`.
COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]] = {}


class UsageError(Exception):
    """A bad command-line value found after parsing; printed on one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    """An argument parser that reports a bad argument on one line, without the usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def command(name: str, help: str, add_arguments: Callable[[argparse.ArgumentParser], None]):
    """Register ``fn(args) -> exit code`` as the subcommand ``difftda <name>``."""
    def deco(fn: Callable[[argparse.Namespace], int]):
        COMMANDS[name] = (help, add_arguments, fn)
        return fn
    return deco


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


def _demo_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--epochs", type=_positive_int, default=20, help="training epochs (default 20)")
    p.add_argument("--eta", type=_positive_float, default=2.0,
                   help="the H0 death the loss pulls every batch toward (default 2.0)")
    p.add_argument("--batch-size", type=_positive_int, default=50,
                   help="points per training batch, at least 2 and at most 3 x --n-per (default 50)")
    p.add_argument("--n-per", type=_positive_int, default=500, help="points per Gaussian (default 500)")
    p.add_argument("--passes", type=_positive_int, default=10,
                   help="random passes over the data for the statistics alpha/eps/beta (default 10)")
    p.add_argument("--backend", default="auto",
                   help="persistence backend: auto, torch, giotto, gudhi or ripser (default auto)")
    p.add_argument("--seed", type=int, default=0, help="seeds the data, the model and the batches (default 0)")
    p.add_argument("--threads", type=_positive_int, default=1,
                   help="torch CPU threads (default 1: the model is tiny, and more threads only contend)")
    p.add_argument("--out", type=Path, default=Path("difftda-demo"),
                   help="folder for demo.png (default difftda-demo)")
    p.add_argument("--no-plot", action="store_true", help="do not draw the picture")


def h0_death_stats(z: torch.Tensor, batch_size: int, passes: int, backend: str,
                   generator: torch.Generator | None = None) -> dict[str, float]:
    """alpha / eps / beta of Hofer et al.: the min / mean / max finite H0 death of a batch, averaged over batches.

    ``passes`` random orders of ``z`` are cut into batches of ``batch_size`` points (the short last
    batch is dropped); the deaths are those of the L1 (manhattan) Vietoris-Rips filtration.

    Example:
        >>> import torch
        >>> z = torch.tensor([[0.0, 0.0], [1.0, 0.0], [1.0, 2.0], [4.0, 2.0]])
        >>> s = h0_death_stats(z, batch_size=4, passes=1, backend="torch")
        >>> round(s["alpha"], 3), round(s["eps"], 3), round(s["beta"], 3)
        (1.0, 2.0, 3.0)
    """
    import difftda

    n = (len(z) // batch_size) * batch_size
    if n == 0:
        raise ValueError(f"batch_size={batch_size} is larger than the {len(z)} points")
    order = torch.stack([torch.randperm(len(z), generator=generator)[:n] for _ in range(passes)])
    batches = z.detach()[order].reshape(-1, batch_size, z.shape[1])
    dgms = difftda.persistence(batches, maxdim=0, backend=backend, metric="manhattan")
    deaths = [d[0].pairs[:, 1] for d in dgms]
    return {
        "alpha": torch.stack([d.min() for d in deaths]).mean().item(),
        "eps": torch.stack([d.mean() for d in deaths]).mean().item(),
        "beta": torch.stack([d.max() for d in deaths]).mean().item(),
    }


def _stats_line(name: str, s: dict[str, float]) -> str:
    return f"{name}: alpha={s['alpha']:.3f}  eps={s['eps']:.3f}  beta={s['beta']:.3f}"


@command("demo", "train a small MLP with the connectivity loss (Hofer et al., ICML 2019) and show the result",
         _demo_args)
def demo(args: argparse.Namespace) -> int:
    """Run ``difftda demo``; returns the exit code."""
    import difftda
    from difftda.datasets import three_gaussians

    if not 2 <= args.batch_size <= 3 * args.n_per:
        raise UsageError(f"--batch-size must be between 2 and 3 x --n-per = {3 * args.n_per}; got {args.batch_size}")
    try:
        engine = difftda.get_backend(args.backend, maxdim=0)
    except (ValueError, TypeError, ImportError) as err:
        raise UsageError(f"--backend {args.backend}: {err}") from None
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    x, labels = three_gaussians(args.n_per, seed=args.seed)
    model = torch.nn.Sequential(
        torch.nn.Linear(2, 10), torch.nn.LeakyReLU(), torch.nn.Linear(10, 10), torch.nn.LeakyReLU(),
        torch.nn.Linear(10, 2),
    )
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    # The learning rate drops tenfold at 40% and 80% of training, as at epochs 20 and 40 of 50 in the paper's toy.
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, [int(0.4 * args.epochs), int(0.8 * args.epochs)], 0.1)
    with torch.no_grad():
        before = model(x)
    stats_before = h0_death_stats(before, args.batch_size, args.passes, args.backend, gen)
    print(f"{3 * args.n_per} points from three Gaussians, MLP 2-10-10-2, connectivity loss with eta={args.eta:g}, "
          f"batches of {args.batch_size}, backend {engine}")
    print("alpha / eps / beta: the smallest / mean / largest H0 death of a batch (L1 metric), averaged over "
          f"{args.passes} passes")
    print(_stats_line("before  ", stats_before))
    n_batches = len(x) // args.batch_size
    for epoch in range(1, args.epochs + 1):
        perm = torch.randperm(len(x), generator=gen)
        total = 0.0
        for k in range(n_batches):
            z = model(x[perm[k * args.batch_size:(k + 1) * args.batch_size]])
            dgm = difftda.persistence(z, maxdim=0, backend=args.backend, metric="manhattan")[0]
            loss = difftda.losses.connectivity_loss(dgm, eta=args.eta)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item()
        sched.step()
        with torch.no_grad():
            s = h0_death_stats(model(x), args.batch_size, args.passes, args.backend, gen)
        print(_stats_line(f"epoch {epoch:{len(str(args.epochs))}d}/{args.epochs}", s)
              + f"  loss={total / n_batches:.3f}")
    with torch.no_grad():
        after = model(x)
    stats_after = h0_death_stats(after, args.batch_size, args.passes, args.backend, gen)
    print(_stats_line("after   ", stats_after))
    spread = [(s["beta"] - s["alpha"]) / s["eps"] for s in (stats_before, stats_after)]
    print(f"eps moved from {stats_before['eps']:.3f} to {stats_after['eps']:.3f} (eta={args.eta:g}); "
          f"the relative spread (beta - alpha) / eps went from {spread[0]:.2f} to {spread[1]:.2f}")
    if not args.no_plot:
        _demo_plot(args, labels, before, after, stats_before, stats_after, gen)
    return 0


def _demo_plot(args: argparse.Namespace, labels: torch.Tensor, before: torch.Tensor, after: torch.Tensor,
               stats_before: dict[str, float], stats_after: dict[str, float], gen: torch.Generator) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed, so no picture was drawn (from a checkout: pip install -e '.[plot]')")
        return
    import difftda

    def batch_deaths(z: torch.Tensor) -> torch.Tensor:
        # Every finite H0 death of `passes` random passes of batches, as the statistics use them.
        n = (len(z) // args.batch_size) * args.batch_size
        order = torch.stack([torch.randperm(len(z), generator=gen)[:n] for _ in range(args.passes)])
        dgms = difftda.persistence(z[order].reshape(-1, args.batch_size, 2), maxdim=0, backend=args.backend,
                                   metric="manhattan")
        return torch.cat([d[0].pairs[:, 1] for d in dgms])

    args.out.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    for ax, z, s, title in ((axes[0], before, stats_before, "latent space before training"),
                            (axes[1], after, stats_after, f"after {args.epochs} epochs")):
        ax.scatter(z[:, 0], z[:, 1], c=labels, s=3, cmap="viridis", edgecolors="none")
        ax.set_title(title)
        ax.set_aspect("equal", "datalim")
        ax.text(0.03, 0.03, f"α={s['alpha']:.2f}  ε={s['eps']:.2f}  β={s['beta']:.2f}", transform=ax.transAxes,
                fontsize=9, bbox=dict(facecolor="white", alpha=0.8, lw=0))
    d0, d1 = batch_deaths(before), batch_deaths(after)
    top = max(d0.max().item(), d1.max().item(), args.eta) * 1.05
    bins = torch.linspace(0, top, 41).numpy()
    axes[2].hist(d0.numpy(), bins=bins, color="0.6", alpha=0.8, label="before")
    axes[2].hist(d1.numpy(), bins=bins, color="C1", alpha=0.8, label="after")
    axes[2].axvline(args.eta, color="red", lw=1, ls="--", label=f"η = {args.eta:g}")
    axes[2].set(title=f"H0 deaths of batches of {args.batch_size}", xlabel="death", ylabel="count")
    axes[2].legend()
    fig.suptitle("colour: the Gaussian a point comes from; α / ε / β: smallest / mean / largest death per batch")
    fig.tight_layout()
    path = args.out / "demo.png"
    fig.savefig(path, dpi=80)
    plt.close(fig)
    print(f"wrote {path}")


def _version() -> str:
    import difftda

    return f"difftda {difftda.__version__} (torch {torch.__version__})"


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``difftda`` command; returns the exit code."""
    parser = _Parser(prog="difftda", description="Differentiable persistent homology for PyTorch.")
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    for name, (help_, add, _) in COMMANDS.items():
        add(sub.add_parser(name, help=help_, description=help_))
    args = parser.parse_args(argv)
    try:
        return COMMANDS[args.command][2](args)
    except UsageError as err:
        print(f"difftda {args.command}: error: {err} (see 'difftda {args.command} --help')", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
