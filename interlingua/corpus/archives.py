"""Catalogs inside packages a user has, not installed: Debian packages (.deb) and Python wheels (.whl).

Debian's localisation packages (``libreoffice-l10n-*``, ``wordpress-l10n``) and the wheels of
well-translated Python projects (Django) hold gettext catalogs that the machine does not have
installed. ``apt-get download NAME`` and ``pip download --no-deps NAME`` fetch them without
installing anything. They are unpacked into one temporary folder, which the harvester then reads
like any other root, and which is removed when the build ends, whether it succeeded or not.

A .deb is read by ``dpkg-deb -x`` (Debian's own tool, which knows every compression a .deb may
use); a wheel is a zip file, read by ``zipfile``. Every input that is missing, unreadable or holds
no catalog is an ``InterlinguaError`` naming the file, raised before anything is written.
"""
from __future__ import annotations

import logging
import shutil
import subprocess
import tempfile
import zipfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Sequence

from ..errors import InterlinguaError

log = logging.getLogger(__name__)

CATALOG_SUFFIXES = (".mo", ".po")


def archives_in(folder: Path) -> tuple[list[Path], list[Path]]:
    """(.deb files, .whl files) directly inside ``folder``, sorted so the build does not depend on listing order."""
    if not folder.is_dir():
        raise InterlinguaError(f"{folder}: no such folder")
    debs, wheels = sorted(folder.glob("*.deb")), sorted(folder.glob("*.whl"))
    if not debs and not wheels:
        raise InterlinguaError(f"{folder}: holds no .deb or .whl file")
    return debs, wheels


def unpack_deb(deb: Path, dest: Path) -> None:
    """Unpack the files of a Debian package into ``dest`` with ``dpkg-deb -x``."""
    dpkg_deb = shutil.which("dpkg-deb")
    if dpkg_deb is None:
        raise InterlinguaError(f"{deb}: reading a .deb needs dpkg-deb (Debian's dpkg package), which is not on PATH")
    result = subprocess.run([dpkg_deb, "-x", str(deb), str(dest)], capture_output=True, text=True)
    if result.returncode != 0:
        # dpkg-deb says what is wrong ("not a Debian format archive", "unexpected end of file"); keep its last line.
        reason = [line for line in result.stderr.splitlines() if line.strip()]
        reason = reason[-1].removeprefix("dpkg-deb: error: ") if reason else f"dpkg-deb exit {result.returncode}"
        raise InterlinguaError(f"{deb}: not a readable Debian package ({reason})")


def unpack_wheel(wheel: Path, dest: Path) -> None:
    """Unpack the catalogs of a wheel (a zip file) into ``dest``; the code beside them is not needed."""
    try:
        with zipfile.ZipFile(wheel) as archive:
            for member in archive.infolist():
                if member.filename.endswith(CATALOG_SUFFIXES):
                    archive.extract(member, dest)  # extract() keeps every path inside dest
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError) as exc:
        raise InterlinguaError(f"{wheel}: not a readable wheel (zip file): {exc}") from None


def _check_inputs(paths: Sequence[Path]) -> None:
    """Every missing input at once, before unpacking anything: a user fixes the command in one go."""
    problems = [f"{p}: no such file" if not p.exists() else f"{p}: not a file" for p in paths if not p.is_file()]
    if problems:
        raise InterlinguaError("; ".join(problems))


@contextmanager
def unpacked(debs: Sequence[Path] = (), wheels: Sequence[Path] = ()) -> Iterator[list[Path]]:
    """One folder per archive, holding its catalogs in their own layout, inside a temporary folder
    that is removed on exit. An archive with no catalog in a language the harvester can name is an error."""
    from .harvest import find_catalogs
    debs, wheels = [Path(p) for p in debs], [Path(p) for p in wheels]
    _check_inputs(debs + wheels)
    with tempfile.TemporaryDirectory(prefix="interlingua-archives-") as tmp:
        roots = []
        for i, (path, unpack) in enumerate([(d, unpack_deb) for d in debs] + [(w, unpack_wheel) for w in wheels]):
            dest = Path(tmp, f"{i}")  # numbered: two inputs may share a file name
            dest.mkdir()
            unpack(path, dest)
            catalogs = find_catalogs([dest])
            if not catalogs:
                raise InterlinguaError(f"{path}: holds no gettext catalog (.mo/.po) in a language folder")
            languages = len({lang for _, lang in catalogs})
            log.info("%s: %d catalogs in %d language%s", path.name, len(catalogs), languages, "" if languages == 1 else "s")
            roots.append(dest)
        yield roots
