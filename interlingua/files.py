"""Files: every output interlingua writes, its JSON, and the UTF-8 text lines it reads.

Every file interlingua writes (run folders, corpora, translations, vectors, reports) goes through
``output_path``/``open_output``: a regular file or a new path is written to a temporary file beside
it, fsynced and renamed over it, so a reader sees the old file or the whole new one; a symlink is
followed and its target replaced (the link stays a link); a character device or FIFO (/dev/null,
/dev/stdout, a pipe) is written straight into, never replaced; '-' is stdout. New files get
0666 & ~umask, as open() gives; a file written again keeps its mode.

Text input is UTF-8, read line by line so that a bad byte is reported with its file and line
(``text_lines``): the corpus formats, ``translate --in`` and ``mine`` all read through it.
"""
from __future__ import annotations

import json
import os
import secrets
import stat
import sys
from collections.abc import Iterable
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import IO, Any, Iterator

from .errors import InterlinguaError, where


# ----------------------------------------------------------------------------- the one writer of outputs

def _cannot_write(path: Path | str, exc: OSError) -> InterlinguaError:
    return InterlinguaError(f"{path}: cannot write ({exc.strerror or exc})")


def _output_target(path: Path) -> tuple[Path, os.stat_result | None]:
    """(the file to write, its stat or None when it is new) for an output path; a clear error if unusable."""
    target = Path(os.path.realpath(path)) if path.is_symlink() else path
    try:
        return target, target.stat()
    except FileNotFoundError:
        return target, None
    except NotADirectoryError:
        raise InterlinguaError(f"{path}: cannot write (a part of the path is a file, not a folder)") from None
    except OSError as exc:
        raise _cannot_write(path, exc) from None


def check_output(path: Path | str, parents: bool = False) -> None:
    """Fail now, in one line, if ``path`` cannot be an output file (before minutes of work are spent)."""
    if str(path) == "-":
        return
    path = Path(path)
    target, st = _output_target(path)
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise InterlinguaError(f"{path}: is a folder; give a file name")
    if st is None or stat.S_ISREG(st.st_mode):
        folder = target.parent
        if folder.is_dir():
            if not os.access(folder, os.W_OK | os.X_OK):
                raise InterlinguaError(f"{path}: cannot write (no permission to create files in {folder})")
        elif folder.exists() or not parents:
            raise InterlinguaError(f"{path}: cannot write ({folder} is not a folder)" if folder.exists()
                                   else f"{path}: cannot write (no such folder {folder})")


@contextmanager
def output_path(path: Path | str, parents: bool = False) -> Iterator[str]:
    """The file name to write ``path``'s new content into (for writers that want a name, e.g. safetensors).

    For a regular file or a new path: a temporary file beside the target, fsynced and renamed over it
    when the block ends without error, and removed otherwise. For a device or FIFO: the path itself.
    """
    path = Path(path)
    check_output(path, parents)
    target, st = _output_target(path)
    if st is not None and not stat.S_ISREG(st.st_mode):  # /dev/null, a FIFO, a terminal: never replaced
        try:
            yield str(target)
        except OSError as exc:
            raise _cannot_write(path, exc) from None
        return
    tmp = target.parent / f".{target.name}.{secrets.token_hex(4)}.tmp"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))  # the umask applies, as for open()
        mode = stat.S_IMODE(st.st_mode if st is not None else os.stat(tmp).st_mode)
        yield str(tmp)
        os.chmod(tmp, mode)  # a writer that makes its own file (safetensors: 0600) gets the mode the JSON has
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except OSError as exc:
        raise _cannot_write(path, exc) from None
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def open_output(path: Path | str, mode: str = "wb", parents: bool = False, **kwargs: Any) -> Iterator[IO]:
    """``open(path, mode)`` by the rules above ('-': stdout, left open)."""
    if str(path) == "-":
        stream = sys.stdout.buffer if "b" in mode else sys.stdout
        yield stream
        stream.flush()
        return
    with output_path(path, parents) as name, open(name, mode, **kwargs) as f:
        yield f


@contextmanager
def open_outputs(paths: list[Path], mode: str = "w", parents: bool = False, **kwargs: Any) -> Iterator[list[IO]]:
    """Several outputs written together (a corpus's splits, Moses files): none is renamed unless all are whole."""
    with ExitStack() as stack:
        yield [stack.enter_context(open_output(p, mode, parents, **kwargs)) for p in paths]


def atomic_write_bytes(path: Path | str, data: bytes) -> None:
    """Write ``data`` to ``path`` by the rules of ``output_path`` ('-': stdout)."""
    with open_output(path, "wb") as f:
        f.write(data)


def atomic_write_text(path: Path | str, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def write_json(path: Path | str, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def read_json(path: Path | str) -> Any:
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InterlinguaError(f"{path}: missing") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InterlinguaError(f"{path}: corrupt JSON ({exc})") from None


# ----------------------------------------------------------------------------- the one reader of text lines

def text_lines(stream: Iterable[bytes], name: object) -> Iterator[tuple[int, str]]:
    """Numbered lines of a binary stream (an open file, stdin's buffer), decoded as UTF-8 one at a time so a bad
    byte is reported at its line (``name:line``); a byte-order mark before the first line and the line ends
    (``\\n``, ``\\r\\n``) are dropped. Blank lines are kept: what to do with them is the caller's."""
    for n, raw in enumerate(stream, 1):
        raw = raw.removeprefix(b"\xef\xbb\xbf") if n == 1 else raw
        try:
            yield n, raw.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError as e:
            raise InterlinguaError(f"{where(name, n)}: not valid UTF-8 (byte 0x{raw[e.start]:02x} "
                                   f"at byte {e.start + 1} of the line); save the file as UTF-8") from None
