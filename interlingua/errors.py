"""The one error type users see.

Internal code raises ``InterlinguaError("corpus.jsonl:12: missing 'en'")``; ``cli.py``
prints the message on one line and exits non-zero. A traceback is shown only with
``--debug``: a user mistake is never a crash.
"""
from __future__ import annotations


class InterlinguaError(Exception):
    """A problem the user can fix: bad input, a missing file, an unknown language."""


class Interrupted(InterlinguaError):
    """Training stopped by a signal after saving a checkpoint; the message says how to resume."""

    def __init__(self, message: str, exit_code: int = 130):
        super().__init__(message)
        self.exit_code = exit_code  # 128 + the signal's number, as a shell reports a process it stopped


def where(path: object, line: int | None = None) -> str:
    """``file:line`` prefix for messages that point at a place in a file."""
    return f"{path}:{line}" if line is not None else f"{path}"
