"""How a network detangles classes, and what happens to their topology layer by layer.

A classifier whose hidden layers are only 2 wide is trained on one of two 2-D data sets with
tangled classes (after Matt Johnson's post "Animating how neural networks detangle classes" and
Naitzat, Zhitnikov and Lim, "Topology of deep neural networks", JMLR 2020):

* ``holes``: class 0 fills a disk with round holes cut out, class 1 sits in small disks inside the
  holes (class 0 has one loop per hole, class 1 one component per hole);
* ``lines``: short random line segments, each a class (each class has one component per segment).

Because every layer is 2 wide, the cloud after each layer can be drawn as it is. The script saves
those views over training as a GIF and, new here, follows the topology of each class's cloud at
each layer with persistent homology: its Betti numbers b0 (components) and b1 (loops), counted as
the bars longer than ``tau`` times the diameter of the layer's cloud. A network that separates
the classes has to simplify them: the Betti numbers drop from the input to the last layer.

Run:  python examples/detangle.py --dataset holes --out detangle-out     (about 30 s on one core)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

import difftda
from difftda.datasets import disk_with_holes, line_segments

ACTIVATIONS = {"leaky_relu": lambda: torch.nn.LeakyReLU(0.1), "relu": torch.nn.ReLU, "tanh": torch.nn.Tanh}


def make_data(dataset: str = "holes", *, n_points: int = 1600, n_holes: int = 3, n_lines: int = 10,
              seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """The two seed-004 data sets, about ``n_points`` points in all."""
    if dataset == "holes":
        n_pos = max(n_holes, n_points // 4)
        hole = {1: 0.4, 2: 0.22, 3: 0.22}.get(n_holes, 0.15)  # as large as the holes allow
        return disk_with_holes(n_points - n_pos, n_pos, n_holes=n_holes, hole_radius=hole, pos_radius=hole / 3,
                               seed=seed)
    if dataset == "lines":
        half = max(1, n_lines // 2)
        return line_segments(half, n_lines - half, length=0.3, points_per_line=max(2, n_points // n_lines), seed=seed)
    raise ValueError(f"dataset must be 'holes' or 'lines'; got {dataset!r}")


class NarrowNet(torch.nn.Module):
    """``depth`` hidden layers ``Linear(2, 2)`` + activation, then a ``Linear(2, 2)`` classifier."""

    def __init__(self, depth: int = 5, activation: str = "leaky_relu") -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}; got {activation!r}")
        self.hidden = torch.nn.ModuleList(
            torch.nn.Sequential(torch.nn.Linear(2, 2), ACTIVATIONS[activation]()) for _ in range(depth)
        )
        self.head = torch.nn.Linear(2, 2)

    def views(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The cloud at every stage: the input, then the output of each hidden layer."""
        out = [x]
        for layer in self.hidden:
            out.append(layer(out[-1]))
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.views(x)[-1])


def farthest_points(x: torch.Tensor, k: int) -> torch.Tensor:
    """Indices of ``k`` well-spread points of ``x`` (greedy farthest-point / maxmin landmarks).

    Uniform random samples have uneven gaps that show up as short noise bars; landmarks spread
    evenly keep the noise bars short and the real holes and components clear.
    """
    k = min(k, len(x))
    idx = torch.zeros(k, dtype=torch.int64)
    dist = (x - x[0]).norm(dim=1)
    for i in range(1, k):  # one vectorized update per landmark
        idx[i] = torch.argmax(dist)
        dist = torch.minimum(dist, (x - x[idx[i]]).norm(dim=1))
    return idx


def landmarks(x: torch.Tensor, y: torch.Tensor, max_points: int = 300) -> list[torch.Tensor]:
    """For each class, the indices of at most ``max_points`` landmarks chosen in the input."""
    out = []
    for c in (0, 1):
        idx = torch.nonzero(y == c).flatten()
        out.append(idx[farthest_points(x[idx].double(), max_points)])
    return out


