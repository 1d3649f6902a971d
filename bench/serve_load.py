"""Load check for ``interlingua serve``: N concurrent requests, with and without dynamic batching.

    python bench/serve_load.py --model runs/base                     # 100 requests, 100 at once, fr+de
    python bench/serve_load.py --model runs/base --requests 400 --concurrency 50 --to fr --json out.json

Each mode starts its own server (uvicorn, 127.0.0.1 only, a free port, in this process), sends
the requests over real HTTP from an asyncio client with at most ``--concurrency`` in flight, and
reports errors, throughput and p50/p99 latency. The two modes differ only in ``max_batch``
(64: dynamic batching; 1: one model call per request). Exit status 1 when any request failed.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# Short interface strings like the ones the model is trained on (a request = one of them).
SENTENCES = [
    "Open the file", "Save the document", "Close the window", "Delete %s?", "Print the page", "Copy the selection",
    "Paste from the clipboard", "Undo the last change", "File not found", "Permission denied", "Search the web",
    "Show hidden files", "Quit the application", "Rename the folder", "New window", "Select all",
    "Check for updates", "Connection lost", "Settings", "About this program",
]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


class LocalServer:
    """uvicorn serving ``app`` on 127.0.0.1 in a background thread."""

    def __init__(self, app):
        import uvicorn
        from interlingua.serve import listen
        self.sock = listen("127.0.0.1", 0)
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.05)
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(30)
        self.sock.close()


async def load(url: str, requests: int, concurrency: int, targets: list[str], beam: int, timeout: float) -> dict:
    import httpx
    limit = asyncio.Semaphore(concurrency)
    latencies: list[float] = []
    errors: list[str] = []
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=timeout, limits=limits) as client:
        await client.get("/health")  # warm: connection set up, worker thread started

        async def one(i: int) -> None:
            body = {"text": [SENTENCES[i % len(SENTENCES)]], "to": targets, "beam": beam}
            async with limit:
                start = time.perf_counter()
                try:
                    response = await client.post("/translate", json=body)
                    if response.status_code != 200:
                        errors.append(f"HTTP {response.status_code}: {response.text[:200]}")
                    elif len(response.json()["translations"]) != len(targets):
                        errors.append("wrong number of translations")
                except Exception as exc:  # counted, not raised: the report says how many failed and why
                    errors.append(f"{type(exc).__name__}: {exc}")
                latencies.append(time.perf_counter() - start)
        began = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(requests)))
        wall = time.perf_counter() - began
    return {"requests": requests, "concurrency": concurrency, "errors": len(errors), "error_examples": errors[:3],
            "seconds": round(wall, 3), "throughput_rps": round(requests / wall, 2),
            "p50_ms": round(percentile(latencies, 0.50) * 1000, 1), "p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
            "mean_ms": round(statistics.fmean(latencies) * 1000, 1) if latencies else None}


def run_mode(translator, name: str, max_batch: int, args) -> dict:
    from interlingua.serve import create_app
    app = create_app(translator, max_batch=max_batch, max_wait_ms=args.max_wait_ms, name=name)
    with LocalServer(app) as url:
        result = asyncio.run(load(url, args.requests, args.concurrency, args.to, args.beam, args.timeout))
    batcher = app.state.batcher
    result.update(max_batch=max_batch, model_calls=batcher.model_calls,
                  sentences_per_call=round(args.requests / max(batcher.model_calls, 1), 2))
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="run folder")
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=100, help="requests in flight at most (default 100)")
    parser.add_argument("--to", default="fr,de", help="target languages of every request (default fr,de)")
    parser.add_argument("--beam", type=int, default=1)
    parser.add_argument("--max-batch", type=int, default=64, help="the batching mode's max_batch (default 64)")
    parser.add_argument("--max-wait-ms", type=float, default=10)
    parser.add_argument("--timeout", type=float, default=300, help="per-request timeout in seconds")
    parser.add_argument("--only", choices=["batched", "unbatched"], help="run one mode only")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args(argv)
    args.to = [t.strip() for t in args.to.split(",") if t.strip()]
    if not 1 <= args.requests <= 10_000 or not 1 <= args.concurrency <= 1000:
        parser.error("--requests must be 1..10000 and --concurrency 1..1000")

    import torch
    from interlingua import Translator
    translator = Translator.load(args.model)
    name = Path(args.model).resolve().name
    modes = [("batched", args.max_batch), ("unbatched", 1)]
    results = {}
    for mode, max_batch in modes:
        if args.only and args.only != mode:
            continue
        results[mode] = run_mode(translator, name, max_batch, args)

    print(f"model {name} on {translator.device} (torch threads {torch.get_num_threads()}); {args.requests} requests, "
          f"{args.concurrency} concurrent, 1 sentence -> {','.join(args.to)}, beam {args.beam}")
    print(f"{'mode':<10}{'max_batch':>10}{'errors':>8}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'model calls':>13}")
    for mode, r in results.items():
        print(f"{mode:<10}{r['max_batch']:>10}{r['errors']:>8}{r['throughput_rps']:>9.1f}{r['p50_ms']:>9.0f}"
              f"{r['p99_ms']:>9.0f}{r['model_calls']:>13}")
        for example in r["error_examples"]:
            print(f"  error: {example}")
    if len(results) == 2 and results["unbatched"]["throughput_rps"]:
        print(f"batching: {results['batched']['throughput_rps'] / results['unbatched']['throughput_rps']:.1f}x "
              f"the throughput")
    if args.json:
        meta = {"model": name, "device": str(translator.device), "threads": torch.get_num_threads(), "to": args.to,
                "beam": args.beam}
        Path(args.json).write_text(json.dumps({"setup": meta, "results": results}, indent=2) + "\n")
    return 1 if any(r["errors"] for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
