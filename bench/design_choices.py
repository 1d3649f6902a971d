"""Design choices against the thought's language-freedom: bridge size k, depth, the alignment loss.

    python bench/design_choices.py --corpus data/corpus.jsonl --out runs/design [--steps 500] [--jobs 2]
    python bench/design_choices.py --out runs/design --summarize-only     # table and plot from finished runs

Every variant is the `base` recipe with one setting changed, trained for the same number of
steps (not minutes: a fixed step count is immune to whatever else the machine is doing) with one
thread per job, then evaluated on the first ``--max-sentences`` rows of the held-out test split per
language. Writes OUT/design.md (a markdown table) and OUT/design.png (zero-shot vs pivot chrF,
xsim error and the thought's lang-ID probe per variant). Figures are differences between variants
measured by the same code on the same rows; docs/evaluation.md quotes them with this command.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

# name -> overrides of the base recipe with its bridge of k = 16 ("reference": 4+4 layers, alignment 0.3).
# The base preset itself now has no bridge ("no bridge" below): these variants measure the bridge's choices.
BRIDGE = ["model.bridge_queries=16"]
VARIANTS: dict[str, list[str]] = {
    "reference": BRIDGE,
    "k=1": ["model.bridge_queries=1"],
    "k=4": ["model.bridge_queries=4"],
    "k=64": ["model.bridge_queries=64"],
    "no-align": BRIDGE + ["align_weight=0"],
    "depth 2+2": BRIDGE + ["model.encoder_layers=2", "model.decoder_layers=2"],
    "depth 6+6": BRIDGE + ["model.encoder_layers=6", "model.decoder_layers=6"],
    "adversary 0.2": BRIDGE + ["adversary_weight=0.2"],
    "no bridge": ["model.bridge_queries=0"],
}


def folder(name: str) -> str:
    return name.replace("=", "").replace(" ", "-").replace("+", "x")


def run_variant(name: str, corpus: Path, out: Path, steps: int, max_sentences: int, tiny: bool) -> dict:
    run = out / folder(name)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    cli = [sys.executable, "-m", "interlingua"]
    base = ["--config", "tiny"] if tiny else []
    if not (run / "eval.json").exists():
        if not (run / "latest.json").exists() or json.loads((run / "latest.json").read_text())["step"] < steps:
            resume = ["--resume"] if (run / "latest.json").exists() else ["--overwrite"]
            started = time.time()
            subprocess.run(cli + ["train", "--data", str(corpus), "--out", str(run), *base, *resume,
                                  f"max_steps={steps}", "max_minutes=0", "eval_every=100000", "threads=1",
                                  *VARIANTS[name]],
                           env=env, check=True, stdout=subprocess.DEVNULL, stderr=open(out / f"{folder(name)}.log", "w"))
            (run / "wall_seconds.txt").write_text(f"{time.time() - started:.0f}\n")
        subprocess.run(cli + ["evaluate", "--model", str(run), "--checkpoint", "latest", "--quiet",
                              "--max-sentences", str(max_sentences), "--json", str(run / "eval.json")],
                       env=env, check=True, stdout=subprocess.DEVNULL,
                       stderr=open(out / f"{folder(name)}.eval.log", "w"))
    return collect(name, run)


def collect(name: str, run: Path) -> dict:
    summary = json.loads((run / "eval.json").read_text())["summary"]
    train_stderr = run.parent / f"{folder(name)}.log"  # "model: 10.48M parameters ..." is logged at start
    lines = train_stderr.read_text().splitlines() if train_stderr.exists() else []
    params = next((line.split("model:")[1].split("M")[0].strip() for line in lines if line.startswith("model:")), None)
    train_log = [json.loads(l) for l in (run / "log.jsonl").read_text().splitlines()]
    last_train = [r for r in train_log if r.get("kind") == "train"][-1]
    return {"variant": name, "params_M": params, "steps": last_train["step"],
            "train_minutes": last_train["elapsed_s"] / 60, "train_loss": last_train["loss"],
            "supervised_chrf": summary["supervised_chrf"], "zero_shot_chrf": summary["zero_shot_chrf"],
            "pivot_chrf": summary["pivot_chrf"], "xsim_error": summary["xsim_error"],
            "xsim_error_margin": summary["xsim_error_margin"],
            "langid_thought": summary["langid_probe"]["thought"],
            "langid_last_layer": summary["langid_probe"][max((k for k in summary["langid_probe"] if k.startswith("layer")),
                                                             key=lambda k: int(k[5:]))],
            "langid_chance": summary["langid_chance"]}


def write_table(rows: list[dict], out: Path, command: str) -> str:
    header = ("| variant | params | steps | train min | train loss | supervised chrF | zero-shot chrF | pivot chrF "
              "| zero-shot − pivot | xsim err | xsim err (margin) | lang-ID last enc. layer | lang-ID thought |")
    lines = [f"`{command}`", "", header, "|" + "---|" * (header.count("|") - 1)]
    for r in rows:
        lines.append(f"| {r['variant']} | {r['params_M']}M | {r['steps']} | {r['train_minutes']:.1f} | {r['train_loss']:.2f} "
                     f"| {r['supervised_chrf']:.1f} | {r['zero_shot_chrf']:.1f} | {r['pivot_chrf']:.1f} "
                     f"| {r['zero_shot_chrf'] - r['pivot_chrf']:+.1f} | {100 * r['xsim_error']:.1f}% "
                     f"| {100 * r['xsim_error_margin']:.1f}% | {100 * r['langid_last_layer']:.0f}% "
                     f"| {100 * r['langid_thought']:.0f}% (chance {100 * r['langid_chance']:.0f}%) |")
    text = "\n".join(lines) + "\n"
    (out / "design.md").write_text(text)
    return text


def plot(rows: list[dict], out: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    names = [r["variant"] for r in rows]
    x = range(len(rows))
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
    axes[0].bar([i - 0.2 for i in x], [r["zero_shot_chrf"] for r in rows], 0.4, label="zero-shot (direct)")
    axes[0].bar([i + 0.2 for i in x], [r["pivot_chrf"] for r in rows], 0.4, label="pivot through English")
    axes[0].set_title("chrF between non-English pairs")
    axes[0].legend(fontsize=8)
    axes[1].bar(list(x), [100 * r["xsim_error"] for r in rows], color="tab:red")
    axes[1].set_title("retrieval error (xsim, %), lower is better")
    axes[2].bar(list(x), [100 * r["langid_thought"] for r in rows], color="tab:purple")
    axes[2].axhline(100 * rows[0]["langid_chance"], color="black", linestyle="--", label="chance")
    axes[2].set_title("lang-ID probe on the thought (%), lower is better")
    axes[2].legend(fontsize=8)
    for ax in axes:
        ax.set_xticks(list(x))
        ax.set_xticklabels(names, rotation=30, ha="right", fontsize=8)
    fig.tight_layout()
    tmp = out / "design.png.tmp"
    fig.savefig(tmp, dpi=110, format="png")
    os.replace(tmp, out / "design.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=Path("data/corpus.jsonl"))
    parser.add_argument("--out", type=Path, default=Path("runs/design"))
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--max-sentences", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=2, help="variants trained at once, one thread each")
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated subset of: " + ", ".join(VARIANTS))
    parser.add_argument("--tiny", action="store_true", help="the tiny preset instead of base (to test this script)")
    parser.add_argument("--summarize-only", action="store_true")
    args = parser.parse_args()
    names = [n.strip() for n in args.variants.split(",") if n.strip()]
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        parser.error(f"unknown variants {unknown}; choose from {list(VARIANTS)}")
    args.out.mkdir(parents=True, exist_ok=True)
    if args.summarize_only:
        rows = [collect(n, args.out / folder(n)) for n in names if (args.out / folder(n) / "eval.json").exists()]
    else:
        with ThreadPoolExecutor(args.jobs) as pool:
            rows = list(pool.map(lambda n: run_variant(n, args.corpus, args.out, args.steps, args.max_sentences,
                                                       args.tiny), names))
    command = f"python bench/design_choices.py --corpus {args.corpus} --out {args.out} --steps {args.steps} " \
              f"--max-sentences {args.max_sentences}"
    print(write_table(rows, args.out, command))
    plot(rows, args.out)
    print(f"wrote {args.out / 'design.md'} and {args.out / 'design.png'}")


if __name__ == "__main__":
    main()
