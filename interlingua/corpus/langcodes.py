"""Locale names (gettext folders, TMX ``xml:lang``, PO ``Language:``) to BCP-47 tags.

Every language code inside interlingua is a BCP-47 string: ``pt_BR`` -> ``pt-BR``,
``zh_CN`` -> ``zh-Hans``, ``sr@latin`` -> ``sr-Latn``.
"""
from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

from ..errors import InterlinguaError

# Chinese is written in two scripts; the script, not the region, is what a reader needs.
_CHINESE = {"zh_CN": "zh-Hans", "zh_SG": "zh-Hans", "zh_TW": "zh-Hant", "zh_HK": "zh-Hant", "zh_MO": "zh-Hant"}
# gettext's @modifiers that name a script (the others, e.g. @euro, say nothing about text).
_SCRIPT_MODIFIERS = {"latin": "Latn", "cyrillic": "Cyrl", "Latn": "Latn", "Cyrl": "Cyrl", "arabic": "Arab",
                     "devanagari": "Deva", "ijekavian": None, "ijekavianlatin": "Latn"}
# gettext modifiers that are BCP-47 variants rather than scripts.
_VARIANT_MODIFIERS = {"valencia": "valencia"}
# ISO 639 codes withdrawn in 1989 that Java's Locale still writes (and so Android's values-in, values-iw folders
# and Java locales such as in_ID): read as today's codes, so a user's iw_IL file fills the corpus's he column.
_WITHDRAWN = {"in": "id", "iw": "he", "ji": "yi"}
_JAVA_CODES = {new: old for old, new in _WITHDRAWN.items()}
# language, script, region, encoding, then a gettext @modifier or (the same, as to_bcp47 writes it) a BCP-47 variant
_LOCALE = re.compile(r"^([A-Za-z]{2,3})(?:[_-]([A-Za-z]{4}))?(?:[_-]([A-Za-z]{2}|\d{3}))?(?:\.[\w-]+)?"
                     r"(?:@(\w+)|-([a-z\d]{5,8}))?$")


def to_bcp47(locale: str) -> str | None:
    """Return the BCP-47 tag for a locale name, or None when it is not a language (``C``, ``POSIX``)."""
    name = locale.strip()
    if not name or name.upper() in {"C", "POSIX"}:
        return None
    if "." in name:  # encodings such as pl.UTF-8 or sk.cp1250 say nothing about the language
        base, _, rest = name.partition(".")
        name = base + (("@" + rest.split("@", 1)[1]) if "@" in rest else "")
    plain = name.split("@", 1)[0].replace("-", "_")
    if plain in _CHINESE and "@" not in name:
        return _CHINESE[plain]
    m = _LOCALE.match(name)
    if not m:
        return None
    lang, script, region, modifier, variant_tag = m.groups()
    modifier = modifier or variant_tag  # ca-valencia reads back as ca@valencia wrote it
    lang = _WITHDRAWN.get(lang.lower(), lang.lower())
    if lang == "zh" and not script and region:
        return _CHINESE.get(f"zh_{region.upper()}", f"zh-{region.upper()}")
    variant = _VARIANT_MODIFIERS.get(modifier or "")
    if modifier and not variant:
        mod_script = _SCRIPT_MODIFIERS.get(modifier, None)
        if modifier not in _SCRIPT_MODIFIERS:
            return None  # e.g. en@quot, en@boldquot: typographic variants of English, not languages
        script = script or mod_script
    tag = lang
    if script:
        tag += "-" + script.title()
    if region:
        tag += "-" + region.upper()
    if variant:
        tag += "-" + variant
    return tag


def java_language(tag: str) -> str:
    """A BCP-47 tag with its language as Java's Locale and Android's resources name it (``id-ID`` -> ``in-ID``,
    ``he`` -> ``iw``): Android looks resources up by those codes on every API level (ResourcesImpl adjusts the
    device's locale to them), so a values-id folder is not found."""
    lang, sep, rest = tag.partition("-")
    return _JAVA_CODES.get(lang, lang) + sep + rest


