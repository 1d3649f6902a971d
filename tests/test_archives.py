"""Catalogs inside a .deb and a wheel, made here as a packager would, harvested as a user runs it."""
import json
import os
import shutil
import subprocess
import sys
import zipfile

import polib
import pytest

from conftest import assert_clean_error
from interlingua.corpus.formats import ROW_ID

needs_dpkg = pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="needs dpkg-deb (Debian's dpkg)")


PANELS = "alpha beta gamma delta epsilon zeta eta theta iota kappa".split()


def write_catalog(path, language, pairs, header=None, po=False):
    catalog = polib.POFile()
    catalog.metadata = {"Content-Type": "text/plain; charset=UTF-8", "Language": language, **(header or {})}
    for msgid, msgstr in pairs:
        catalog.append(polib.POEntry(msgid=msgid, msgstr=msgstr))
    path.parent.mkdir(parents=True, exist_ok=True)
    catalog.save(str(path)) if po else catalog.save_as_mofile(str(path))


def build_deb(folder, out):
    (folder / "DEBIAN").mkdir(parents=True, exist_ok=True)
    (folder / "DEBIAN" / "control").write_text("Package: tiny-l10n\nVersion: 1.0\nArchitecture: all\n"
                                               "Maintainer: Nobody <nobody@example.org>\nDescription: test\n")
    subprocess.run(["dpkg-deb", "--build", "--root-owner-group", str(folder), str(out)], check=True,
                   capture_output=True)
    return out


@pytest.fixture
def tiny_deb(tmp_path):
    """A gettext-layout catalog, a LibreOffice one ("~" accelerators) and a WordPress one (admin-de_DE.mo)."""
    root = tmp_path / "pkg"
    # ten more meanings, so that the dev and test splits are not empty
    panels = [(f"Show panel {name}", f"Afficher le panneau {name}") for name in PANELS]
    write_catalog(root / "usr/share/locale/fr/LC_MESSAGES/x.mo", "fr",
                  [("Open file", "Ouvrir le fichier"), ("Close", "Fermer"), ("Quit", "Quit"), *panels])
    write_catalog(root / "usr/lib/libreoffice/program/resource/fr/LC_MESSAGES/sc.mo", "fr",
                  [("~Save all", "~Tout enregistrer")], header={"X-Accelerator-Marker": "~"})
    write_catalog(root / "usr/share/wordpress/wp-content/languages/admin-de_DE.mo", "de_DE",
                  [("Close", "Schließen"), ("Save all", "Alle speichern")])
    return build_deb(root, tmp_path / "tiny-l10n_1.0_all.deb")


@pytest.fixture
def tiny_wheel(tmp_path):
    """A wheel (a zip) holding code and a .po catalog, as Django's does."""
    src = tmp_path / "wheel-src"
    write_catalog(src / "tinyapp/locale/de/LC_MESSAGES/django.po", "de", [("Open file", "Datei öffnen")], po=True)
    path = tmp_path / "tinyapp-1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as wheel:
        wheel.writestr("tinyapp/__init__.py", "")
        wheel.write(src / "tinyapp/locale/de/LC_MESSAGES/django.po", "tinyapp/locale/de/LC_MESSAGES/django.po")
    return path


def build(tmp_path, *args):
    """`interlingua corpus build` in a fresh process, with its own temporary folder to check it is cleaned."""
    tmp = tmp_path / "tmp"
    tmp.mkdir(exist_ok=True)
    result = subprocess.run([sys.executable, "-m", "interlingua", "corpus", "build", "--out",
                             str(tmp_path / "out" / "corpus.jsonl"), "--quiet", "--min-translations", "1", *args],
                            capture_output=True, timeout=300, env={**os.environ, "TMPDIR": str(tmp)})
    assert list(tmp.iterdir()) == [], "the unpacked archives were left behind"
    return result


def rows_of(path):
    return {row["en"]: {k: v for k, v in row.items() if k != ROW_ID}
            for row in map(json.loads, path.read_text().splitlines())}


