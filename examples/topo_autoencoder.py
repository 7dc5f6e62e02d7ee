"""A topological autoencoder on scikit-learn's digits: does a topological term keep the shape?

Moor, Horn, Rieck and Borgwardt, "Topological Autoencoders" (ICML 2020): an autoencoder is trained
twice on the 8x8 digits that ship with scikit-learn (1,797 images, nothing is downloaded), once
with the reconstruction loss alone and once with a topological term added:

* ``--term signature`` (default): the signature loss of Moor et al. between each input batch and
  its latent codes (:func:`difftda.losses.signature_loss`, the squared original, H0 pairings);
* ``--term topogen``: Topo-GEN's bottleneck terms (:class:`difftda.nn.TopoGenLoss`) between the
  diagrams of the latent batch and of the input batch, each scaled to diameter 1.

The latent space is 2-D so it can be drawn. How well the topology is kept is measured on held-out
images, in batches of 128, by a figure the training never sees directly: the order-1 Wasserstein
distance between the H0 diagram of the input batch and that of its latent codes, each divided by
its mean death so that only the pattern of merge scales counts, per bar (lower is better).
scikit-learn's trustworthiness of the embedding (higher is better) is printed too, a check that
uses no persistent homology; the topological term does not improve it here.

Run:  python examples/topo_autoencoder.py --out autoencoder-out      (about a minute on one core)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

import difftda


def load_digits_tensor(seed: int = 0, n_test: int = 400) -> tuple[torch.Tensor, ...]:
    """``(x_train, y_train, x_test, y_test)``: scikit-learn's digits scaled to [0, 1], split at random."""
    from sklearn.datasets import load_digits

    data = load_digits()
    x = torch.tensor(data.data, dtype=torch.float32) / 16.0
    y = torch.tensor(data.target)
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    test, train = perm[:n_test], perm[n_test:]
    return x[train], y[train], x[test], y[test]


class AutoEncoder(torch.nn.Module):
    """64 -> 32 -> 2 -> 32 -> 64, ReLU, sigmoid output."""

    def __init__(self, n_in: int = 64, hidden: int = 32, latent: int = 2) -> None:
        super().__init__()
        self.encoder = torch.nn.Sequential(
            torch.nn.Linear(n_in, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, latent)
        )
        self.decoder = torch.nn.Sequential(
            torch.nn.Linear(latent, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, n_in), torch.nn.Sigmoid()
        )

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = self.encoder(x)
        return z, self.decoder(z)


def _unit_diameter(x: torch.Tensor) -> torch.Tensor:
    d = difftda.pairwise_distances(x)
    return x / d.max().clamp(min=1e-12)


