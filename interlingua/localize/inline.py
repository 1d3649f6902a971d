"""Inline codes of XLIFF and TMX segments (``<x/>``, ``<ph>``, ``<g>``, ``<pc>``, ...) through the model exactly.

translate-toolkit's ``unit.source`` flattens a segment to its text and drops the codes, so the
segment is read here from its XML: each code becomes a stand-in tag the placeholder rules already
protect (``<il0/>`` for a code such as ``<x id="1"/>`` or ``<ph>%s</ph>``, ``<il1>``…``</il1>``
around the translatable content of a paired one such as ``<g>``/``<pc>``/``<mrk>``), and text is
XML-escaped, so ``&amp;`` and ``&lt;`` are kept as the entities they are. After translation the
stand-ins are replaced by copies of the source's own elements, so a code comes back byte for byte
(id, attributes, native content); a draft whose stand-ins are missing, extra or badly nested is
refused (the caller leaves that entry empty).
"""
from __future__ import annotations

import copy
import re
from xml.sax.saxutils import escape

from lxml import etree

# Elements whose content is translatable text (kept as an open/close pair around it); every other
# inline element is a code, copied whole.
PAIRED = frozenset({"g", "pc", "mrk"})
_STAND_IN = re.compile(r"^il(\d+)$")
_XML_FORBIDDEN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def to_text(element: etree._Element) -> tuple[str, list[etree._Element]]:
    """The element's content as text with stand-in tags, and the source elements they stand for (by index)."""
    codes: list[etree._Element] = []

    def walk(node: etree._Element) -> str:
        out = [escape(node.text or "")]
        for child in node:
            if not isinstance(child.tag, str):  # a comment or processing instruction inside a segment
                out.append(escape(child.tail or ""))
                continue
            index = len(codes)
            codes.append(child)
            if _local(child.tag) in PAIRED:
                out.append(f"<il{index}>{walk(child)}</il{index}>")
            else:
                out.append(f"<il{index}/>")
            out.append(escape(child.tail or ""))
        return "".join(out)
    return walk(element), codes


def plain(element: etree._Element) -> str:
    """The segment's text as a reader sees it (codes dropped): what a memory or a corpus matches on."""
    return "".join(element.itertext())


def build(draft: str, codes: list[etree._Element]) -> etree._Element | None:
    """``draft`` as a detached ``<seg>`` with the stand-ins swapped back for copies of the source's elements;
    None when the draft is not well-formed or its stand-ins differ from the source's (missing, extra, invented)."""
    try:
        parsed = etree.fromstring(f"<seg>{_XML_FORBIDDEN.sub('', draft)}</seg>".encode("utf-8"))
    except etree.XMLSyntaxError:
        return None
    nodes = [node for node in parsed.iter() if node is not parsed]
    seen = []
    for node in nodes:
        m = _STAND_IN.match(node.tag) if isinstance(node.tag, str) else None
        if m is None or int(m[1]) >= len(codes):
            return None  # markup (or a comment) the model made up
        seen.append(int(m[1]))
    if sorted(seen) != list(range(len(codes))):
        return None
    for node in nodes:
        original = codes[int(node.tag[2:])]
        if _local(original.tag) in PAIRED:  # the source's tag and attributes, the draft's content
            node.tag = original.tag
            node.attrib.update(original.attrib)
        else:  # a code: the source's element whole
            clone = copy.deepcopy(original)
            clone.tail = node.tail
            node.getparent().replace(node, clone)
    return parsed


def put(target: etree._Element, built: etree._Element) -> None:
    """Make ``built``'s content (from :func:`build`) the content of ``target``."""
    for child in list(target):
        target.remove(child)
    target.text = built.text
    for child in list(built):
        target.append(child)
