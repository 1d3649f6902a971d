"""Dynamic batching: requests that arrive together share one model call.

One worker thread owns the model. Each request becomes a job on a queue; the worker takes the
first job, then keeps collecting for at most ``max_wait_ms`` (or until ``max_batch`` sentences),
groups what it has by what the model is asked to do (translate into the same languages with the
same beam, or embed), and runs one model call per group: the thoughts of all sentences are
computed together and decoded together. ``max_batch=1`` turns batching off (one call per request),
which is what the load benchmark compares against.

The model is only ever called from this one thread, so requests never race on it.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

_STOP = object()


@dataclass
class Job:
    key: tuple                      # ("translate", ("de", "fr"), beam) or ("embed",)
    texts: list[str]
    future: Future = field(default_factory=Future)


class Batcher:
    def __init__(self, translator: Any, max_batch: int = 64, max_wait_ms: float = 10.0):
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self.translator = translator
        self.max_batch, self.max_wait = max_batch, max(0.0, max_wait_ms) / 1000.0
        self.model_calls = 0          # model calls made (what batching saves)
        self.batched_requests = 0     # requests served
        self._queue: queue.Queue = queue.Queue()
        self._held: deque[Job] = deque()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ life cycle

    def start(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="interlingua-batcher", daemon=True)
                self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None and thread.is_alive():
            self._queue.put(_STOP)
            thread.join(timeout)

    # ------------------------------------------------------------------ requests

    def submit(self, key: tuple, texts: list[str]) -> Future:
        """Queue a job; its future gets a list (translations per language, or vectors) in ``texts`` order."""
        self.start()
        job = Job(key, list(texts))
        self._queue.put(job)
        return job.future

    def translate(self, texts: list[str], targets: list[str], beam: int) -> Future:
        """Future of ``{lang: [translation, ...]}``."""
        return self.submit(("translate", tuple(sorted(set(targets))), beam), texts)

    def embed(self, texts: list[str]) -> Future:
        """Future of an ``(n, d)`` float32 array."""
        return self.submit(("embed",), texts)

    # ------------------------------------------------------------------ the worker

    def _next(self, timeout: float | None) -> Any:
        if self._held:
            return self._held.popleft()
        return self._queue.get(timeout=timeout) if timeout is None or timeout > 0 else self._queue.get_nowait()

    def _run(self) -> None:
        while True:
            first = self._next(None)
            if first is _STOP:
                return
            batch, size, stopping = [first], len(first.texts), False
            deadline = time.monotonic() + self.max_wait
            while size < self.max_batch:
                try:
                    job = self._next(deadline - time.monotonic())
                except queue.Empty:
                    break
                if job is _STOP:
                    stopping = True
                    break
                if size + len(job.texts) > self.max_batch:
                    self._held.append(job)  # first in the next batch: never split, never reordered
                    break
                batch.append(job)
                size += len(job.texts)
            self._process(batch)
            if stopping:
                return

    def _process(self, batch: list[Job]) -> None:
        groups: dict[tuple, list[Job]] = {}
        for job in batch:
            groups.setdefault(job.key, []).append(job)
        for key, jobs in groups.items():
            unique = list(dict.fromkeys(t for job in jobs for t in job.texts))
            try:
                self.model_calls += 1
                if key[0] == "translate":
                    result = self.translator.translate(unique, to=list(key[1]), beam=key[2])
                    index = {t: i for i, t in enumerate(unique)}
                    for job in jobs:
                        job.future.set_result({lang: [result[lang][index[t]] for t in job.texts] for lang in key[1]})
                else:
                    vectors = np.asarray(self.translator.embed(unique), dtype=np.float32)
                    index = {t: i for i, t in enumerate(unique)}
                    for job in jobs:
                        job.future.set_result(vectors[[index[t] for t in job.texts]])
            except Exception as exc:  # the request gets the error; the worker keeps serving
                log.exception("model call failed")
                for job in jobs:
                    if not job.future.done():
                        job.future.set_exception(exc)
            self.batched_requests += len(jobs)
