"""Keep placeholders, markup and accelerators intact through a model that may mangle them.

A message such as ``"Delete %(name)s from <i>{0}</i>?\\n"`` is cut into what the model sees and
what it must never touch:

* the text is split at newlines; leading and trailing whitespace of each line is kept aside and
  put back verbatim (``msgfmt --check`` insists that a msgstr starts and ends like its msgid);
* every placeholder (``placeholders.tokens``: printf ``%s``/``%1$s``/``%-5d``, Python ``%(name)s``,
  brace ``{0}``/``{name}``, Qt ``%1``, tags ``<b>``/``<a href=..>``, entities ``&amp;``; plus the
  auto-numbered brace ``{}``) is either kept as it is, when the model's vocabulary has it as one
  piece (``%s``, ``{0}``, ``<b>``, ...), or replaced by such a piece that the message does not
  already use (a *sentinel*: ``%(name)s`` -> ``{0}``), and swapped back after translation;
* keyboard accelerators (``_File``, ``&File``, ``文件(_F)``) are taken out before translation and
  put back on the draft: before the same letter where a word of the draft starts with it (same
  case first), else before the first letter of a word; for Chinese, Japanese and Korean as
  ``(_F)`` after the text, the way their catalogs write them;
* a line with no words (``"%s: %s"``, ``"—"``, a path or a URL) is copied, not translated;
* a glossary term (``glossary.Terms``) found in a line is replaced by a sentinel too, one the line does
  not use, and the sentinel comes back as the term's target. When a line would need more masks than
  the model has (``placeholders.MASKS``), its terms stay text and the draft must spell the target itself.

The final check (:func:`same_placeholders`) compares the finished draft with the source: the same
multiset of placeholders and, for positional-less printf directives, the same order (what
``msgfmt --check-format`` requires of ``c-format`` strings). A draft that fails it is not used, and so is one
where a term's sentinel did not come back exactly as often as it went in (:func:`kept_terms`).
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from ..corpus.clean import ACCEL_AMPERSAND, ACCEL_BRACKET, ACCEL_UNDERSCORE, is_text
from ..placeholders import MASKS, TOKEN, is_sequential, substitute, tokens
from ..tokenizer import PLACEHOLDER_PIECES
from .glossary import Terms

# Sentinels: pieces every interlingua vocabulary has whole, tried in this order.
SENTINELS = ("{0}", "{1}", "{2}", "%1", "%2", "%3")
ATOMIC = frozenset(PLACEHOLDER_PIECES)

_LINE = re.compile(r"(\n)")
_EDGES = re.compile(r"^(\s*)(.*?)(\s*)$", re.S)
_SPACES = re.compile(r"\s+")
_CJK = ("zh", "ja", "ko")
_MASK = "\uE000"  # private-use character standing in for a token while accelerators are looked for


def _sequential(found: list[str]) -> list[str]:
    return [t for t in found if is_sequential(t)]


def same_placeholders(source: str, draft: str, strict: bool = False) -> bool:
    """True when ``draft`` has exactly the placeholders of ``source`` (and printf's %s/%d in the same order)."""
    a, b = tokens(source, strict), tokens(draft, strict)
    return Counter(a) == Counter(b) and _sequential(a) == _sequential(b)


@dataclass
class Accelerator:
    marker: str       # "_" or "&"
    key: str          # the letter it was on, e.g. "F"
    bracketed: bool   # written "(_F)" after the text, the CJK way


@dataclass
class Segment:
    """One line of a message: what the model sees (``text``) and how to rebuild the line around its draft."""
    lead: str
    core: str                        # the original line without its edge whitespace
    trail: str
    text: str | None = None          # protected text for the model; None when the line is copied verbatim
    mapping: dict[str, str] = field(default_factory=dict)   # sentinel -> original placeholder (or term's target)
    accelerator: Accelerator | None = None
    terms: Counter = field(default_factory=Counter)          # term sentinel -> how often it is in ``text``
    loose: list[str] = field(default_factory=list)           # targets of terms left as text (too many masks)


@dataclass
class Protected:
    """A whole message cut into segments and the newlines between them."""
    source: str
    parts: list[Segment | str]       # Segment for each line, "\n" between them
    strict: bool = False             # a C/Python format string: "% d" is a directive even before a letter

    @property
    def texts(self) -> list[str]:
        """What has to go through the model (possibly none)."""
        return [p.text for p in self.parts if isinstance(p, Segment) and p.text is not None]


def _strip_accelerators(text: str) -> tuple[str, Accelerator | None]:
    """``text`` without accelerator marks, and the first one found."""
    found: Accelerator | None = None
    m = ACCEL_BRACKET.search(text)
    if m:
        found = Accelerator(m[1], m[2], True)
        text = text[:m.start()] + text[m.end():]
    for pattern in (ACCEL_UNDERSCORE, ACCEL_AMPERSAND):
        m = pattern.search(text)
        if m:
            found = found or Accelerator(m[1], m[2], False)
            text = pattern.sub("", text)
    return text, found


def _mask(text: str, strict: bool) -> tuple[str, list[str]]:
    """Replace every token by one private-use character so accelerator rules cannot touch placeholders."""
    found: list[str] = []

    def keep(m: re.Match) -> str:
        found.append(m[0])
        return _MASK
    return substitute(text, keep, strict), found


def _unmask(text: str, found: list[str]) -> str:
    pieces = text.split(_MASK)
    return "".join(p + (found[i] if i < len(found) else "") for i, p in enumerate(pieces))


def _term_sentinels(used: set[str], taken: set[str]):
    """Sentinels for terms: the atomic ones left, then ``{3}``, ``{4}``, ... (a model trained with masks reads
    any placeholder as a mask; an older one may spell these in pieces, which :func:`kept_terms` catches)."""
    yield from (s for s in SENTINELS if s not in used and s not in taken)
    n = 3
    while True:
        if f"{{{n}}}" not in used:
            yield f"{{{n}}}"
        n += 1


def _with_terms(masked: str, found: list[str], terms: Terms, used: set[str], taken: set[str],
                segment: Segment) -> tuple[str, list[str]]:
    """``masked`` with each term occurrence masked too, and the list of what each mask stands for."""
    spans = terms.find(masked)
    if not spans:
        return masked, found
    if len(found) + len(spans) > len(MASKS):  # no mask left for every term: they stay text, checked as text
        segment.loose = [target for _, _, target in spans]
        return masked, found
    marks = sorted([(m.start(), m.end(), None) for m in re.finditer(_MASK, masked)] + spans,
                   key=lambda mark: mark[0])
    placeholders, sentinels = iter(found), _term_sentinels(used, taken)
    by_target: dict[str, str] = {}
    out, items, at = [], [], 0
    for start, end, target in marks:
        out.append(masked[at:start] + _MASK)
        at = end
        if target is None:
            items.append(next(placeholders))
            continue
        if target not in by_target:  # one sentinel per target: a term said twice is copied twice
            by_target[target] = next(sentinels)
        sentinel = by_target[target]
        segment.mapping[sentinel] = target
        segment.terms[sentinel] += 1
        items.append(sentinel)
    return "".join(out) + masked[at:], items


def _protect_line(line: str, used: set[str], atomic: frozenset[str], strict: bool, terms: Terms | None) -> Segment:
    lead, core, trail = _EDGES.match(line).groups()  # type: ignore[union-attr]
    segment = Segment(lead, core, trail)
    masked, found = _mask(core.replace(_MASK, ""), strict)
    masked, segment.accelerator = _strip_accelerators(masked)
    if not is_text(_unmask(masked, found)):
        segment.accelerator = None
        return segment  # nothing to translate: copied as it is
    free = [s for s in SENTINELS if s not in used]
    chosen: dict[str, str] = {}
    for original in found:
        if original not in atomic and original not in chosen and free:
            chosen[original] = free.pop(0)
    segment.mapping = {sentinel: original for original, sentinel in chosen.items()}
    found = [chosen.get(o, o) for o in found]
    if terms is not None:
        masked, found = _with_terms(masked, found, terms, used, set(chosen.values()), segment)
    segment.text = _SPACES.sub(" ", _unmask(masked, found)).strip()
    return segment


def protect(text: str, strict: bool = False, atomic: frozenset[str] = ATOMIC, terms: Terms | None = None) -> Protected:
    """Cut ``text`` into lines ready for the model (see the module docstring).

    ``strict``: the text is a C or Python format string (a ``c-format`` flag), so ``% d`` counts as a
    directive even where it runs into a word. ``terms``: the glossary for the target language.
    """
    used = set(TOKEN.findall(text))
    parts: list[Segment | str] = []
    for piece in _LINE.split(text):
        parts.append(piece if piece == "\n" else _protect_line(piece, used, atomic, strict, terms))
    return Protected(text, parts, strict)


def _put_accelerator(draft: str, acc: Accelerator, lang: str, strict: bool) -> str:
    if acc.bracketed or lang.split("-")[0] in _CJK:
        return f"{draft}({acc.marker}{acc.key.upper()})"
    masked, found = _mask(draft, strict)
    starts = [m.start() for m in re.finditer(r"(?<!\w)[^\W\d_]", masked)]
    exact = [i for i in starts if masked[i] == acc.key]
    same = [i for i in starts if masked[i].lower() == acc.key.lower()]
    letters = [m.start() for m in re.finditer(r"[^\W\d_]", masked)]
    at = (exact or same or starts or letters or [None])[0]
    if at is None:
        return draft
    return _unmask(masked[:at] + acc.marker + masked[at:], found)


def restore(protected: Protected, drafts: dict[str, str], lang: str) -> str | None:
    """The finished draft of a message from the model's output for each text, or None when it is unusable.

    ``drafts`` maps each protected text to the model's output. Unusable: a line came back empty, the
    placeholders of the result differ from the source's (:func:`same_placeholders`), or a glossary term
    was not kept (:func:`kept_terms`).
    """
    result = _rebuild(protected, drafts, lang)
    if result is None or not same_placeholders(protected.source, result, protected.strict):
        return None
    return result if kept_terms(protected, drafts) else None


def kept_terms(protected: Protected, drafts: dict[str, str]) -> bool:
    """True when every line's model output has each term sentinel exactly as often as its text, and the
    target of each term left as text (:attr:`Segment.loose`)."""
    for part in protected.parts:
        if isinstance(part, Segment) and part.text is not None and (part.terms or part.loose):
            raw = drafts.get(part.text, "")
            written = Counter(t for t in tokens(raw) if t in part.terms)
            if written != part.terms or any(target not in raw for target in part.loose):
                return False
    return True


def broke_placeholders(protected: Protected, drafts: dict[str, str], lang: str) -> bool:
    """True when :func:`restore` refuses the draft for its placeholders alone (every line came back with words)."""
    result = _rebuild(protected, drafts, lang)
    return result is not None and not same_placeholders(protected.source, result, protected.strict)


def _rebuild(protected: Protected, drafts: dict[str, str], lang: str) -> str | None:
    """The draft with the source's edges, sentinels and accelerators put back; None when a line has no words."""
    out = []
    for part in protected.parts:
        if isinstance(part, str):
            out.append(part)
            continue
        if part.text is None:
            out.append(part.lead + part.core + part.trail)
            continue
        raw = drafts.get(part.text, "")
        strict = protected.strict
        masked, found = _mask(raw, strict)
        masked, _ = _strip_accelerators(masked)  # marks the model made up; ours go back below
        draft = _SPACES.sub(" ", _unmask(masked, found)).strip()
        if not substitute(draft, lambda m: "", strict).strip():
            return None  # nothing but placeholders (or nothing) came back for a line with words
        draft = substitute(draft, lambda m: part.mapping.get(m[0], m[0]), strict)
        if part.accelerator:
            draft = _put_accelerator(draft, part.accelerator, lang, strict)
        out.append(part.lead + draft + part.trail)
    return "".join(out)