def layer_diagrams(views: list[torch.Tensor], picks: list[torch.Tensor], backend: str = "auto"):
    """Diagrams (H0, H1) of each class's landmarks at each layer, each layer scaled to diameter 1.

    Returns a list over layers of a list over classes of :class:`~difftda.Diagrams`. All clouds go
    through :func:`difftda.persistence` in one call.
    """
    clouds = []
    for v in views:
        v = v.detach()
        both = v[torch.cat(picks)]
        diam = float(torch.cdist(both, both).max())
        scale = 1.0 / diam if diam > 0 else 1.0
        clouds += [v[p] * scale for p in picks]
    dgms = difftda.persistence(clouds, maxdim=1, backend=backend)
    return [dgms[2 * k: 2 * k + 2] for k in range(len(views))]


def betti_numbers(dgms_per_layer, tau: float = 0.08) -> torch.Tensor:
    """``(layers, 2 classes, 2)`` int tensor: b0 and b1 of each class at each layer.

    A bar counts when its persistence (death - birth) is larger than ``tau`` times the diameter of
    the layer's cloud (the diagrams of :func:`layer_diagrams` are already scaled to diameter 1);
    the essential H0 bar counts as one component.
    """
    counts = []
    for layer in dgms_per_layer:
        for d in layer:
            b0 = int(((d[0].pairs[:, 1] - d[0].pairs[:, 0]) > tau).sum()) + len(d[0].essential)
            b1 = int(((d[1].pairs[:, 1] - d[1].pairs[:, 0]) > tau).sum()) + len(d[1].essential)
            counts.append((b0, b1))
    return torch.tensor(counts).reshape(len(dgms_per_layer), 2, 2)


