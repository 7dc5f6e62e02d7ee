"""Topo-GEN's synthetic tests: move points until their diagram matches a target's.

The proof-of-concept experiments of Benarroch Jedlicki, "TopoGEN: topology-informed generative
models" (2024): the coordinates of a 2-D cloud are the parameters, Adam minimises
:class:`difftda.nn.TopoGenLoss` between the cloud's diagrams and the diagrams of a target cloud
(bottleneck terms on H0 and H1, weights ``[1, 1, 0, 0, 0, 0, 0]`` as in Topo-GEN's script):

1. 5 clusters (10/10/10/10/24 points)  ->  a target of 3 points: the cloud must end in 3 clusters;
2. 2 clusters (30/34 points)           ->  a target of 4 clusters: it must split into 4;
3. two noisy line segments (64 points) ->  a circle of radius 5: a long H1 bar must appear.

A bar is "long" when it is longer than ``--long`` (2 by default: far above the noise of the
clusters, far below the gaps between them). The script prints the numbers of long H0 and H1 bars
before, after, and in the target, and writes a GIF of the cloud and its diagram during training.

As in Topo-GEN, the bottleneck terms use the one pair that realises the bottleneck distance
(``bottleneck_reduction="max"``), and a step in which they give the points no gradient (the
bottleneck pair is a target bar sent to the diagonal) is replaced by a step on ``push_loss``, which
pushes the clusters apart. ``--reduction sum`` uses the whole bottleneck matching instead (the
library's default for :func:`difftda.losses.bottleneck_loss`): it moves every bar at each step and
solves test 1, but in tests 2 and 3 it stops short, because a target bar matched to the diagonal
pulls on no point and the push step is then never triggered.

Run:  python examples/topogen_synthetic.py --test all --out topogen-out
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

import difftda
from difftda.datasets import circle, clusters, two_segments

#: Topo-GEN's settings: learning rate and steps of its script (the steps of its README comments).
SETTINGS = {1: {"lr": 0.01, "steps": 15000}, 2: {"lr": 0.05, "steps": 2500}, 3: {"lr": 0.1, "steps": 7500}}
TITLES = {1: "5 clusters -> 3", 2: "2 clusters -> 4", 3: "two segments -> a circle"}


def make_clouds(test: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``(start, target)`` clouds of one of the three tests."""
    if test == 1:
        start, _ = clusters([[0, 0], [10, 0], [0, 20], [30, 30], [10, -25]], [10, 10, 10, 10, 24], noise=0.5,
                            seed=seed)
        target = torch.tensor([[5.0, 5.0], [10.0, 10.0], [20.0, 6.0]])
    elif test == 2:
        # Topo-GEN's script overwrites part of its first cluster by an indexing slip; this is the intent.
        start, _ = clusters([[0, 0], [10, 5]], [30, 34], noise=0.4, seed=seed)
        target, _ = clusters([[0, 0], [10, 0], [-5, 4], [8, 13]], [30, 20, 30, 48], noise=0.3, seed=seed + 1)
    elif test == 3:
        start = two_segments(32, noise=0.1, seed=seed)
        target = circle(100, radius=5.0, seed=seed + 1)
    else:
        raise ValueError(f"test must be 1, 2 or 3; got {test!r}")
    return start, target


def long_bars(x: torch.Tensor, long: float, backend: str = "auto") -> tuple[int, int]:
    """``(h0, h1)``: the numbers of H0 bars (the essential one included, so: clusters) and of H1 bars
    longer than ``long``."""
    dgms = difftda.persistence(x.detach(), maxdim=1, backend=backend)
    h0 = int(((dgms[0].pairs[:, 1] - dgms[0].pairs[:, 0]) > long).sum()) + len(dgms[0].essential)
    h1 = int(((dgms[1].pairs[:, 1] - dgms[1].pairs[:, 0]) > long).sum()) + len(dgms[1].essential)
    return h0, h1