def topology_gap(x: torch.Tensor, z: torch.Tensor, *, batch_size: int = 128, repeats: int = 5,
                 seed: int = 0) -> float:
    """How differently input batches and their latent codes merge into clusters (lower is better).

    For random batches of ``batch_size`` points: the H0 diagram of the inputs and that of their
    codes, each divided by its mean death (so only the pattern of merge scales counts, not the
    scale of the space), compared with the order-1 Wasserstein distance and divided by the number
    of bars. Averaged over ``repeats`` passes over ``x``.
    """
    g = torch.Generator().manual_seed(seed)
    n = (len(x) // batch_size) * batch_size
    if n == 0:
        raise ValueError(f"need at least batch_size={batch_size} points; got {len(x)}")
    values = []
    for _ in range(repeats):
        idx = torch.randperm(len(x), generator=g)[:n].reshape(-1, batch_size)
        dx = difftda.persistence([x[i] for i in idx], maxdim=0)
        dz = difftda.persistence([z[i].detach() for i in idx], maxdim=0)
        for a, b in zip(dx, dz):
            pa, pb = a[0].pairs, b[0].pairs
            w = difftda.losses.wasserstein_distance(pa / pa[:, 1].mean(), pb / pb[:, 1].mean())
            values.append(w.item() / max(len(pa), 1))
    return float(torch.tensor(values).mean())


def train(x: torch.Tensor, *, term: str | None = None, weight: float = 1.0, epochs: int = 60, batch_size: int = 64,
          lr: float = 1e-3, seed: int = 0, progress: bool = True, desc: str = "training") -> tuple[AutoEncoder, list]:
    """Train one autoencoder; ``term`` is None, ``"signature"`` or ``"topogen"``."""
    from _progress import progress as progress_bar

    if term not in (None, "signature", "topogen"):
        raise ValueError(f"term must be None, 'signature' or 'topogen'; got {term!r}")
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    model = AutoEncoder(x.shape[1])
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    topogen = difftda.nn.TopoGenLoss(weights=[1, 0, 0, 0, 0, 0, 0], deg=0) if term == "topogen" else None
    history = []
    bar = progress_bar(range(epochs), desc=desc, unit="epoch", disable=not progress)
    for _ in bar:
        perm = torch.randperm(len(x), generator=g)
        n = (len(x) // batch_size) * batch_size
        recon_sum = topo_sum = 0.0
        for idx in perm[:n].reshape(-1, batch_size):
            xb = x[idx]
            z, xr = model(xb)
            recon = torch.nn.functional.mse_loss(xr, xb, reduction="sum") / batch_size
            loss = recon
            if term == "signature":
                topo = difftda.losses.signature_loss(xb, z) / batch_size
                loss = loss + weight * topo
                topo_sum += topo.item()
            elif term == "topogen":
                topo = topogen(_unit_diameter(z), _unit_diameter(xb))
                loss = loss + weight * topo
                topo_sum += topo.item()
            opt.zero_grad()
            loss.backward()
            opt.step()
            recon_sum += recon.item()
        steps = n // batch_size
        history.append({"recon": recon_sum / steps, "topo": topo_sum / steps})
        bar.set_postfix(recon=f"{recon_sum / steps:.2f}")
    return model, history


def evaluate(model: AutoEncoder, x: torch.Tensor) -> dict[str, float]:
    """Reconstruction error, the H0 diagram gap and sklearn's trustworthiness on ``x``."""
    from sklearn.manifold import trustworthiness

    with torch.no_grad():
        z, xr = model(x)
    return {
        "recon": torch.nn.functional.mse_loss(xr, x, reduction="sum").item() / len(x),
        "topology_gap": topology_gap(x, z),
        "trustworthiness": float(trustworthiness(x.numpy(), z.numpy(), n_neighbors=10)),
    }


def run(*, term: str = "signature", weight: float = 10.0, epochs: int = 60, batch_size: int = 64, lr: float = 1e-3,
        n_test: int = 400, seed: int = 0, out: str | Path | None = None, progress: bool = True,
        verbose: bool = True) -> dict:
    """Train with and without the topological term and compare them on held-out digits.

    Returns:
        ``{"plain": metrics, "topo": metrics, "files": [...]}``; metrics holds ``recon``,
        ``topology_gap`` (lower is better) and ``trustworthiness`` (higher is better) on the test set.
    """
    x, y, xt, yt = load_digits_tensor(seed, n_test)
    common = dict(epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, progress=progress)
    plain, _ = train(x, desc="reconstruction only", **common)
    topo, _ = train(x, term=term, weight=weight, desc=f"with {term} term", **common)
    result = {"plain": evaluate(plain, xt), "topo": evaluate(topo, xt), "files": []}
    if verbose:
        print(f"held-out digits ({len(xt)} images); topological term: {term}, weight {weight:g}")
        print(f"{'':>22} {'reconstruction':>15} {'H0 diagram gap':>15} {'trustworthiness':>16}")
        for name, key in (("reconstruction only", "plain"), (f"+ {term} term", "topo")):
            m = result[key]
            print(f"{name:>22} {m['recon']:15.3f} {m['topology_gap']:15.4f} {m['trustworthiness']:16.3f}")
    if out is not None:
        result["files"] = _pictures(Path(out), term, plain, topo, xt, yt, result)
        if verbose:
            for f in result["files"]:
                print(f"wrote {f}")
    return result


def _pictures(out: Path, term: str, plain: AutoEncoder, topo: AutoEncoder, xt: torch.Tensor, yt: torch.Tensor,
              result: dict) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2), layout="constrained")
    batch = xt[:128]

    def scaled_h0(points: torch.Tensor) -> torch.Tensor:
        pairs = difftda.persistence(points, maxdim=0)[0].pairs
        return pairs / pairs[:, 1].mean()

    for ax, model, key, name in ((axes[0], plain, "plain", "reconstruction only"),
                                 (axes[1], topo, "topo", f"+ {term} term")):
        with torch.no_grad():
            z = model.encoder(xt).numpy()
        sc = ax.scatter(z[:, 0], z[:, 1], c=yt.numpy(), cmap="tab10", s=8, edgecolors="none")
        m = result[key]
        ax.set_title(f"{name}\nH0 gap {m['topology_gap']:.3f}, trustworthiness {m['trustworthiness']:.3f}",
                     fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(sc, ax=axes[1], ticks=range(10), label="digit", shrink=0.8)
    curves = [(scaled_h0(batch), "input (64-D)", "0.3")]
    for model, name, color in ((plain, "latent, reconstruction only", "C0"), (topo, f"latent, + {term} term", "C3")):
        with torch.no_grad():
            curves.append((scaled_h0(model.encoder(batch)), name, color))
    for pairs, name, color in curves:  # every H0 bar is born at 0: its diagram is its sorted deaths
        axes[2].plot(torch.sort(pairs[:, 1], descending=True).values, color=color, label=name)
    axes[2].set(title="H0 deaths of 128 test digits (/ mean death)", xlabel="rank", ylabel="death / mean death",
                yscale="log")
    axes[2].legend(fontsize="small")
    files = [out / f"autoencoder_{term}.png"]
    fig.savefig(files[0], dpi=80, bbox_inches="tight")
    plt.close(fig)
    return files


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--term", choices=["signature", "topogen"], default="signature")
    p.add_argument("--weight", type=float, default=10.0, help="weight of the topological term (default 10)")
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--n-test", type=int, default=400, help="held-out images (default 400)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("autoencoder-out"))
    p.add_argument("--no-plot", action="store_true")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    p.add_argument("--quick", action="store_true", help="a short run (seconds): 5 epochs")
    a = p.parse_args(argv)
    if a.quick:
        a.epochs = 5
    torch.set_num_threads(a.threads)
    run(term=a.term, weight=a.weight, epochs=a.epochs, batch_size=a.batch_size, lr=a.lr, n_test=a.n_test,
        seed=a.seed, out=None if a.no_plot else a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
