"""Every picture of ``difftda.plot`` on one small noisy circle: diagram, barcode, matching, critical edges.

Run:  python examples/plot_gallery.py --out gallery-out     (a few seconds)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

import difftda
from difftda.datasets import noisy_circle


def run(*, n: int = 120, seed: int = 1, out: str | Path = "gallery-out", steps: int = 60) -> list[Path]:
    """Draw the gallery PNG and a short GIF of the circle's loop being grown by gradient descent."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from difftda.plot import animate_snapshots, plot_barcode, plot_critical_edges, plot_diagram, plot_matching

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    x = noisy_circle(n, seed=seed)
    y = noisy_circle(n, noise=0.2, seed=seed + 1)
    dx, dy = difftda.persistence(x, maxdim=1), difftda.persistence(y, maxdim=1)
    fig, axes = plt.subplots(1, 4, figsize=(17, 4.3))
    plot_diagram(dx, ax=axes[0], title="plot_diagram")
    plot_barcode(dx, ax=axes[1], max_bars=25, title="plot_barcode (25 longest per dimension)")
    plot_matching(dx[1], dy[1], ax=axes[2], labels=("circle", "noisier circle"))
    axes[2].set_title("plot_matching: H1, " + axes[2].get_title(), fontsize=10)
    plot_critical_edges(x, dx[1], top=1, ax=axes[3], title="plot_critical_edges: longest H1 bar")
    fig.tight_layout()
    files = [out / "plot_gallery.png"]
    fig.savefig(files[0], dpi=80)
    plt.close(fig)

    # Grow the loop: gradient ascent on the persistence of the longest H1 bar.
    z = x.clone().requires_grad_(True)
    opt = torch.optim.Adam([z], lr=0.01)
    frames = []
    for step in range(steps + 1):
        dgm = difftda.persistence(z, maxdim=1)[1]
        if step % max(1, steps // 12) == 0:
            frames.append((z.detach().clone(), dgm.pairs.detach().clone()))
        loss = -(dgm.pairs[:, 1] - dgm.pairs[:, 0]).max()
        opt.zero_grad()
        loss.backward()
        opt.step()
    top = max(float(p[:, 1].max()) for _, p in frames)

    def draw(axes, frame, t):
        pts, pairs = frame
        axes[0].scatter(pts[:, 0], pts[:, 1], s=6, color="C0", edgecolors="none")
        axes[0].set(xlim=(-2, 2), ylim=(-2, 2), xticks=[], yticks=[])
        axes[0].set_aspect("equal")
        plot_diagram([pairs, [[0.0, top]]], ax=axes[1], colors=["C1", "none"], legend=False, size=12)

    files.append(out / "grow_loop.gif")
    animate_snapshots(frames, files[1], draw=draw, panel_titles=["points", "H1 diagram"],
                      frame_titles=[f"step {k * max(1, steps // 12)}" for k in range(len(frames))],
                      panel_size=3.2, fps=4, dpi=90)
    return files


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=120, help="points of the circle (default 120)")
    p.add_argument("--steps", type=int, default=60, help="gradient steps of the GIF (default 60)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", type=Path, default=Path("gallery-out"))
    p.add_argument("--quick", action="store_true", help="a short run: 40 points, 6 steps")
    a = p.parse_args(argv)
    if a.quick:
        a.n, a.steps = 40, 6
    for f in run(n=a.n, seed=a.seed, out=a.out, steps=a.steps):
        print(f"wrote {f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