def run(test: int = 1, *, steps: int | None = None, lr: float | None = None,
        weights: tuple[float, ...] = (1, 1, 0, 0, 0, 0, 0), reduction: str = "max", push: bool = True,
        long: float = 2.0,
        frames: int = 40, backend: str = "auto", seed: int = 0, out: str | Path | None = None,
        progress: bool = True, verbose: bool = True) -> dict:
    """Run one synthetic test; return the long-bar counts and the training record.

    Args:
        test: 1, 2 or 3 (see the module docstring).
        steps, lr: Adam steps and learning rate (default: Topo-GEN's for that test).
        weights: Topo-GEN's ``topo_weights``.
        reduction: ``"max"`` (Topo-GEN's single pair) or ``"sum"`` (the whole bottleneck matching).
        push: take a ``push_loss`` step when the topological terms give no gradient (Topo-GEN's rule).
        long: the length above which a bar counts.
        frames: snapshots kept for the GIF.
        backend: persistence backend spec.
        seed: seeds the clouds' noise.
        out: folder for ``topogen_test<k>.gif`` and ``topogen_test<k>.png`` (None: no pictures).
        progress: show a progress bar (needs tqdm); verbose: print the counts.

    Returns:
        ``{"start": (h0, h1), "final": (h0, h1), "target": (h0, h1), "loss": [...], "snapshots": [...],
        "points": final cloud, "pushes": number of push steps, "files": [...]}``.
    """
    from _progress import progress as progress_bar

    steps = SETTINGS[test]["steps"] if steps is None else steps
    lr = SETTINGS[test]["lr"] if lr is None else lr
    start, target = make_clouds(test, seed)
    x = start.clone().requires_grad_(True)
    crit = difftda.nn.TopoGenLoss(weights=list(weights), deg=1, bottleneck_reduction=reduction, backend=backend,
                                  target=target)
    opt = torch.optim.Adam([x], lr=lr)
    keep = sorted({round(i * steps / max(frames - 1, 1)) for i in range(frames)})
    snapshots, losses, pushes = [], [], 0
    if 0 in keep:
        snapshots.append((0, x.detach().clone()))
    bar = progress_bar(range(1, steps + 1), desc=f"Topo-GEN test {test}", unit="step", disable=not progress,
                       mininterval=0.5)
    for step in bar:  # the bar counts optimisation steps: it ends at `steps`
        loss = crit(x)
        opt.zero_grad()
        loss.backward()
        if push and not bool(x.grad.abs().gt(0).any()):
            # Topo-GEN's rule: when the topological terms give the points no gradient (e.g. the
            # bottleneck pair is a target bar sent to the diagonal), push the clusters apart instead.
            opt.zero_grad()
            difftda.losses.push_loss(difftda.persistence(x, maxdim=0, backend=backend)[0]).backward()
            pushes += 1
        opt.step()
        losses.append(loss.item())
        if step in keep:
            snapshots.append((step, x.detach().clone()))
        if step % 50 == 0:
            bar.set_postfix(loss=f"{losses[-1]:.3f}")
    result = {
        "start": long_bars(start, long, backend),
        "final": long_bars(x, long, backend),
        "target": long_bars(target, long, backend),
        "loss": losses,
        "snapshots": snapshots,
        "points": x.detach(),
        "pushes": pushes,
        "files": [],
    }
    if verbose:
        print(f"test {test} ({TITLES[test]}), {steps} steps, lr {lr}: long bars (H0, H1) "
              f"start {result['start']}  final {result['final']}  target {result['target']}")
    if out is not None:
        result["files"] = _pictures(Path(out), test, start, target, result, long, backend)
        if verbose:
            for f in result["files"]:
                print(f"wrote {f}")
    return result


