"""Glossary terms through a trained model: how many drafts keep them, and what masking them costs.

    python bench/glossary_terms.py --model runs/base60 --data data/corpus.test.jsonl [--to fr,de,es] [--n 60]
        [--glossary bench/glossary_terms.csv]

Takes the first ``--n`` held-out English messages (by id) that hold a term of the glossary and have a
reference in every target, writes them as a POT, and runs translate-file on it twice, without and with
``--glossary``. Prints, per language: drafts with terms, those left empty for a term (not honoured), those
left empty for placeholders in each run, how often the reference itself uses the glossary's target (is
the glossary the translators' usage?) and how often the plain draft already did, and chrF against the
references on the entries both runs filled, also on those whose reference uses the glossary's targets
(there a term as a mask can only help the term itself: what changes is the sentence around it).
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import polib
import torch

from interlingua import Translator
from interlingua.corpus.formats import ROW_ID, read_corpus
from interlingua.evaluate.metrics import chrf
from interlingua.localize import translate_file
from interlingua.localize.glossary import load_glossary


def drafts(out: Path, lang: str) -> dict[str, str]:
    return {e.msgid: e.msgstr for e in polib.pofile(str(out / lang / "LC_MESSAGES" / "terms.po")) if e.msgid}


def glossary_arguments(description: str, n: int) -> argparse.ArgumentParser:
    """The options the glossary benches share (this one and pot_drafts.py): model, held-out data, languages,
    how many messages, and the glossary (the bench's own by default)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--model", required=True)
    parser.add_argument("--data", required=True, help="held-out multi-way rows (e.g. data/corpus.test.jsonl)")
    parser.add_argument("--to", default="fr,de,es")
    parser.add_argument("--n", type=int, default=n)
    parser.add_argument("--glossary", default=str(Path(__file__).with_name("glossary_terms.csv")))
    return parser


def main() -> None:
    args = glossary_arguments(__doc__.splitlines()[0], n=60).parse_args()
    torch.set_num_threads(1)
    langs = args.to.split(",")
    glossary = load_glossary(args.glossary)
    terms = {lang: glossary.terms(lang) for lang in langs}
    rows = sorted((r for r in read_corpus(args.data) if "en" in r and all(lang in r for lang in langs)
                   and "\n" not in r["en"] and terms[langs[0]].find(r["en"])), key=lambda r: r[ROW_ID])[:args.n]
    translator = Translator.load(args.model)
    with tempfile.TemporaryDirectory() as tmp:
        pot = polib.POFile()
        pot.metadata = {"Content-Type": "text/plain; charset=UTF-8"}
        for row in rows:
            pot.append(polib.POEntry(msgid=row["en"], msgstr=""))
        pot.save(str(Path(tmp) / "terms.pot"))
        plain = translate_file(Path(tmp) / "terms.pot", translator, langs, Path(tmp) / "plain", progress=False)
        kept = translate_file(Path(tmp) / "terms.pot", translator, langs, Path(tmp) / "kept", progress=False,
                              glossary=glossary)
        print(f"{len(rows)} held-out English messages with a term of {args.glossary}; model {args.model}")
        for lang in langs:
            a, b = drafts(Path(tmp) / "plain", lang), drafts(Path(tmp) / "kept", lang)
            c_plain, c_kept = plain["languages"][lang], kept["languages"][lang]
            targets = {row["en"]: [t for _, _, t in terms[lang].find(row["en"])] for row in rows}
            ref = {row["en"]: row[lang] for row in rows}
            uses = lambda text, msg: all(t.lower() in text.lower() for t in targets[msg])  # noqa: E731
            both = [m for m in ref if a.get(m) and b.get(m)]
            agree = [m for m in both if uses(ref[m], m)]  # where the glossary is the translators' usage
            print(f"{lang}: {c_kept['with_terms']} drafts with terms, {c_kept['left_empty_terms']} left empty for a "
                  f"term ({c_kept['filled']} filled); left empty for placeholders: {c_plain['left_empty_placeholders']} "
                  f"without the glossary, {c_kept['left_empty_placeholders']} with; the reference uses every "
                  f"glossary target in {sum(uses(ref[m], m) for m in ref)}/{len(ref)}, the plain draft in "
                  f"{sum(uses(a[m], m) for m in a if a[m])}/{sum(1 for m in a if a[m])}, the glossary draft in "
                  f"{sum(uses(b[m], m) for m in b if b[m])}/{sum(1 for m in b if b[m])}; chrF on the {len(both)} "
                  f"filled by both: {chrf([a[m] for m in both], [ref[m] for m in both]):.1f} without, "
                  f"{chrf([b[m] for m in both], [ref[m] for m in both]):.1f} with; on the {len(agree)} of them whose "
                  f"reference uses the glossary's targets: {chrf([a[m] for m in agree], [ref[m] for m in agree]):.1f} "
                  f"without, {chrf([b[m] for m in agree], [ref[m] for m in agree]):.1f} with")
        for m in rows[:8]:
            print("  ", m["en"], "|", drafts(Path(tmp) / "plain", langs[0]).get(m["en"]), "|",
                  drafts(Path(tmp) / "kept", langs[0]).get(m["en"]))


if __name__ == "__main__":
    main()
