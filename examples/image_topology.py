"""Change an image's topology directly: remove small spurious components and fill small holes.

A noisy probability map (say, the output of a segmentation network) shows two objects, a disk and a
ring, so its foreground should have two components and one hole. Noise adds spurious blobs in the
background (extra components once thresholded at 0.5) and dips inside the objects (extra holes).

The pixels themselves are optimized by gradient descent on a loss of their cubical persistence
diagram (superlevel filtration, so foreground components are H0 bars ``(birth, death)`` with
``birth >= death``, and holes are H1 bars):

* keep the ``components`` most persistent H0 bars (the essential bar counts as one) and the
  ``holes`` most persistent H1 bars, and leave bars shorter than ``min_persistence`` (pixel noise)
  alone;
* every other H0 bar is a spurious blob: pull its birth (the blob's peak pixel) down to its death
  (the level where it merges), i.e. lower the blob rather than bridging it to an object;
* every other H1 bar is a spurious hole: push its death (the hole's deepest pixel) up to its birth,
  i.e. fill the hole rather than cutting the object open.

Only the critical pixels of the spurious bars get a gradient, so the rest of the image is left as
it is: a blob is worn down from its peak, a hole filled from its floor, pixel by pixel (a step of
0.5 moves each critical pixel exactly to the level its bar's other end sets). The script checks the
result with ``scipy.ndimage.label`` (8-connected foreground, as the default construction ``"T"``
connects pixels touching at a corner; 4-connected holes) and saves the before/after picture.

Run:  python examples/image_topology.py --out image-topology-out        (a few seconds)
      python examples/image_topology.py --quick                          (smaller image, fewer steps)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

import difftda


def make_image(size: int = 96, *, n_blobs: int = 8, n_dips: int = 5, noise: float = 0.05,
               seed: int = 0) -> torch.Tensor:
    """A noisy probability map of a disk and a ring, with spurious blobs and dips (float64, [0, 1])."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    disk = (xx - 0.3) ** 2 + (yy - 0.35) ** 2 < 0.17**2
    r = np.sqrt((xx - 0.68) ** 2 + (yy - 0.62) ** 2)
    ring = (r > 0.12) & (r < 0.22)
    img = 0.1 + 0.8 * (disk | ring)

    def bump(cx, cy, width):
        return np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * width**2))

    background = ~(disk | ring)
    placed = 0
    while placed < n_blobs:  # blobs in the background, away from the objects
        cx, cy = rng.uniform(0.05, 0.95, 2)
        i, j = int(cy * size), int(cx * size)
        near = background[max(i - size // 12, 0):i + size // 12, max(j - size // 12, 0):j + size // 12]
        if near.all():
            img += rng.uniform(0.5, 0.7) * bump(cx, cy, rng.uniform(0.012, 0.02))
            placed += 1
    ys, xs = np.nonzero(disk)
    for k in rng.choice(len(ys), n_dips, replace=False):  # dips inside the disk
        img -= rng.uniform(0.5, 0.7) * bump(xs[k] / size, ys[k] / size, 0.012)
    img += noise * rng.standard_normal(img.shape)
    return torch.tensor(np.clip(img, 0.0, 1.0))


def topology_loss(img: torch.Tensor, components: int, holes: int, min_persistence: float = 0.2) -> torch.Tensor:
    """Squared persistence of every H0 bar but the ``components`` most persistent (essential included)
    and of every H1 bar but the ``holes`` most persistent, each moved by one end only (see the module
    doc). Bars shorter than ``min_persistence`` are pixel noise and are left alone."""
    h0, h1 = difftda.cubical_persistence(img, superlevel=True)
    keep0 = max(components - len(h0.essential), 0)
    loss = img.new_zeros(())
    for pairs, keep, lower_birth in ((h0.pairs, keep0, True), (h1.pairs, holes, False)):
        life = pairs[:, 0] - pairs[:, 1]  # superlevel: birth >= death
        spurious = pairs[life.argsort(descending=True)[keep:]]
        spurious = spurious[spurious[:, 0] - spurious[:, 1] >= min_persistence]
        if lower_birth:  # a blob: lower its peak to the level where it merges
            loss = loss + ((spurious[:, 0] - spurious[:, 1].detach()) ** 2).sum()
        else:  # a hole: raise its floor to the level where it closes
            loss = loss + ((spurious[:, 0].detach() - spurious[:, 1]) ** 2).sum()
    return loss


def betti(img: torch.Tensor, level: float = 0.5) -> tuple[int, int]:
    """Components (8-connected) and holes (4-connected background parts off the border) of
    ``img >= level``, counted by scipy, independently of difftda."""
    from scipy import ndimage

    fg = img.detach().cpu().numpy() >= level
    n_fg = ndimage.label(fg, structure=np.ones((3, 3)))[1]
    bg, n_bg = ndimage.label(~fg)
    border = set(np.unique(np.concatenate([bg[0], bg[-1], bg[:, 0], bg[:, -1]]))) - {0}
    return int(n_fg), int(n_bg - len(border))


def optimize(img: torch.Tensor, components: int = 2, holes: int = 1, *, steps: int = 300, lr: float = 0.5,
             log_every: int = 0) -> tuple[torch.Tensor, list[float]]:
    """Plain gradient descent on the pixels (kept in [0, 1]); returns the image and the loss per step."""
    x = img.clone().requires_grad_(True)
    history = []
    for step in range(steps):
        loss = topology_loss(x, components, holes)
        history.append(float(loss.detach()))
        if history[-1] == 0.0:
            break
        loss.backward()
        with torch.no_grad():
            x -= lr * x.grad
            x.clamp_(0.0, 1.0)
            x.grad = None
        if log_every and step % log_every == 0:
            print(f"step {step:4d}  loss {history[-1]:.4f}  components/holes at 0.5: {betti(x)}")
    return x.detach(), history


def save_figure(before: torch.Tensor, after: torch.Tensor, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(11, 3.8))
    for ax, im, title in ((axes[0], before, "before"), (axes[1], after, "after")):
        ax.imshow(im.numpy(), cmap="gray", vmin=0, vmax=1)
        ax.contour(im.numpy(), levels=[0.5], colors="tab:orange", linewidths=1)
        b0, b1 = betti(im)
        ax.set_title(f"{title}: {b0} components, {b1} holes at 0.5")
        ax.set_axis_off()
    ax = axes[2]
    for im, marker, label in ((before, "o", "before"), (after, "x", "after")):
        h0, h1 = difftda.cubical_persistence(im, superlevel=True)
        for dg, color, name in ((h0, "tab:blue", "H0"), (h1, "tab:red", "H1")):
            p = dg.pairs.numpy()
            ax.scatter(p[:, 0], p[:, 1], marker=marker, s=18, color=color, alpha=0.8 if marker == "x" else 0.35,
                       label=f"{name} {label}")
    ax.plot([0, 1], [0, 1], color="gray", lw=0.8)
    ax.set_xlabel("birth (superlevel)")
    ax.set_ylabel("death")
    ax.set_title("finite bars of the diagrams")
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", type=int, default=96, help="image side in pixels (default 96)")
    p.add_argument("--steps", type=int, default=300, help="gradient steps at most (default 300)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="image-topology-out", help="folder of the picture")
    p.add_argument("--quick", action="store_true", help="a 48 x 48 image and at most 150 steps (about a second)")
    a = p.parse_args(argv)
    size, steps = (48, min(a.steps, 150)) if a.quick else (a.size, a.steps)
    if size < 32:
        p.error("--size must be at least 32")
    img = make_image(size, n_blobs=4 if a.quick else 8, n_dips=3 if a.quick else 5, seed=a.seed)
    print(f"before: {betti(img)} (components, holes) at level 0.5; the target is (2, 1)")
    after, history = optimize(img, steps=steps, log_every=0 if a.quick else 50)
    b = betti(after)
    print(f"after {len(history)} steps: {b}; {int((after != img).sum())} of {img.numel()} pixels changed")
    save_figure(img, after, Path(a.out) / "image_topology.png")
    print(f"saved {Path(a.out) / 'image_topology.png'}")
    return 0 if b == (2, 1) else 1


if __name__ == "__main__":
    sys.exit(main())
