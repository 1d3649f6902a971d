"""Memory and time against corpus size: peak RSS of corpus splitting and of training, in memory vs streamed.

    python bench/memory.py [--corpus data/corpus.jsonl] [--scales 1,4,16] [--languages en,fr,de,es] [--tiny]

The corpus is the real one (its rows with at least two of ``--languages``, restricted to them)
repeated 1x, 4x, 16x under new ids, which is what a corpus of that size costs to read. For each
size, in a fresh process each (peak RSS = that process's ru_maxrss):

* ``corpus split``: two streaming passes (ids, then rows to their split files);
* ``train`` with the corpus held in memory (the default) and with ``stream=true``: the tiny
  preset for a fixed number of steps, so the model's share is constant and what grows is the data.

Prints a table (peak RSS, wall time, and both as ratios to the 1x corpus) and writes
``--out``/memory.png. Memory should stay flat when streamed; time grows with the corpus because
every pass reads all of it.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

MEASURE = ("import resource, subprocess, sys\n"
           "code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)\n"
           "sys.stderr.write(code.stderr.decode()[-2000:] if code.returncode else '')\n"
           "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
           "sys.exit(code.returncode)\n")


def peak_rss_mb(command: list[str]) -> tuple[float, float]:
    """(peak resident memory of ``command`` in MB, wall seconds), measured in a fresh process."""
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", MEASURE, *command], capture_output=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    seconds = time.perf_counter() - start
    if result.returncode:
        raise SystemExit(f"failed: {' '.join(command)}\n{result.stderr.decode()}")
    return int(result.stdout.decode().split()[-1]) / 1024, seconds


def write_scaled(corpus: Path, languages: list[str], scale: int, out: Path, limit: int | None) -> int:
    """The corpus's rows (two or more of ``languages``) repeated ``scale`` times with fresh ids."""
    from interlingua.corpus.formats import ROW_ID, iter_corpus
    rows = []
    for row in iter_corpus(corpus):
        kept = {k: v for k, v in row.items() if k in languages}
        if len(kept) >= 2:
            rows.append(kept)
        if limit and len(rows) >= limit:
            break
    with open(out, "w", encoding="utf-8") as f:
        for copy in range(scale):
            for n, row in enumerate(rows):
                f.write(json.dumps({ROW_ID: f"{copy}-{n}", **row}, ensure_ascii=False) + "\n")
    return len(rows) * scale


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=Path("data/corpus.jsonl"))
    parser.add_argument("--scales", default="1,4,16")
    parser.add_argument("--languages", default="en,fr,de,es")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--tiny", action="store_true", help="300 rows, scales 1,2: seconds (for the tests)")
    parser.add_argument("--out", type=Path, default=Path("."), help="folder for memory.png and memory.json")
    args = parser.parse_args()
    scales = [1, 2] if args.tiny else [int(s) for s in args.scales.split(",")]
    languages = args.languages.split(",")
    corpus = args.corpus
    if not corpus.exists():  # no corpus built yet: harvest a small one from this machine's catalogs
        from interlingua.corpus.formats import write_corpus
        from interlingua.corpus.harvest import harvest
        rows, _ = harvest([Path("/usr/share/locale") / lang for lang in languages[1:]], progress=False)
        corpus = Path(tempfile.mkdtemp()) / "harvested.jsonl"
        write_corpus(rows, corpus, "jsonl")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}; each measurement in a fresh process, 1 thread")
    results = []
    cli = [sys.executable, "-m", "interlingua"]
    with tempfile.TemporaryDirectory(prefix="interlingua-memory-") as tmp:
        for scale in scales:
            folder = Path(tmp) / f"x{scale}"
            folder.mkdir()
            data = folder / "corpus.jsonl"
            rows = write_scaled(corpus, languages, scale, data, 300 if args.tiny else None)
            size_mb = data.stat().st_size / 2**20
            split_mb, split_s = peak_rss_mb(cli + ["corpus", "split", str(data), "--dev", "200", "--test", "200"])
            settings = ["--config", "tiny", f"max_steps={args.steps}", "eval_every=100000", "threads=1",
                        "eval_sentences=2", f"languages={','.join(languages)}"]
            train = cli + ["train", "--data", str(data)]
            memory_mb, memory_s = peak_rss_mb(train + ["--out", str(folder / "run-memory"), *settings])
            stream_mb, stream_s = peak_rss_mb(train + ["--out", str(folder / "run-stream"), *settings,
                                                       "stream=true", "stream_buffer=20000"])
            results.append({"scale": scale, "rows": rows, "file_mb": size_mb, "split_mb": split_mb,
                            "split_s": split_s, "train_memory_mb": memory_mb, "train_memory_s": memory_s,
                            "train_stream_mb": stream_mb, "train_stream_s": stream_s})
            print(f"  {scale}x done: {rows:,} rows, {size_mb:.0f} MB", flush=True)
    base = results[0]
    print(f"\n{'corpus':>8}{'rows':>11}{'file MB':>9} | {'split MB':>9}{'s':>7} | {'train in-memory MB':>19}{'s':>7}"
          f" | {'train streamed MB':>18}{'s':>7}")
    for r in results:
        print(f"{str(r['scale']) + 'x':>8}{r['rows']:>11,}{r['file_mb']:>9.0f} | {r['split_mb']:>9.0f}{r['split_s']:>7.1f} | "
              f"{r['train_memory_mb']:>19.0f}{r['train_memory_s']:>7.1f} | {r['train_stream_mb']:>18.0f}"
              f"{r['train_stream_s']:>7.1f}")
    last = results[-1]
    growth = last["scale"] / base["scale"]
    print(f"\nfrom {base['scale']}x to {last['scale']}x ({growth:g}x the corpus): peak RSS of split "
          f"{last['split_mb'] / base['split_mb']:.2f}x, training in memory {last['train_memory_mb'] / base['train_memory_mb']:.2f}x, "
          f"training streamed {last['train_stream_mb'] / base['train_stream_mb']:.2f}x; time of split "
          f"{last['split_s'] / base['split_s']:.2f}x, training streamed {last['train_stream_s'] / base['train_stream_s']:.2f}x")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "memory.json").write_text(json.dumps(results, indent=2) + "\n")
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    x = [r["scale"] for r in results]
    for key, label in (("train_memory", "train, in memory"), ("train_stream", "train, streamed"), ("split", "corpus split")):
        left.plot(x, [r[f"{key}_mb"] for r in results], "o-", label=label)
        right.plot(x, [r[f"{key}_s"] for r in results], "o-", label=label)
    for ax, ylabel in ((left, "peak RSS (MB)"), (right, "wall time (s)")):
        ax.set(xscale="log", xlabel="corpus size (× the real corpus)", ylabel=ylabel)
        ax.set_xticks(x, [f"{s}×" for s in x])
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(args.out / "memory.png", dpi=110)
    print(f"wrote {args.out / 'memory.png'} and {args.out / 'memory.json'}")


if __name__ == "__main__":
    main()