def train(x: torch.Tensor, y: torch.Tensor, *, depth: int = 5, activation: str = "leaky_relu", steps: int = 3000,
          lr: float = 0.01, frames: int = 40, tau: float = 0.08, max_points: int = 300,
          backend: str = "auto", seed: int = 0, progress: bool = True, desc: str = "training") -> dict:
    """Train one network (full batch, Adam) and record views, accuracy and Betti numbers.

    Returns:
        ``{"steps", "accuracy", "betti" (frames, layers, 2, 2), "views" (list per frame), "diagrams"
        (of the last frame, per layer and class, scaled to diameter 1), "picks", "model"}``.
    """
    from _progress import progress as progress_bar

    torch.manual_seed(seed)
    model = NarrowNet(depth, activation)
    picks = landmarks(x, y, max_points)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    record = sorted({round(i * steps / max(frames - 1, 1)) for i in range(frames)})
    log = {"steps": [], "accuracy": [], "betti": [], "views": [], "loss": []}

    def snapshot(step: int) -> None:
        with torch.no_grad():
            views = model.views(x)
            acc = (model.head(views[-1]).argmax(1) == y).double().mean().item()
        log["steps"].append(step)
        log["accuracy"].append(acc)
        log["diagrams"] = layer_diagrams(views, picks, backend)
        log["betti"].append(betti_numbers(log["diagrams"], tau))
        log["views"].append([v.clone() for v in views])

    if 0 in record:
        snapshot(0)
    bar = progress_bar(range(1, steps + 1), desc=desc, unit="step", disable=not progress, mininterval=0.5)
    for step in bar:  # the bar counts training steps: it ends at `steps`
        views = model.views(x)
        loss = torch.nn.functional.cross_entropy(model.head(views[-1]), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        log["loss"].append(loss.item())
        if step in record:
            snapshot(step)
            bar.set_postfix(acc=f"{log['accuracy'][-1]:.3f}")
    log["betti"] = torch.stack(log["betti"])
    log["model"], log["picks"], log["tau"] = model, picks, tau
    return log


def run(*, dataset: str = "holes", n_points: int = 1600, n_holes: int = 3, n_lines: int = 10, depth: int = 5,
        activation: str = "leaky_relu", steps: int = 3000, lr: float = 0.01,
        frames: int = 40, tau: float = 0.08, max_points: int = 300, backend: str = "auto", seed: int = 0,
        out: str | Path | None = None,
        progress: bool = True, verbose: bool = True) -> dict:
    """Train, print the Betti numbers per layer before and after, and draw the pictures.

    Returns:
        ``{"log": log of :func:`train`, "data": (x, y), "files": [...]}``.
    """
    x, y = make_data(dataset, n_points=n_points, n_holes=n_holes, n_lines=n_lines, seed=seed)
    kw = dict(depth=depth, activation=activation, steps=steps, lr=lr, frames=frames, tau=tau, max_points=max_points,
              backend=backend, seed=seed, progress=progress)
    log = train(x, y, desc=f"detangle {dataset}", **kw)
    if verbose:
        print(f"training accuracy {log['accuracy'][0]:.3f} -> {log['accuracy'][-1]:.3f}")
        print("b0,b1 of class 0 | class 1, at each layer (L0 = input):")
        for t, when in ((0, "before"), (-1, "after")):
            b = log["betti"][t]
            cells = "  ".join(f"L{k} {b[k, 0, 0]},{b[k, 0, 1]}|{b[k, 1, 0]},{b[k, 1, 1]}" for k in range(len(b)))
            print(f"  {when:>6}: {cells}")
    result = {"log": log, "files": [], "data": (x, y)}
    if out is not None:
        result["files"] = _pictures(Path(out), dataset, x, y, log)
        if verbose:
            for f in result["files"]:
                print(f"wrote {f}")
    return result


def _pictures(out: Path, dataset: str, x: torch.Tensor, y: torch.Tensor, plain: dict) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from difftda.plot import animate_snapshots, plot_diagram

    out.mkdir(parents=True, exist_ok=True)
    files = []
    colors = ["0.55", "C3"]
    n_layers = len(plain["views"][0])
    names = ["input"] + [f"layer {k}" for k in range(1, n_layers)]
    keep = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))[:700]  # points drawn in the GIF
    point_colors = [colors[int(c)] for c in y[keep]]

    def draw(axes, t, _frame):
        views, betti = plain["views"][t], plain["betti"][t]
        for k, ax in enumerate(axes):
            v = views[k][keep]
            ax.scatter(v[:, 0], v[:, 1], s=3, c=point_colors, edgecolors="none")
            b = betti[k]
            ax.set_title(f"{names[k]}\nb0,b1: {b[0, 0]},{b[0, 1]} | {b[1, 0]},{b[1, 1]}", fontsize=8)
            ax.set_xticks([])
            ax.set_yticks([])

    titles = [f"step {s}: accuracy {a:.2f}" for s, a in zip(plain["steps"], plain["accuracy"])]
    files.append(out / f"detangle_{dataset}.gif")
    animate_snapshots(list(range(len(titles))), files[-1], draw=draw, frame_titles=titles,
                      panel_titles=names, panel_size=2.2, fps=5, dpi=90)

    # Final views with each class's diagram underneath: topology simplifying layer by layer.
    fig, axes = plt.subplots(2, n_layers, figsize=(2.2 * n_layers, 4.7))
    views = plain["views"][-1]
    tau = plain["tau"]
    for k in range(n_layers):
        v = views[k][keep]
        axes[0, k].scatter(v[:, 0], v[:, 1], s=3, c=point_colors, edgecolors="none")
        b = plain["betti"][-1, k]
        axes[0, k].set_title(f"{names[k]}\nb0,b1: {b[0, 0]},{b[0, 1]} | {b[1, 0]},{b[1, 1]}", fontsize=8)
        axes[0, k].set_xticks([])
        axes[0, k].set_yticks([])
        d0, d1 = plain["diagrams"][k]
        # An invisible point keeps the cut line in view.
        plot_diagram([d0[0], d0[1], d1[0], d1[1], [[0.0, 1.4 * tau]]], ax=axes[1, k], legend=False, size=7,
                     colors=[colors[0]] * 2 + [colors[1]] * 2 + ["none"])
        axes[1, k].plot([0, 1], [tau, 1 + tau], color="C0", lw=0.8, ls=":")  # bars above this line count
        axes[1, k].set_xlabel("birth / diameter", fontsize=7)
        axes[1, k].set_ylabel("death / diameter" if k == 0 else "", fontsize=7)
        axes[1, k].tick_params(labelsize=6)
    fig.suptitle("after training: each layer's cloud (grey: class 0, red: class 1) and its classes' diagrams",
                 fontsize=10)
    fig.tight_layout()
    files.append(out / f"detangle_{dataset}_layers.png")
    fig.savefig(files[-1], dpi=80)
    plt.close(fig)

    # Betti numbers per layer, before and after, and over training at the last layer.
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.4))
    for c in (0, 1):
        for t, ls in ((0, ":"), (-1, "-")):
            axes[0].plot(range(n_layers), plain["betti"][t, :, c].sum(-1), ls, marker="o", color=colors[c],
                         label=f"class {c}, {'before' if t == 0 else 'after'}")
    axes[0].set(title="b0 + b1 of each class, per layer", xlabel="layer (0 = input)", ylabel="b0 + b1")
    axes[0].legend(fontsize="x-small")
    for c in (0, 1):
        axes[1].plot(plain["steps"], plain["betti"][:, -1, c].sum(-1), color=colors[c], label=f"class {c}")
    axes[1].set(title="b0 + b1 at the last layer", xlabel="step")
    axes[1].legend(fontsize="small")
    axes[2].plot(plain["steps"], plain["accuracy"], color="C2")
    axes[2].set(title="training accuracy", xlabel="step", ylim=(0.4, 1.02))
    fig.tight_layout()
    files.append(out / f"detangle_{dataset}_betti.png")
    fig.savefig(files[-1], dpi=80)
    plt.close(fig)
    return files


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", choices=["holes", "lines"], default="holes")
    p.add_argument("--n-points", type=int, default=1600, help="points in the data set (default 1600)")
    p.add_argument("--n-holes", type=int, default=3, help="holes of the 'holes' data set (default 3; the post uses 9)")
    p.add_argument("--n-lines", type=int, default=10, help="segments of the 'lines' data set (default 10)")
    p.add_argument("--depth", type=int, default=5, help="hidden layers, each 2 wide (default 5)")
    p.add_argument("--activation", choices=sorted(ACTIVATIONS), default="leaky_relu")
    p.add_argument("--steps", type=int, default=3000, help="full-batch Adam steps (default 3000)")
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--frames", type=int, default=40, help="snapshots (GIF frames) over training (default 40)")
    p.add_argument("--tau", type=float, default=0.08, help="a bar counts if longer than tau * diameter (default 0.08)")
    p.add_argument("--max-points", type=int, default=300, help="landmarks per class for the diagrams (default 300)")
    p.add_argument("--backend", default="auto")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("detangle-out"))
    p.add_argument("--threads", type=int, default=1,
                   help="torch CPU threads (default 1: the models are tiny, more threads only add overhead)")
    p.add_argument("--no-plot", action="store_true", help="write no pictures")
    p.add_argument("--quick", action="store_true", help="a short run (seconds): 800 points, 600 steps, 5 frames")
    a = p.parse_args(argv)
    if a.quick:
        a.n_points, a.steps, a.frames, a.max_points = 800, 600, 5, 200
    torch.set_num_threads(a.threads)
    run(dataset=a.dataset, n_points=a.n_points, n_holes=a.n_holes, n_lines=a.n_lines, depth=a.depth,
        activation=a.activation, steps=a.steps, lr=a.lr, frames=a.frames, tau=a.tau,
        max_points=a.max_points, backend=a.backend, seed=a.seed, out=None if a.no_plot else a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
