"""What a placeholder is, and the masks that carry one through the model.

One owner for both questions. The corpus cleaner (``corpus/clean.py``), the localiser's protection
(``localize/protect.py``), the training data (``data.py``), the translator (``api.py``) and the
placeholder measure (``evaluate/placeholders.py``) all read placeholders with :func:`tokens`.

**Masking** (the field's placeholder/inline-tag masking: OpenNMT-py's transforms, Crego et al. 2016):
every placeholder of a source is replaced by an indexed mask, ``⦅ph0⦆``, ``⦅ph1⦆``, ... numbered by
order of appearance, each one piece of the vocabulary. In training the target's placeholders get the
masks of the same placeholders in the source, so the model learns to copy a handful of mask pieces
instead of spelling ``%(name)s`` or ``<a href="...">``; at translation time the masks in the output
are replaced by the source's own placeholders, and search (``search.MaskConstraint``) makes sure each
mask of the source comes out exactly once.
"""
from __future__ import annotations

import re
from collections import Counter, defaultdict

# printf (%s, %d, %1$s, %-10.3lf, %%), C99's <inttypes.h> macros as gettext writes them in a catalog
# (%<PRIu64>, %08<PRIx64>: xgettext's spelling of the source's "%" PRIu64; the source spelling itself,
# quotes and all, never reaches a catalog and is not one), Python (%(name)s), brace ({0}, {name},
# {name!r:>10}), Qt (%1), and simple markup (<b>, </b>, <br/>, &amp;). They must survive translation verbatim.
PLACEHOLDER = re.compile(
    r"%(?:\d+\$)?[-+ #0']*(?:\d+|\*)?(?:\.(?:\d+|\*))?(?:hh|h|ll|l|L|q|j|z|t|I64|I32)?[diouxXeEfFgGaAcspnm%]"
    r"|%(?:\d+\$)?[-+ #0']*(?:\d+|\*)?(?:\.(?:\d+|\*))?<PRI[diouxX](?:\d+|LEAST\d+|FAST\d+|MAX|PTR)>"
    r"|%\([A-Za-z_][\w.-]*\)[-+ #0]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa%]"
    r"|%\d+"
    r"|\{[A-Za-z_\d][\w.\[\]]*(?:![rsa])?(?::[^{}]*)?\}"
    r"|</?[A-Za-z][A-Za-z0-9]*(?:\s+[^<>]*)?/?>"
    r"|&(?:[A-Za-z]+|#\d+|#x[0-9A-Fa-f]+);"
)
# PLACEHOLDER plus Python's auto-numbered "{}" (it is a placeholder too; "{{" is an escaped brace).
TOKEN = re.compile(PLACEHOLDER.pattern + r"|\{\}")
_PROSE_PERCENT = re.compile(r"% [-+#0']*[A-Za-z]$")

# Indexed masks, single pieces of every vocabulary trained with masking. A message with more
# placeholders than masks keeps the extra ones as text (none of the 1,003 test meanings of this
# machine's corpus has more than 9).
MASKS = tuple(f"⦅ph{i}⦆" for i in range(16))
_MASK = re.compile(r"⦅ph(\d+)⦆")


def matches(text: str, strict: bool = False) -> list[re.Match]:
    """Placeholder matches; unless ``strict``, a printf directive with the space flag that runs into a word
    ("100% done" reads as "% d") is prose, not a placeholder. ``strict``: a C or Python format string."""
    found = []
    for m in TOKEN.finditer(text):
        if not strict and _PROSE_PERCENT.match(m[0]) and re.match(r"\w", text[m.end():m.end() + 1]):
            continue
        found.append(m)
    return found


def tokens(text: str, strict: bool = False) -> list[str]:
    """The placeholders of ``text`` in order of appearance."""
    return [m[0] for m in matches(text, strict)]


def substitute(text: str, replace, strict: bool = False) -> str:
    """``text`` with every placeholder match replaced by ``replace(match)``."""
    out, at = [], 0
    for m in matches(text, strict):
        out += [text[at:m.start()], replace(m)]
        at = m.end()
    return "".join(out) + text[at:]


def is_sequential(placeholder: str) -> bool:
    """A printf directive whose argument is taken by position in the argument list (not %%, %1$s, %(name)s):
    these must keep their order (``msgfmt --check-format`` rejects a reordered ``c-format`` string)."""
    return (placeholder.startswith("%") and placeholder != "%%" and not re.match(r"%\d+(\$|$)", placeholder)
            and not placeholder.startswith("%("))


def mask(text: str, order: list[int] | None = None) -> tuple[str, list[str]]:
    """``text`` with its first ``len(MASKS)`` placeholders replaced by masks, and the placeholders replaced.

    The i-th placeholder gets ``MASKS[order[i]]`` (default: ``MASKS[i]``, order of appearance).
    """
    found: list[str] = []

    def put(m: re.Match) -> str:
        i = len(found)
        if i >= len(MASKS):
            return m[0]
        found.append(m[0])
        return MASKS[order[i] if order else i]
    return substitute(text, put), found


def unmask(text: str, originals: list[str]) -> str:
    """``text`` with each mask ``⦅phi⦆`` replaced by ``originals[i]`` (a mask with no original is dropped)."""
    return _MASK.sub(lambda m: originals[int(m[1])] if int(m[1]) < len(originals) else "", text)


def drop_invented(text: str, allowed: list[str]) -> str:
    """``text`` without the placeholders that are not in ``allowed`` (a multiset): a model's output may spell
    one (``%3$s``, ``{count}``) that its masked source never had; masks are not placeholders here."""
    left = Counter(allowed)
    dropped = False

    def keep(m: re.Match) -> str:
        nonlocal dropped
        if left[m[0]] > 0:
            left[m[0]] -= 1
            return m[0]
        dropped = True
        return ""
    text = substitute(text, keep)
    return re.sub(r" {2,}", " ", text).strip() if dropped else text


def target_order(source: list[str], target: list[str]) -> list[int] | None:
    """For a training pair, the mask index of each target placeholder: that of the same placeholder in the
    source (the k-th ``%s`` of the target takes the k-th ``%s`` of the source's mask, so printf order is kept).

    None when the two do not hold the same placeholders: such a pair keeps its text, since a mask in
    the target with no counterpart in the source (or the reverse) would teach the model to invent or
    drop one, which translation then forbids anyway.
    """
    source, target = source[:len(MASKS)], target[:len(MASKS)]
    if Counter(source) != Counter(target):
        return None
    slots: dict[str, list[int]] = defaultdict(list)
    for i, placeholder in enumerate(source):
        slots[placeholder].append(i)
    return [slots[placeholder].pop(0) for placeholder in target]
