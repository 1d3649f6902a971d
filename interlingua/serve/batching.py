"""Dynamic batching: requests that arrive together share one model call.

One worker thread owns the model. Each request becomes a job on a queue; the worker takes the
first job, then keeps collecting for at most ``max_wait_ms`` (or until ``max_batch`` sentences),
groups what it has by what the model is asked to do (translate into the same languages with the
same beam, or embed), and runs one model call per group: the thoughts of all sentences are
computed together and decoded together. ``max_batch=1`` turns batching off (one call per request),
which is what the load benchmark compares against.

The model is only ever called from this one thread, so requests never race on it. Requests are
checked before they are queued (see ``app._sentences``), and should a model call still fail, its
requests are tried again one by one: only the request that fails gets the error. The queue holds
``max_queue`` requests at most; beyond that ``submit`` raises ``QueueFull`` (the server's 503).

A job whose future was cancelled before its batch ran (the server cancels it when the client hangs
up) is dropped unread: nobody would read the answer, and the model's time goes to those still waiting.
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

from ..memory import Match
from .settings import MAX_BATCH, MAX_QUEUE, MAX_WAIT_MS

log = logging.getLogger(__name__)

_STOP = object()


@dataclass
class Job:
    key: tuple                      # ("translate", ("de", "fr"), beam), ("embed",) or ("identify",)
    texts: list[str]
    future: Future = field(default_factory=Future)


@dataclass
class Translations:
    """A translate job's answer: per language, the texts and which of them were cut (see
    ``Translator.cut_short``; all False for a translator that does not say), and for a model that reads a
    memory (``Translator.reads_memory``) the score (0-100) of the match each text was drafted from, None
    for none; ``match`` itself is None for a model without a memory."""
    text: dict[str, list[str]]
    cut: dict[str, list[bool]]
    match: dict[str, list[float | None]] | None = None


def _score(match: Match | None) -> float | None:
    """A memory match's score, None for no match."""
    return None if match is None else float(match.score)


class QueueFull(Exception):
    """More requests wait than the queue holds: the client should come back later."""


class Batcher:
    def __init__(self, translator: Any, max_batch: int = MAX_BATCH, max_wait_ms: float = MAX_WAIT_MS,
                 max_queue: int = MAX_QUEUE):
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        if max_queue < 1:
            raise ValueError("max_queue must be at least 1")
        self.translator = translator
        self.max_queue, self._waiting = max_queue, 0  # requests queued or in the model, not yet answered
        self.max_batch, self.max_wait = max_batch, max(0.0, max_wait_ms) / 1000.0
        self.model_calls = 0          # model calls made (what batching saves)
        self.batched_requests = 0     # requests served
        self.dropped_requests = 0     # requests cancelled before their batch ran
        self.sentences_translated = 0 # translations written (sentences × target languages), for /metrics
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
        with self._lock:
            if self._waiting >= self.max_queue:
                raise QueueFull(f"{self._waiting} requests are waiting (the limit is {self.max_queue})")
            self._waiting += 1
        job.future.add_done_callback(self._answered)
        self._queue.put(job)
        return job.future

    def _answered(self, future: Future) -> None:
        with self._lock:
            self._waiting -= 1

    @property
    def waiting(self) -> int:
        """Requests queued or in the model, not yet answered."""
        return self._waiting

    def translate(self, texts: list[str], targets: list[str], beam: int) -> Future:
        """Future of :class:`Translations`."""
        return self.submit(("translate", tuple(sorted(set(targets))), beam), texts)

    def embed(self, texts: list[str]) -> Future:
        """Future of an ``(n, d)`` float32 array."""
        return self.submit(("embed",), texts)

    def identify(self, texts: list[str]) -> Future:
        """Future of an ``(n, languages)`` float32 array (``Translator.identify``)."""
        return self.submit(("identify",), texts)

    # ------------------------------------------------------------------ the worker

    def _next(self, timeout: float | None) -> Any:
        """The next job still wanted (or _STOP); raises queue.Empty after ``timeout`` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if self._held:
                job = self._held.popleft()
            else:
                left = None if deadline is None else deadline - time.monotonic()
                job = self._queue.get(timeout=left) if left is None or left > 0 else self._queue.get_nowait()
            if job is _STOP or not job.future.cancelled():
                return job
            self.dropped_requests += 1

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
            if not job.future.set_running_or_notify_cancel():  # cancelled while the batch was collected
                self.dropped_requests += 1
                continue
            groups.setdefault(job.key, []).append(job)
        for key, jobs in groups.items():
            # One request's input may fail a call for all: then each is tried alone, and only a
            # request that fails alone gets the error. The worker keeps serving either way.
            for part in [jobs] if len(jobs) == 1 else [jobs, *([job] for job in jobs)]:
                try:
                    self._call(key, part)
                except Exception as exc:
                    log.exception("model call for %d request(s) failed", len(part))
                    if len(part) == 1 and not part[0].future.done():
                        part[0].future.set_exception(exc)
                    continue
                if part is jobs:  # all answered together
                    break
            self.batched_requests += len(jobs)

    def _call(self, key: tuple, jobs: list[Job]) -> None:
        """One model call for ``jobs`` (same task): set each job's result, or raise."""
        unique = list(dict.fromkeys(t for job in jobs for t in job.texts))
        index = {t: i for i, t in enumerate(unique)}
        self.model_calls += 1
        if key[0] == "translate":
            result = self.translator.translate(unique, to=list(key[1]), beam=key[2])
            cut = getattr(self.translator, "cut_short", None) or {}
            # read now: the next call overwrites the translator's matches, as it does cut_short
            found = self.translator.matches if getattr(self.translator, "reads_memory", False) else None
            answers = [Translations({lang: [result[lang][index[t]] for t in job.texts] for lang in key[1]},
                                    {lang: [bool(cut[lang][index[t]]) if lang in cut else False for t in job.texts]
                                     for lang in key[1]},
                                    None if found is None else
                                    {lang: [_score(found[lang][index[t]]) for t in job.texts] for lang in key[1]})
                       for job in jobs]
            self.sentences_translated += sum(len(job.texts) for job in jobs) * len(key[1])
        else:
            method = self.translator.embed if key[0] == "embed" else self.translator.identify
            vectors = np.asarray(method(unique), dtype=np.float32)
            answers = [vectors[[index[t] for t in job.texts]] for job in jobs]
        for job, answer in zip(jobs, answers):  # only once every answer is made: a failure sets none
            if not job.future.done():  # (a cancelled request has no one to answer)
                job.future.set_result(answer)
