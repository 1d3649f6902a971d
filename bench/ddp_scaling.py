"""Data-parallel scaling: the same training, one process vs torchrun with several, target tokens/s.

    python bench/ddp_scaling.py [--corpus data/corpus.jsonl] [--config base] [--steps 60] [--procs 1,2] [--tiny]

For each process count P: ``torchrun --standalone --nproc_per_node P -m interlingua train`` with
``threads = cores // P`` (so every row uses the whole machine), the same recipe, seed and per-rank
batch size, for ``--steps`` steps. Throughput is the run's own log (target tokens/s summed over
ranks, steady state: the first logged window is dropped). Also one process with all the threads,
the usual way to use a single machine. Prints tokens/s and the ratio to one process, with the
machine's description.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path


def throughput(run: Path) -> float:
    records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    rates = [r["target_tokens_per_s"] for r in records if r.get("kind") == "train"]
    steady = rates[1:] or rates
    return sum(steady) / len(steady)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=Path("data/corpus.jsonl"))
    parser.add_argument("--config", default="base")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--procs", default="1,2")
    parser.add_argument("--tiny", action="store_true", help="tiny preset, 20 steps (for the tests)")
    args = parser.parse_args()
    if shutil.which("torchrun") is None:
        raise SystemExit("torchrun not found (it comes with torch)")
    cores = os.cpu_count() or 1
    config, steps = ("tiny", 20) if args.tiny else (args.config, args.steps)
    log_every = max(1, steps // 6)
    print(f"machine: {platform.processor() or platform.machine()}, {cores} cores; preset {config}, {steps} steps, "
          f"logged every {log_every}")
    rows = []
    with tempfile.TemporaryDirectory(prefix="interlingua-ddp-") as tmp:
        for procs in [int(p) for p in args.procs.split(",")]:
            threads = max(1, cores // procs)
            run = Path(tmp) / f"p{procs}"
            command = ["torchrun", "--standalone", "--nproc_per_node", str(procs), "-m", "interlingua", "train",
                       "--data", str(args.corpus), "--out", str(run), "--config", config, f"max_steps={steps}",
                       "eval_every=100000", f"log_every={log_every}", f"threads={threads}", "eval_sentences=2"]
            result = subprocess.run(command, capture_output=True, env={**os.environ, "OMP_NUM_THREADS": str(threads)})
            if result.returncode:
                raise SystemExit(f"failed: {' '.join(command)}\n{result.stderr.decode()[-3000:]}")
            rows.append((procs, threads, throughput(run)))
    base = rows[0][2]
    print(f"\n{'processes':>10}{'threads each':>14}{'target tok/s':>14}{'vs 1 process':>14}")
    for procs, threads, rate in rows:
        print(f"{procs:>10}{threads:>14}{rate:>14.0f}{rate / base:>13.2f}x")


if __name__ == "__main__":
    main()