@needs_dpkg
def test_deb_and_wheel_harvested_together(tmp_path, tiny_deb, tiny_wheel):
    result = build(tmp_path, "--no-system", "--deb", str(tiny_deb), "--wheel", str(tiny_wheel))
    assert result.returncode == 0, result.stderr.decode()
    rows = rows_of(tmp_path / "out" / "corpus.jsonl")
    assert len(rows) == 3 + len(PANELS) and "Quit" not in rows  # a copy of the source teaches nothing
    assert {en: rows[en] for en in ("Open file", "Close", "Save all")} == {
        "Open file": {"en": "Open file", "de": "Datei öffnen", "fr": "Ouvrir le fichier"},  # the .deb meets the wheel
        "Close": {"en": "Close", "de": "Schließen", "fr": "Fermer"},  # WordPress's de_DE is the column "de"
        "Save all": {"en": "Save all", "de": "Alle speichern", "fr": "Tout enregistrer"},  # "~" marks removed
    }
    assert (tmp_path / "out" / "corpus.train.jsonl").exists()


@needs_dpkg
def test_from_dir_reads_every_deb_and_wheel_in_it(tmp_path, tiny_deb, tiny_wheel):
    folder = tmp_path / "downloads"
    folder.mkdir()
    shutil.copy(tiny_deb, folder)
    shutil.copy(tiny_wheel, folder)
    result = build(tmp_path, "--no-system", "--from-dir", str(folder))
    assert result.returncode == 0, result.stderr.decode()
    assert rows_of(tmp_path / "out" / "corpus.jsonl")["Open file"] == {
        "en": "Open file", "de": "Datei öffnen", "fr": "Ouvrir le fichier"}


def test_missing_inputs_named_at_once(tmp_path):
    result = build(tmp_path, "--no-system", "--deb", str(tmp_path / "gone.deb"), "--wheel", str(tmp_path / "gone.whl"))
    assert_clean_error(result, "gone.deb: no such file", "gone.whl: no such file")
    assert not (tmp_path / "out").exists()


@needs_dpkg
def test_text_file_named_deb(tmp_path):
    (tmp_path / "notes.deb").write_text("not a package\n")
    assert_clean_error(build(tmp_path, "--no-system", "--deb", str(tmp_path / "notes.deb")),
                       "notes.deb: not a readable Debian package")
    assert not (tmp_path / "out").exists()


@needs_dpkg
def test_truncated_deb(tmp_path, tiny_deb):
    data = tiny_deb.read_bytes()
    (tmp_path / "cut.deb").write_bytes(data[: len(data) * 2 // 3])
    assert_clean_error(build(tmp_path, "--no-system", "--deb", str(tmp_path / "cut.deb")),
                       "cut.deb: not a readable Debian package")
    assert not (tmp_path / "out").exists()


@needs_dpkg
def test_deb_without_catalogs(tmp_path):
    root = tmp_path / "pkg"
    (root / "usr/share/doc/tiny").mkdir(parents=True)
    (root / "usr/share/doc/tiny/README").write_text("no catalogs here\n")
    deb = build_deb(root, tmp_path / "docs-only.deb")
    assert_clean_error(build(tmp_path, "--deb", str(deb)), "docs-only.deb: holds no gettext catalog")
    assert not (tmp_path / "out").exists()


@needs_dpkg
def test_a_bad_input_after_a_good_one_writes_nothing(tmp_path, tiny_deb):
    (tmp_path / "fake.whl").write_text("not a zip\n")
    assert_clean_error(build(tmp_path, "--no-system", "--deb", str(tiny_deb), "--wheel", str(tmp_path / "fake.whl")),
                       "fake.whl: not a readable wheel")
    assert not (tmp_path / "out").exists()


def test_truncated_wheel(tmp_path, tiny_wheel):
    data = tiny_wheel.read_bytes()
    (tmp_path / "cut.whl").write_bytes(data[: len(data) // 2])
    assert_clean_error(build(tmp_path, "--no-system", "--wheel", str(tmp_path / "cut.whl")),
                       "cut.whl: not a readable wheel")


def test_wheel_without_catalogs(tmp_path):
    with zipfile.ZipFile(tmp_path / "code-1.0-py3-none-any.whl", "w") as wheel:
        wheel.writestr("code/__init__.py", "")
    assert_clean_error(build(tmp_path, "--no-system", "--wheel", str(tmp_path / "code-1.0-py3-none-any.whl")),
                       "code-1.0-py3-none-any.whl: holds no gettext catalog")


def test_from_dir_without_archives(tmp_path):
    (tmp_path / "empty").mkdir()
    assert_clean_error(build(tmp_path, "--no-system", "--from-dir", str(tmp_path / "empty")),
                       "empty: holds no .deb or .whl file")


def test_no_system_needs_something_to_read(tmp_path):
    assert_clean_error(build(tmp_path, "--no-system"), "nothing to harvest")
