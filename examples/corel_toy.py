"""COREL toy: control the connectivity of a learned 2-D representation.

The toy experiment of Hofer, Kwitt, Dixit and Niethammer, "Connectivity-Optimized Representation
Learning via Persistent Homology" (ICML 2019), as in the torchph tutorial: 1,500 points from three
Gaussians go through an MLP R^2 -> R^2 trained only with the connectivity loss

    L_eta(S) = sum over the finite H0 deaths eps_t of a batch S of |eta - eps_t|,

so that every batch of 50 latent points becomes "eta-connected". The statistics alpha / eps / beta
are the minimum / mean / maximum H0 death of a batch, averaged over 10 passes of batches of 50.
Expected trend: the relative spread (beta - alpha) / eps shrinks and eps moves toward eta (it
never reaches it: 50 points in R^2 cannot all be eta apart from their nearest neighbours).

Run:  python examples/corel_toy.py --out corel-out      (about 10 s on one CPU core)
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import torch

import difftda
from difftda.datasets import three_gaussians

METRICS = {"l1": "manhattan", "manhattan": "manhattan", "l2": "euclidean", "euclidean": "euclidean"}


def make_model() -> torch.nn.Module:
    """The MLP of the paper's toy: 2 -> 10 -> 10 -> 2 with LeakyReLU."""
    return torch.nn.Sequential(
        torch.nn.Linear(2, 10), torch.nn.LeakyReLU(),
        torch.nn.Linear(10, 10), torch.nn.LeakyReLU(),
        torch.nn.Linear(10, 2),
    )


