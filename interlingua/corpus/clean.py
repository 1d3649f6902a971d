"""Cleaning rules for software messages, shared by the harvester and the file readers.

Kept deliberately small and explicit: each rule is one regular expression and one reason.
"""
from __future__ import annotations

import re

from ..placeholders import substitute  # what a placeholder is has one owner

_WHITESPACE = re.compile(r"\s+")
# GTK "_File", Qt/KDE "&Open"; CJK catalogs write the key in brackets: "文件(_F)", "打开(&O)".
# Groups capture the mark and its letter, so localize/protect.py can put the accelerator back on a draft.
ACCEL_BRACKET = re.compile(r"\s*[(（]([_&])([A-Za-z0-9])[)）]")
ACCEL_UNDERSCORE = re.compile(r"(?<![\w%{])(_)(?=([^\W_]))")
ACCEL_AMPERSAND = re.compile(r"(?<![\w&])(&)(?=([^\W_]))(?![A-Za-z]+;|#\d+;|#x[0-9A-Fa-f]+;)")
_PATH_OR_URL = re.compile(r"^(?:[a-z][a-z0-9+.-]*://\S+|/[\w./~-]*|[\w.-]+@[\w.-]+\.\w+|[\w.-]+\.(?:png|svg|desktop|conf|xml|txt|so|py|html?))$", re.I)
_LETTERS = re.compile(r"[^\W\d_]{2,}")


def normalize_whitespace(text: str) -> str:
    return _WHITESPACE.sub(" ", text).strip()


def strip_accelerators(text: str) -> str:
    """Remove keyboard-accelerator marks so `_File`, `&File` and `File` are one string."""
    text = ACCEL_BRACKET.sub("", text)
    text = ACCEL_UNDERSCORE.sub("", text)
    return ACCEL_AMPERSAND.sub("", text)


def clean_message(text: str) -> str:
    return normalize_whitespace(strip_accelerators(text))


def is_text(text: str) -> bool:
    """True for natural-language messages; False for paths, URLs, and format-only strings like '%s: %s'."""
    if not text or _PATH_OR_URL.match(text):
        return False
    return bool(_LETTERS.search(substitute(text, lambda m: " ")))  # the owner's reading: "100% done" is prose
