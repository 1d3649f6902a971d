"""Waiting for the batcher on behalf of a client who may hang up.

A request awaits its job's future and, beside it, the client's next ASGI message: once the body is
read, that message is ``http.disconnect`` when the client goes away (or the answer was sent). If the
client leaves first, the job's future is cancelled, so the batching worker drops the job instead of
spending the model on an answer nobody reads (issue 11).
"""
from __future__ import annotations

import asyncio
from concurrent.futures import Future

from starlette.requests import Request


class ClientGone(Exception):
    """The client hung up before its answer was ready."""


async def _hung_up(request: Request) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def answers(request: Request, *futures: Future) -> list:
    """The results of ``futures`` (the batcher's jobs for this request), or ClientGone."""
    waiting = [asyncio.wrap_future(f) for f in futures]
    together = asyncio.ensure_future(asyncio.gather(*waiting))
    gone = asyncio.ensure_future(_hung_up(request))
    try:
        await asyncio.wait({together, gone}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        gone.cancel()
    if together.done():
        return together.result()
    together.cancel()  # cancels each wrapped future, and so each job's: the worker drops what has not run
    for future in futures:
        future.cancel()
    raise ClientGone
