"""``difftda`` command line: ``difftda demo`` (and ``python -m difftda demo``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import torch

#: name -> (help, add_arguments, run); other modules add their subcommands here.
COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]] = {}


def command(name: str, help: str, add_arguments: Callable[[argparse.ArgumentParser], None]):
    def deco(fn: Callable[[argparse.Namespace], int]):
        COMMANDS[name] = (help, add_arguments, fn)
        return fn
    return deco


def _demo_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--epochs", type=int, default=20, help="training epochs (default 20)")
    p.add_argument("--eta", type=float, default=2.0, help="target H0 death time (default 2.0)")
    p.add_argument("--batch-size", type=int, default=50)
    p.add_argument("--n-per", type=int, default=500, help="points per Gaussian (default 500)")
    p.add_argument("--backend", default="auto", help="persistence backend spec (default auto)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads (default 1: the model is tiny, and more threads only contend)")
    p.add_argument("--out", type=Path, default=Path("difftda-demo"), help="folder for the PNG files")
    p.add_argument("--no-plot", action="store_true", help="do not write pictures")


def h0_death_stats(model: torch.nn.Module, x: torch.Tensor, batch_size: int, passes: int, backend: str,
                   generator: torch.Generator) -> tuple[float, float, float]:
    """alpha / eps / beta of Hofer et al.: min / mean / max finite H0 death over random batches."""
    import difftda

    with torch.no_grad():
        z = model(x)
    batches = [z[torch.randperm(len(z), generator=generator)[: (len(z) // batch_size) * batch_size]]
               .reshape(-1, batch_size, z.shape[1]) for _ in range(passes)]
    dgms = difftda.persistence(torch.cat(batches), maxdim=0, backend=backend, metric="manhattan")
    deaths = torch.cat([d[0].pairs[:, 1] for d in dgms])
    return deaths.min().item(), deaths.mean().item(), deaths.max().item()


@command("demo", "train a small MLP with the connectivity loss (Hofer et al., ICML'19)", _demo_args)
def demo(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    import difftda
    from difftda.datasets import three_gaussians

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    x, labels = three_gaussians(args.n_per, seed=args.seed)
    model = torch.nn.Sequential(
        torch.nn.Linear(2, 10), torch.nn.LeakyReLU(), torch.nn.Linear(10, 10), torch.nn.LeakyReLU(),
        torch.nn.Linear(10, 2),
    )
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    # The lr drops tenfold at 40% and 80% of training, as at epochs 20 and 40 of 50 in the paper's toy.
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, [int(0.4 * args.epochs), int(0.8 * args.epochs)], 0.1)
    with torch.no_grad():
        before = model(x)
    a, e, b = h0_death_stats(model, x, args.batch_size, 3, args.backend, gen)
    print(f"backend {difftda.get_backend(args.backend, maxdim=0)}; eta = {args.eta}")
    print(f"before: alpha={a:.3f} eps={e:.3f} beta={b:.3f}")
    bar = tqdm(range(args.epochs), desc="training", unit="epoch")
    for epoch in bar:
        perm = torch.randperm(len(x), generator=gen)
        n_batches = len(x) // args.batch_size
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
        a, e, b = h0_death_stats(model, x, args.batch_size, 3, args.backend, gen)
        bar.set_postfix(loss=f"{total / n_batches:.2f}")
        tqdm.write(f"epoch {epoch + 1:2d}: loss={total / n_batches:8.3f}  alpha={a:.3f} eps={e:.3f} beta={b:.3f}")
    if not args.no_plot:
        _demo_plots(args, x, labels, before, model)
    return 0


def _demo_plots(args: argparse.Namespace, x: torch.Tensor, labels: torch.Tensor, before: torch.Tensor,
                model: torch.nn.Module) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no pictures (pip install 'difftda[plot]')")
        return
    import difftda

    with torch.no_grad():
        after = model(x)
    args.out.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    for ax, z, title in ((axes[0], before, "latent space before"), (axes[1], after, "latent space after")):
        ax.scatter(z[:, 0], z[:, 1], c=labels, s=3, cmap="viridis")
        ax.set_title(title)
        ax.set_aspect("equal", "datalim")
    dgm = difftda.persistence(after[: args.batch_size], maxdim=0, backend=args.backend, metric="manhattan")[0]
    deaths = dgm.pairs[:, 1].detach()
    axes[2].scatter(torch.zeros_like(deaths), deaths, s=10)
    axes[2].axhline(args.eta, color="red", lw=1, ls="--", label=f"eta = {args.eta}")
    axes[2].set(title="H0 diagram of one batch (after)", xlabel="birth", ylabel="death")
    axes[2].legend()
    fig.tight_layout()
    path = args.out / "demo.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    print(f"wrote {path}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="difftda", description="Differentiable persistent homology for PyTorch.")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (help_, add, _) in COMMANDS.items():
        add(sub.add_parser(name, help=help_, description=help_))
    args = parser.parse_args(argv)
    return COMMANDS[args.command][2](args)


if __name__ == "__main__":
    sys.exit(main())