# The region where a language is at home, from CLDR's likely subtags (de -> de_Latn_DE), for languages
# whose code is not the region's own (de_DE and pt_PT need no entry). Left out: pt (CLDR says Brazil,
# but gettext's bare "pt" is Portugal), zh (its script matters, not its region) and ar, es
# (their other regions are real variants). en is in: gettext's msgids, the corpus's "en", are US English,
# so a memory's en-US (as Trados writes EN-US) is that column; en-GB stays a variant of its own.
_HOME_REGION = {"en": "US", "sv": "SE", "cs": "CZ", "sl": "SI", "da": "DK", "et": "EE", "el": "GR", "ko": "KR", "ja": "JP",
                "he": "IL", "fa": "IR", "nb": "NO", "nn": "NO", "sr": "RS", "uk": "UA", "vi": "VN", "ka": "GE",
                "ms": "MY", "my": "MM", "bs": "BA", "gl": "ES", "bn": "BD", "si": "LK", "jv": "ID", "su": "ID",
                "ug": "CN", "ca": "ES", "eu": "ES", "sq": "AL", "hi": "IN", "ta": "IN", "ur": "PK", "hy": "AM",
                "be": "BY", "kk": "KZ", "km": "KH", "lo": "LA", "ne": "NP", "sw": "TZ", "af": "ZA", "cy": "GB",
                "ga": "IE", "gd": "GB", "oc": "FR", "tg": "TJ", "ky": "KG", "am": "ET", "ps": "AF"}


def catalog_language(locale: str) -> str | None:
    """The corpus language of a gettext catalog's locale: ``to_bcp47`` less a region that only says where
    the language is at home. WordPress names its catalogs ``de_DE``, ``sv_SE``, ``pt_PT`` where other
    programs write ``de``, ``sv``, ``pt``: both must fill one column, not two."""
    tag = to_bcp47(locale)
    if tag is None:
        return None
    *head, last = tag.split("-")
    if head and len(last) == 2 and last.isupper() and (last == head[0].upper() or _HOME_REGION.get(head[0]) == last):
        return "-".join(head)
    return tag


def split_languages(value: str | list[str]) -> list[str]:
    """``"fr, de"`` or ``["fr", "de"]`` -> ``["fr", "de"]`` (empty items dropped)."""
    items = value.split(",") if isinstance(value, str) else list(value)
    return [item.strip() for item in items if item.strip()]


def resolve_language(spelling: str, known: list[str]) -> str | None:
    """The one code of ``known`` that ``spelling`` names, or None: ``pt_BR``, ``pt-BR`` and ``PT-br`` all name
    ``pt-BR``, and ``en-US`` or ``fr_FR`` name ``en`` and ``fr`` where those are known, as the corpus files them
    (``catalog_language``). Every place that takes a language from a user (translate, translate-file, serve, the
    Python API) asks this function, so a spelling means the same everywhere."""
    if spelling in known:
        return spelling
    for code in (to_bcp47(spelling), catalog_language(spelling)):
        if code in known:
            return code
    return None


def resolve_languages(value: str | list[str], known: list[str], role: str = "target") -> list[str]:
    """Languages as the model's codes (``pt_BR`` -> ``pt-BR``, see ``resolve_language``), without repeats;
    [] when none are given.

    An unknown language is an error that names the ``role`` ("target", "source") and the languages the model has.
    """
    result: list[str] = []
    for lang in split_languages(value):
        code = resolve_language(lang, known)
        if code is None:
            raise InterlinguaError(f"unknown {role} language '{lang}' (this model has: {', '.join(known)})")
        if code not in result:
            result.append(code)
    return result


ISO_639 = Path("/usr/share/iso-codes/json/iso_639-3.json")  # Debian's iso-codes, which gettext itself uses


@lru_cache(maxsize=1)
def _iso_names() -> dict[str, str]:
    try:
        entries = json.loads(ISO_639.read_text(encoding="utf-8"))["639-3"]
    except (OSError, ValueError, KeyError):
        return {}
    names = {e["alpha_3"]: e["name"] for e in entries if "alpha_3" in e and "name" in e}
    names.update({e["alpha_2"]: e["name"] for e in entries if "alpha_2" in e and "name" in e})
    return names


def language_name(code: str) -> str:
    """A readable English name for a BCP-47 code: ``pt-BR`` -> ``Portuguese (BR)``; the code itself
    where the machine has no iso-codes table (``apt-get install iso-codes``) or the table lacks it."""
    base, _, rest = code.partition("-")
    name = _iso_names().get(base.lower())
    if name is None:
        return code
    return f"{name} ({rest})" if rest else name