def _pictures(out: Path, test: int, start: torch.Tensor, target: torch.Tensor, result: dict, long: float,
              backend: str) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from difftda.plot import animate_snapshots, plot_diagram, plot_matching

    out.mkdir(parents=True, exist_ok=True)
    target_dgms = difftda.persistence(target, maxdim=1, backend=backend)
    every = torch.cat([start, target, result["points"]] + [s for _, s in result["snapshots"]])
    lo, hi = every.min(0).values.tolist(), every.max(0).values.tolist()
    pad = [0.05 * (h - l) for l, h in zip(lo, hi)]
    lims = ([l - p for l, p in zip(lo, pad)], [h + p for h, p in zip(hi, pad)])
    frames = [(step, pts, difftda.persistence(pts, maxdim=1, backend=backend)) for step, pts in result["snapshots"]]
    vmax = max(float(d[k].pairs[:, 1].max()) for _, _, d in frames for k in (0, 1) if len(d[k].pairs))

    def draw(axes, frame, _t):
        step, pts, dgms = frame
        axes[0].scatter(target[:, 0], target[:, 1], s=12, color="0.8", edgecolors="none")
        axes[0].scatter(pts[:, 0], pts[:, 1], s=8, color="C0", edgecolors="none")
        axes[0].set(xlim=(lims[0][0], lims[1][0]), ylim=(lims[0][1], lims[1][1]), xticks=[], yticks=[])
        axes[0].set_aspect("equal", adjustable="box")
        plot_diagram(list(dgms) + [[[0.0, vmax]]], ax=axes[1], colors=["C0", "C1", "none"], labels=["H0", "H1", ""],
                     legend=False, size=10)
        axes[1].tick_params(labelsize=7)
        axes[1].set_xlabel("birth", fontsize=8)
        axes[1].set_ylabel("death", fontsize=8)

    titles = [f"step {step}" for step, _, _ in frames]
    files = [out / f"topogen_test{test}.gif"]
    animate_snapshots(frames, files[0], draw=draw, panel_titles=["cloud (grey: target)", "its diagram"],
                      frame_titles=titles, panel_size=3.4, fps=6, dpi=90)

    fig, axes = plt.subplots(1, 5, figsize=(17, 3.5))
    for ax, pts, name in ((axes[0], start, "start"), (axes[1], result["points"], "after training"),
                          (axes[2], target, "target")):
        ax.scatter(pts[:, 0], pts[:, 1], s=8, color="0.5" if name == "target" else "C0", edgecolors="none")
        ax.set_aspect("equal", adjustable="datalim")
        ax.set_title(name)
    final = difftda.persistence(result["points"], maxdim=1, backend=backend)
    k = 1 if test == 3 else 0
    plot_matching(final[k], target_dgms[k], ax=axes[3], labels=("after", "target"),
                  title=f"H{k}: after vs target (bottleneck matching)")
    axes[4].plot(result["loss"], lw=0.7)
    axes[4].set(title="Topo-GEN loss", xlabel="step", yscale="log")
    axes[4].grid(alpha=0.3)
    fig.suptitle(f"Topo-GEN test {test}: {TITLES[test]}   long bars (H0, H1): start {result['start']}, "
                 f"after {result['final']}, target {result['target']}", fontsize=10)
    fig.tight_layout()
    files.append(out / f"topogen_test{test}.png")
    fig.savefig(files[-1], dpi=80)
    plt.close(fig)
    return files


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--test", default="all", choices=["1", "2", "3", "all"])
    p.add_argument("--steps", type=int, default=None, help="Adam steps (default: Topo-GEN's, 15000/2500/7500)")
    p.add_argument("--lr", type=float, default=None, help="learning rate (default: Topo-GEN's, 0.01/0.05/0.1)")
    p.add_argument("--reduction", choices=["max", "sum"], default="max",
                   help="bottleneck terms: Topo-GEN's single pair (max, default) or the whole matching (sum)")
    p.add_argument("--no-push", action="store_true", help="never replace a gradient-free step by a push step")
    p.add_argument("--long", type=float, default=2.0, help="a bar longer than this counts (default 2)")
    p.add_argument("--frames", type=int, default=40)
    p.add_argument("--backend", default="auto")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("topogen-out"))
    p.add_argument("--no-plot", action="store_true")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    p.add_argument("--quick", action="store_true",
                   help="a short run (seconds per test): 300 steps at learning rate 0.1, 5 frames")
    a = p.parse_args(argv)
    if a.quick:
        a.steps, a.lr, a.frames = a.steps or 300, a.lr or 0.1, 5
    torch.set_num_threads(a.threads)
    for test in ((1, 2, 3) if a.test == "all" else (int(a.test),)):
        run(test, steps=a.steps, lr=a.lr, reduction=a.reduction, push=not a.no_push, long=a.long, frames=a.frames,
            backend=a.backend, seed=a.seed, out=None if a.no_plot else a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
