"""Dev chrF against training minutes for several runs on one axis: our runs and bench/peer_curve.py's peers.

    python bench/plot_curves.py runs/curve "HF Marian=runs/peer-marian" --out docs/img/curves.png

Each argument is a folder (or a file in it), optionally labelled ``LABEL=PATH``:
- a peer's ``curve.jsonl`` (bench/peer_curve.py) has its minutes on every point;
- a run's ``log.jsonl`` (``interlingua train``) has eval entries by step and train entries with
  ``elapsed_s`` (training time, evaluation left out, as the peer's): each eval step takes the elapsed
  time of the train entry nearest to it (the same step when log_every divides eval_every).
Solid lines: dev chrF over the trained directions; dashed, same colour: the zero-shot directions.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def curve_points(path: Path, pauses: str = "keep") -> list[dict]:
    """[{minutes, step, dev_chrf, dev_zero_shot_chrf}] of a run folder, a log.jsonl or a curve.jsonl."""
    if path.is_dir():
        path = path / "curve.jsonl" if (path / "curve.jsonl").exists() else path / "log.jsonl"
    if not path.exists():
        raise SystemExit(f"plot_curves: error: {path}: no such file (want a run's log.jsonl or a peer's curve.jsonl)")
    records = read_jsonl(path)
    if path.name == "curve.jsonl" or all("minutes" in r for r in records):
        return sorted(records, key=lambda r: r["minutes"])
    elapsed = {r["step"]: r["elapsed_s"] for r in records if r.get("kind") == "train" and "elapsed_s" in r}
    if not elapsed:
        raise SystemExit(f"plot_curves: error: {path}: no train entries with elapsed_s to time the evals by")
    elapsed = without_pauses(elapsed, path, pauses)
    points = []
    for r in records:
        if r.get("kind") == "eval" and "dev_chrf" in r:
            nearest = min(elapsed, key=lambda step: abs(step - r["step"]))
            points.append({"minutes": elapsed[nearest] / 60, "step": r["step"], "dev_chrf": r["dev_chrf"],
                           "dev_zero_shot_chrf": r.get("dev_zero_shot_chrf")})
    return sorted(points, key=lambda p: p["minutes"])


def without_pauses(elapsed: dict[int, float], path: Path, pauses: str, factor: float = 3.0) -> dict[int, float]:
    """The run's clock, its slow stretches named; with ``pauses="median"`` each logged window slower than
    ``factor`` × the median seconds per step counts the median instead.

    A run's ``elapsed_s`` is the wall time of its steps: a process stopped (Ctrl-Z) or sharing its cores
    inside a step counts all of that (runs/curve: ~700 s in one window of 50 steps).
    """
    steps = sorted(elapsed)
    clock = {0: 0.0, **elapsed}
    windows = [(a, b, (clock[b] - clock[a]) / (b - a)) for a, b in zip([0] + steps, steps)]
    per_step = sorted(w[2] for w in windows)[len(windows) // 2]
    slow = [w for w in windows if w[2] > factor * per_step]
    if slow:
        print(f"{path}: {len(slow)} of {len(windows)} logged windows took over {factor:g}x the median "
              f"{per_step:.2f} s/step (" + ", ".join(f"steps {a}-{b}: {s_:.1f} s/step" for a, b, s_ in slow[:6])
              + (", ..." if len(slow) > 6 else "") + ")"
              + ("; counted at the median" if pauses == "median" else "; kept (--pauses median to count them at the median)"))
    if pauses != "median":
        return elapsed
    total, repaired = 0.0, {}
    for a, b, seconds in windows:
        total += (b - a) * (per_step if seconds > factor * per_step else seconds)
        repaired[b] = total
    return repaired


def title_for(x: str, title: str | None = None) -> str:
    """The plot's title: the one given, else one that names what the x axis counts (``x``: plot's field)."""
    return title or f"dev chrF against training {'steps' if x == 'step' else 'time'}"


def plot(curves: dict[str, list[dict]], out: Path, title: str | None, x: str = "minutes") -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for i, (label, points) in enumerate(curves.items()):
        colour = f"C{i}"
        along = [p[x] for p in points]
        ax.plot(along, [p["dev_chrf"] for p in points], "o-", color=colour, label=f"{label}: supervised")
        zero = [(p[x], p["dev_zero_shot_chrf"]) for p in points if p.get("dev_zero_shot_chrf") is not None]
        if zero:
            ax.plot(*zip(*zero), "s--", color=colour, label=f"{label}: zero-shot")
    ax.set_xlabel("training minutes (evaluation not counted)" if x == "minutes" else "training steps (same batches)")
    ax.set_ylabel("dev chrF")
    ax.set_xlim(left=0)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.set_title(title_for(x, title))
    ax.legend(fontsize=8)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", help="run or peer folders (or their log.jsonl / curve.jsonl), LABEL=PATH")
    parser.add_argument("--out", type=Path, default=Path("docs/img/curves.png"))
    parser.add_argument("--title", help="default: dev chrF against training time, or steps with --x steps")
    parser.add_argument("--pauses", choices=["keep", "median"], default="keep",
                        help="a run's log windows over 3x its median time per step: kept as logged, or counted at "
                             "the median (a run paused or sharing its cores for a while); the legend says which")
    parser.add_argument("--x", choices=["minutes", "steps"], default="minutes",
                        help="steps: equal work, for runs of equal-size models on the same batches whose machine was "
                             "not equally loaded")
    args = parser.parse_args()
    curves = {}
    for item in args.runs:
        label, sep, path = item.partition("=")
        path = Path(path if sep else item)
        label = label if sep else (path.parent.name if path.is_file() else path.name)
        points = curve_points(path, args.pauses)
        if args.pauses == "median" and not (path / "curve.jsonl" if path.is_dir() else path).name == "curve.jsonl":
            label += " (slow windows at the median)"
        curves[label] = points
        print(f"{label}: " + ", ".join(f"{p['minutes']:.1f} min (step {p['step']}) {p['dev_chrf']:.1f}"
                                       for p in curves[label]))
    plot(curves, args.out, args.title, "step" if args.x == "steps" else "minutes")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
