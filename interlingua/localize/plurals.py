"""Plural-Forms headers and gettext locale names for the languages a model writes.

The formulas are the ones GNU gettext's manual and the big translation projects (GNOME, KDE,
Launchpad) use. A language not in the table gets ``nplurals=2; plural=(n != 1);`` and a warning:
that is right for most European languages and a reviewer can change one header line.
"""
from __future__ import annotations

import re

from ..corpus.langcodes import to_bcp47

ONE = "nplurals=1; plural=0;"
TWO = "nplurals=2; plural=(n != 1);"
TWO_ZERO_ONE = "nplurals=2; plural=(n > 1);"
SLAVIC_EAST = ("nplurals=3; plural=(n%10==1 && n%100!=11 ? 0 : n%10>=2 && n%10<=4 && (n%100<10 || n%100>=20)"
               " ? 1 : 2);")
FALLBACK = TWO

_TABLE: dict[str, str] = {
    # one form
    **dict.fromkeys(["ja", "ko", "zh", "vi", "th", "id", "ms", "lo", "km", "my", "jv", "su", "bo", "dz", "yo",
                     "ig", "wo"], ONE),
    # one and other
    **dict.fromkeys(["en", "de", "nl", "sv", "da", "nb", "nn", "no", "fo", "fy", "es", "pt", "it", "ca", "gl",
                     "eu", "ast", "bg", "el", "fi", "et", "hu", "tr", "az", "eo", "he", "af", "sq", "hi", "bn",
                     "ur", "ta", "te", "ml", "mr", "kn", "gu", "pa", "ne", "si", "sw", "kk", "ky", "ka", "mn",
                     "uz", "tk", "tt", "ug", "ps", "or", "as", "xh", "zu", "nso", "st", "tn", "rw", "so", "ha",
                     "lb", "rm", "sc", "ia", "ie", "la", "an", "sco", "nds", "fur", "lij", "brx", "kok", "mai",
                     "sat", "sd", "ku", "ckb", "hy", "tg"], TWO),
    # zero and one together
    **dict.fromkeys(["fr", "oc", "br", "pt-BR", "fa", "am", "ti", "ln", "mg", "fil", "tl", "wa", "ach", "ak",
                     "jbo", "kab", "mi", "tr-CY"], TWO_ZERO_ONE),
    **dict.fromkeys(["ru", "uk", "be", "sr", "hr", "bs", "sr-Latn"], SLAVIC_EAST),
    "cs": "nplurals=3; plural=(n==1) ? 0 : (n>=2 && n<=4) ? 1 : 2;",
    "sk": "nplurals=3; plural=(n==1) ? 0 : (n>=2 && n<=4) ? 1 : 2;",
    "pl": "nplurals=3; plural=(n==1 ? 0 : n%10>=2 && n%10<=4 && (n%100<10 || n%100>=20) ? 1 : 2);",
    "lt": "nplurals=3; plural=(n%10==1 && n%100!=11 ? 0 : n%10>=2 && (n%100<10 || n%100>=20) ? 1 : 2);",
    "lv": "nplurals=3; plural=(n%10==1 && n%100!=11 ? 0 : n != 0 ? 1 : 2);",
    "ro": "nplurals=3; plural=(n==1 ? 0 : (n==0 || (n%100 > 0 && n%100 < 20)) ? 1 : 2);",
    "sl": "nplurals=4; plural=(n%100==1 ? 0 : n%100==2 ? 1 : n%100==3 || n%100==4 ? 2 : 3);",
    "mk": "nplurals=2; plural=(n%10==1 && n%100!=11) ? 0 : 1;",
    "is": "nplurals=2; plural=(n%10!=1 || n%100==11);",
    "ga": "nplurals=5; plural=(n==1 ? 0 : n==2 ? 1 : n<7 ? 2 : n<11 ? 3 : 4);",
    "gd": "nplurals=4; plural=(n==1 || n==11) ? 0 : (n==2 || n==12) ? 1 : (n > 2 && n < 20) ? 2 : 3;",
    "cy": "nplurals=4; plural=(n==1) ? 0 : (n==2) ? 1 : (n != 8 && n != 11) ? 2 : 3;",
    "mt": "nplurals=4; plural=(n==1 ? 0 : n==0 || (n%100>1 && n%100<11) ? 1 : (n%100>10 && n%100<20) ? 2 : 3);",
    "ar": "nplurals=6; plural=(n==0 ? 0 : n==1 ? 1 : n==2 ? 2 : n%100>=3 && n%100<=10 ? 3 : n%100>=11 ? 4 : 5);",
    "kw": "nplurals=4; plural=(n==1) ? 0 : (n==2) ? 1 : (n == 3) ? 2 : 3;",
    "csb": "nplurals=3; plural=(n==1) ? 0 : n%10>=2 && n%10<=4 && (n%100<10 || n%100>=20) ? 1 : 2;",
}

_NPLURALS = re.compile(r"nplurals\s*=\s*(\d+)")


def plural_forms(lang: str) -> tuple[str, bool]:
    """(Plural-Forms header value, True when it is the fallback because the language is not in the table)."""
    tag = to_bcp47(lang) or lang
    parts = tag.split("-")
    for key in ("-".join(parts[:i]) for i in range(len(parts), 0, -1)):
        if key in _TABLE:
            return _TABLE[key], False
    return FALLBACK, True


def nplurals(header: str) -> int | None:
    """The number of plural forms a Plural-Forms value declares (None when it does not)."""
    m = _NPLURALS.search(header or "")
    return int(m[1]) if m else None


# BCP-47 back to the locale folder names gettext looks up at run time.
_GETTEXT_SCRIPTS = {"zh-Hans": "zh_CN", "zh-Hant": "zh_TW"}
_MODIFIERS = {"Latn": "latin", "Cyrl": "cyrillic", "Arab": "arabic", "Deva": "devanagari"}


def gettext_locale(lang: str) -> str:
    """``pt-BR`` -> ``pt_BR``, ``zh-Hans`` -> ``zh_CN``, ``sr-Latn`` -> ``sr@latin``, ``ca-valencia`` -> ``ca@valencia``."""
    tag = to_bcp47(lang) or lang
    for prefix, name in _GETTEXT_SCRIPTS.items():
        if tag == prefix or tag.startswith(prefix + "-"):
            return name
    parts = tag.split("-")
    base, modifier, region = parts[0], None, None
    for part in parts[1:]:
        if len(part) == 4 and part.isalpha() and part.title() == part:
            modifier = _MODIFIERS.get(part, part.lower())
        elif len(part) == 2 and part.isalpha() or len(part) == 3 and part.isdigit():
            region = part.upper()
        else:
            modifier = part.lower()
    return base + (f"_{region}" if region else "") + (f"@{modifier}" if modifier else "")


def form_sources(singular: str, plural: str, forms: int) -> list[str]:
    """The English text behind each numbered plural form (gettext ``msgstr[i]``, Qt ``numerusform``):
    the singular for form 0, the plural for the others; a one-form language (Japanese, Chinese, ...)
    uses its only form for every n, so it gets the plural."""
    if forms == 1:
        return [plural]
    return [singular] + [plural] * (forms - 1)


def tag_sources(by_tag: dict[str, str], tags: list[str]) -> list[str]:
    """The English text behind each CLDR plural category of the target (Android ``<item quantity>``):
    the source's own text for a category it has (``one``), its ``other`` text for the rest."""
    fallback = by_tag.get("other") or next(iter(by_tag.values()), "")
    return [by_tag.get(tag) or fallback for tag in tags]
