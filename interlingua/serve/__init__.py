"""A translation server with a web page: ``interlingua serve --model RUN``.

    from interlingua.serve import create_app, serve
    app = create_app(Translator.load("runs/base"))        # a FastAPI app (for tests or your own ASGI server)
    serve("runs/base", host="127.0.0.1", port=8000)        # load once, serve until Ctrl-C

See ``docs/serve.md``. FastAPI and uvicorn are optional dependencies: without them this module
still imports, and using it raises an ``InterlinguaError`` that says what to install.
"""
from __future__ import annotations

import logging
import os
import socket
import sys
from pathlib import Path
from typing import Any

from ..errors import InterlinguaError
from .settings import HOST, MAX_BATCH, MAX_CHARS, MAX_COST, MAX_QUEUE, MAX_SENTENCES, MAX_WAIT_MS, PORT

log = logging.getLogger(__name__)
_MISSING = "the server needs FastAPI, uvicorn and prometheus-client: pip install fastapi uvicorn prometheus-client"
API_KEY_ENV = "INTERLINGUA_API_KEY"


def create_app(translator: Any, max_batch: int = MAX_BATCH, max_wait_ms: float = MAX_WAIT_MS,
               max_chars: int = MAX_CHARS, max_sentences: int = MAX_SENTENCES, name: str | None = None,
               max_queue: int = MAX_QUEUE, max_cost: int = MAX_COST,
               api_key: str | None = None, cors_origins: list[str] | None = None):
    """The FastAPI app for ``translator`` (see :func:`interlingua.serve.app.create_app`)."""
    try:
        from .app import create_app as _create_app
    except ImportError as exc:
        raise InterlinguaError(f"{_MISSING} ({exc})") from None
    return _create_app(translator, max_batch=max_batch, max_wait_ms=max_wait_ms, max_chars=max_chars,
                       max_sentences=max_sentences, name=name, max_queue=max_queue, max_cost=max_cost,
                       api_key=api_key, cors_origins=cors_origins)


def check_settings(port: int, max_batch: int, max_wait_ms: float, max_chars: int, max_sentences: int,
                   max_queue: int, max_cost: int = MAX_COST) -> None:
    """Every impossible server setting named at once, before the model is loaded."""
    problems = [f"{name} {value} is out of range ({rule})" for name, value, ok, rule in [
        ("--port", port, 0 <= port <= 65535, "0 to 65535; 0: any free port"),
        ("--max-batch", max_batch, max_batch >= 1, "at least 1; 1: no batching"),
        ("--max-wait-ms", max_wait_ms, max_wait_ms >= 0, "0 or more"),
        ("--max-chars", max_chars, max_chars >= 1, "at least 1"),
        ("--max-sentences", max_sentences, max_sentences >= 1, "at least 1"),
        ("--max-queue", max_queue, max_queue >= 1, "at least 1"),
        ("--max-cost", max_cost, max_cost >= 1, "at least 1")] if not ok]
    if problems:
        raise InterlinguaError("; ".join(problems))


def listen(host: str, port: int) -> socket.socket:
    """A bound, listening socket (port 0: any free port); a busy port is a one-line error."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise InterlinguaError(f"cannot listen on {host}:{port} (unknown host: {exc.strerror})") from None
    family, _, _, _, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise InterlinguaError(f"cannot listen on {host}:{port} ({exc.strerror or exc})") from None
    sock.setblocking(False)
    return sock


def serve(run: str | Path, host: str = HOST, port: int = PORT, checkpoint: str = "best",
          max_batch: int = MAX_BATCH, max_wait_ms: float = MAX_WAIT_MS, max_chars: int = MAX_CHARS,
          max_sentences: int = MAX_SENTENCES, log_level: str = "info", precision: str = "fp32", engine: str = "torch",
          max_queue: int = MAX_QUEUE, max_cost: int = MAX_COST,
          api_key: str | None = None, cors_origins: list[str] | None = None, access_log: bool = False,
          memory: str | Path | None = None) -> None:
    """Load the run once and serve it on ``host:port`` until interrupted.

    ``api_key`` (else the environment's ``INTERLINGUA_API_KEY``): the key every model endpoint wants.
    ``memory``: the translation memory a model trained with one reads (default: its run's training split).
    A first Ctrl-C or SIGTERM stops accepting connections and lets the requests in flight finish
    (uvicorn's graceful shutdown), then the batching worker answers what it holds and stops.
    """
    check_settings(port, max_batch, max_wait_ms, max_chars, max_sentences, max_queue, max_cost)
    try:
        import uvicorn
    except ImportError as exc:
        raise InterlinguaError(f"{_MISSING} ({exc})") from None
    api_key = api_key or os.environ.get(API_KEY_ENV) or None
    from ..api import Translator
    from ..memory import TranslationMemory
    tm = TranslationMemory.from_file(memory) if memory is not None else None  # a bad file fails before the model loads
    translator = Translator.load(run, checkpoint, precision=precision, engine=engine)
    if tm is not None:
        translator.use_memory(tm)
    app = create_app(translator, max_batch=max_batch, max_wait_ms=max_wait_ms, max_chars=max_chars,
                     max_sentences=max_sentences, name=Path(run).resolve().name, max_queue=max_queue,
                     max_cost=max_cost, api_key=api_key, cors_origins=cors_origins)
    sock = listen(host, port)
    shown = f"[{host}]" if ":" in host else host
    print(f"serving {run} ({', '.join(translator.languages)}) on http://{shown}:{sock.getsockname()[1]}/ "
          f"(API docs at /docs, LibreTranslate API at /libretranslate/, "
          f"{'an API key required' if api_key else 'no API key'}); Ctrl-C stops", file=sys.stderr, flush=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level=log_level, access_log=access_log or log_level == "debug"))
    server.run(sockets=[sock])