def death_stats(z: torch.Tensor, *, batch_size: int = 50, passes: int = 10, metric: str = "manhattan",
                backend: str = "auto", generator: torch.Generator | None = None) -> dict[str, float]:
    """alpha / eps / beta: the per-batch min / mean / max finite H0 death, averaged over batches.

    ``passes`` random orders of ``z`` are cut into batches of ``batch_size`` (the last, short batch
    dropped), and all batches go through :func:`difftda.persistence` in one call.

    Returns:
        ``{"alpha", "eps", "beta", "deaths"}``; ``deaths`` holds every finite death (a tensor).
    """
    n = (len(z) // batch_size) * batch_size
    if n == 0:
        raise ValueError(f"need at least batch_size={batch_size} points; got {len(z)}")
    order = torch.stack([torch.randperm(len(z), generator=generator)[:n] for _ in range(passes)])
    batches = z.detach()[order].reshape(-1, batch_size, z.shape[1])
    dgms = difftda.persistence(batches, maxdim=0, backend=backend, metric=metric)
    deaths = [d[0].pairs[:, 1] for d in dgms]
    counts = torch.tensor([len(d) for d in deaths])
    flat = torch.cat(deaths)
    group = torch.repeat_interleave(torch.arange(len(deaths)), counts)
    lo = torch.full((len(deaths),), math.inf, dtype=flat.dtype).scatter_reduce(0, group, flat, "amin")
    hi = torch.full((len(deaths),), -math.inf, dtype=flat.dtype).scatter_reduce(0, group, flat, "amax")
    mean = torch.zeros(len(deaths), dtype=flat.dtype).index_add(0, group, flat) / counts.clamp(min=1)
    return {"alpha": lo.mean().item(), "eps": mean.mean().item(), "beta": hi.mean().item(), "deaths": flat}


def run(*, n_per: int = 500, epochs: int = 50, batch_size: int = 50, eta: float = 2.0, metric: str = "l1",
        lr: float = 0.01, lr_drops: tuple[int, ...] | None = None, passes: int = 10, backend: str = "auto",
        seed: int = 0, out: str | Path | None = None, progress: bool = True, verbose: bool = True) -> dict:
    """Train the toy and return its statistics (and write the pictures when ``out`` is given).

    Args:
        n_per: points per Gaussian (the paper: 500).
        epochs: training epochs (the paper: 50).
        batch_size: the batch of the loss and of the statistics (the paper: 50, drop_last).
        eta: the target death time.
        metric: ``"l1"`` (the paper's) or ``"l2"``.
        lr: Adam's learning rate, divided by 10 at each epoch of ``lr_drops`` (1-based; default
            40% and 80% of training, i.e. epochs 20 and 40 of 50 as in the paper).
        passes: passes over the data for alpha / eps / beta.
        backend: persistence backend spec.
        seed: seeds the data, the initialisation and the batch order.
        out: folder for ``corel_latent.png`` and ``corel_deaths.png`` (None: no pictures).
        progress: show a progress bar (needs tqdm); verbose: print the statistics.

    Returns:
        ``{"before": stats, "after": stats, "history": [per-epoch stats with "loss"], "files": [...]}``,
        each stats a dict with ``alpha``, ``eps``, ``beta``.
    """
    from _progress import progress as progress_bar

    metric = METRICS.get(metric.lower()) if isinstance(metric, str) else None
    if metric is None:
        raise ValueError(f"metric must be one of {sorted(METRICS)}")
    if lr_drops is None:
        lr_drops = (round(0.4 * epochs), round(0.8 * epochs))
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    x, labels = three_gaussians(n_per, seed=seed)
    model = make_model()
    opt = torch.optim.Adam(model.parameters(), lr=lr)

    def stats() -> dict[str, float]:
        with torch.no_grad():
            z = model(x)
        s = death_stats(z, batch_size=batch_size, passes=passes, metric=metric, backend=backend, generator=gen)
        return {**s, "z": z}

    before = stats()
    snapshots = {0: before}
    history, losses = [], []
    n_batches = len(x) // batch_size
    bar = progress_bar(range(1, epochs + 1), desc="COREL toy", unit="epoch", disable=not progress)
    for epoch in bar:
        for group in opt.param_groups:
            group["lr"] = lr * 0.1 ** sum(epoch >= d for d in lr_drops)
        perm = torch.randperm(len(x), generator=gen)[: n_batches * batch_size].reshape(n_batches, batch_size)
        total = 0.0
        for idx in perm:
            dgm = difftda.persistence(model(x[idx]), maxdim=0, backend=backend, metric=metric)[0]
            loss = difftda.losses.connectivity_loss(dgm, eta=eta)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
            total += loss.item()
        s = stats()
        history.append({"epoch": epoch, "loss": total / n_batches, **{k: s[k] for k in ("alpha", "eps", "beta")}})
        bar.set_postfix(loss=f"{total / n_batches:.1f}", eps=f"{s['eps']:.3f}")
        if epoch in (5, epochs):
            snapshots[epoch] = s
    after = snapshots.get(epochs, before)
    result = {
        "before": {k: before[k] for k in ("alpha", "eps", "beta")},
        "after": {k: after[k] for k in ("alpha", "eps", "beta")},
        "history": history,
        "files": [],
    }
    if verbose:
        for name in ("before", "after"):
            a, e, b = (result[name][k] for k in ("alpha", "eps", "beta"))
            print(f"{name:>6}: alpha={a:.3f}  eps={e:.3f}  beta={b:.3f}   (eta={eta})")
    if out is not None:
        result["files"] = _plots(Path(out), snapshots, labels, losses, history, before, after, eta)
        if verbose:
            for f in result["files"]:
                print(f"wrote {f}")
    return result


def _plots(out: Path, snapshots: dict, labels: torch.Tensor, losses: list[float], history: list[dict],
           before: dict, after: dict, eta: float) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    files = []
    epochs = sorted(snapshots)
    fig, axes = plt.subplots(1, len(epochs), figsize=(3.6 * len(epochs), 3.6))
    for ax, ep in zip(axes, epochs):
        s = snapshots[ep]
        z = s["z"]
        ax.scatter(z[:, 0], z[:, 1], c=labels, s=2, cmap="viridis", alpha=0.6, edgecolors="none")
        ax.set_aspect("equal", "datalim")
        ax.set_title(f"epoch {ep}")
        ax.text(0.03, 0.03, f"α={s['alpha']:.2f}  ε={s['eps']:.2f}  β={s['beta']:.2f}", transform=ax.transAxes,
                fontsize=9, bbox=dict(facecolor="white", alpha=0.8, lw=0))
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle("latent space of the three Gaussians (colour: Gaussian)")
    fig.tight_layout()
    files.append(out / "corel_latent.png")
    fig.savefig(files[-1], dpi=80)
    plt.close(fig)

    fig, (ax0, ax1, ax2) = plt.subplots(1, 3, figsize=(12.5, 3.4))
    ep = [0] + [h["epoch"] for h in history]
    stat = {k: [before[k]] + [h[k] for h in history] for k in ("alpha", "eps", "beta")}
    ax0.fill_between(ep, stat["alpha"], stat["beta"], color="C0", alpha=0.25, label="[α, β]")
    ax0.plot(ep, stat["eps"], color="C0", label="ε (mean death)")
    ax0.axhline(eta, color="red", ls="--", lw=1, label=f"η = {eta:g}")
    ax0.set(title="H0 deaths of batches over training", xlabel="epoch", ylabel="death")
    ax0.legend(fontsize="small", loc="upper right")
    final = after["deaths"].numpy()
    ax1.hist(final, bins=40, color="C1", alpha=0.8)
    ax1.axvline(eta, color="red", ls="--", lw=1, label=f"η = {eta:g}")
    ax1.set(title=f"H0 deaths after training (epoch {ep[-1]})", xlabel="death", ylabel="count")
    ax1.legend(fontsize="small")
    ax2.plot(losses, lw=0.6, color="0.5")
    ax2.set(title="connectivity loss per batch", xlabel="iteration", ylabel="loss", yscale="log")
    ax2.grid(alpha=0.3)
    fig.tight_layout()
    files.append(out / "corel_deaths.png")
    fig.savefig(files[-1], dpi=80)
    plt.close(fig)
    return files


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n-per", type=int, default=500, help="points per Gaussian (default 500)")
    p.add_argument("--epochs", type=int, default=50, help="training epochs (default 50)")
    p.add_argument("--batch-size", type=int, default=50)
    p.add_argument("--eta", type=float, default=2.0, help="target H0 death (default 2)")
    p.add_argument("--metric", default="l1", choices=sorted(METRICS), help="latent metric (default l1, as the paper)")
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--passes", type=int, default=10, help="passes over the data for alpha/eps/beta (default 10)")
    p.add_argument("--backend", default="auto", help="persistence backend spec (default auto)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("corel-out"), help="folder for the PNG files")
    p.add_argument("--threads", type=int, default=1,
                   help="torch CPU threads (default 1: the models are tiny, more threads only add overhead)")
    p.add_argument("--no-plot", action="store_true", help="write no pictures")
    p.add_argument("--quick", action="store_true", help="a short run (seconds): 100 points per Gaussian, 10 epochs")
    args = p.parse_args(argv)
    if args.quick:
        args.n_per, args.epochs, args.passes = 100, 10, 3
    torch.set_num_threads(args.threads)
    run(n_per=args.n_per, epochs=args.epochs, batch_size=args.batch_size, eta=args.eta, metric=args.metric,
        lr=args.lr, passes=args.passes, backend=args.backend, seed=args.seed,
        out=None if args.no_plot else args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
