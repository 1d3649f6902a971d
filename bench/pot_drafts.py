"""Issue 17's check on a real POT: broken placeholders and glossary terms among non-empty drafts.

    python bench/pot_drafts.py --model runs/base60 --data data/corpus.test.jsonl --to fr,de,es --n 500
        [--glossary bench/glossary_terms.csv] [--out pot-drafts]

Builds a POT of ``--n`` distinct held-out English messages of the test split (the split is by meaning, so none
was trained on): every one that has a placeholder first, then those that hold a glossary term, then the
rest, each group by id. Runs ``interlingua translate-file --glossary`` on it once per language (so a language's
figures are printed as soon as it is done), then checks the written PO files independently of translate-file's
own check: re-read with polib, every non-empty msgstr must hold the msgid's placeholders
(``placeholders.tokens``) as the same multiset with printf's sequential directives in the same order, and the
target of every glossary term found in the msgid (outside placeholders), as often as the term occurs.
Also runs ``msgfmt --check --use-fuzzy`` on each output where msgfmt is installed, and prints the share left
empty and why (translate-file's report line).
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import polib

from glossary_terms import glossary_arguments  # bench/ is the script's folder, first on sys.path
from interlingua.corpus.formats import ROW_ID, read_corpus
from interlingua.localize.glossary import load_glossary
from interlingua.placeholders import is_sequential, substitute, tokens

_ACCELERATOR = re.compile(r"[_&](?=\w)|\(_\w\)")


def build_pot(data: str, n: int, has_term) -> polib.POFile:
    rows = sorted((r for r in read_corpus(data) if r.get("en", "").strip()), key=lambda r: r[ROW_ID])
    seen, groups = set(), ([], [], [])
    for row in rows:
        text = row["en"]
        if text in seen:
            continue
        seen.add(text)
        groups[0 if tokens(text) else 1 if has_term(text) else 2].append(text)
    pot = polib.POFile()
    pot.metadata = {"Project-Id-Version": "held-out", "Content-Type": "text/plain; charset=UTF-8",
                    "Content-Transfer-Encoding": "8bit", "MIME-Version": "1.0"}
    for text in (groups[0] + groups[1] + groups[2])[:n]:
        # c-format where it reads as printf, so msgfmt --check-format checks the drafts' directives too
        found = tokens(text)
        printf = any(is_sequential(t) for t in found) and not any(re.fullmatch(r"%\d+", t) for t in found)
        python = any(t.startswith("%(") for t in found)
        flags = ["python-format"] if python else ["c-format"] if printf else []
        pot.append(polib.POEntry(msgid=text, msgstr="", flags=flags))
    return pot


def broken_placeholders(source: str, draft: str) -> bool:
    a, b = tokens(source), tokens(draft)
    return Counter(a) != Counter(b) or [t for t in a if is_sequential(t)] != [t for t in b if is_sequential(t)]


def broken_terms(source: str, draft: str, terms) -> list[str]:
    outside = substitute(source, lambda m: " " * len(m[0]))  # a term inside a placeholder is no term
    needed = Counter(target for _, _, target in terms.find(_ACCELERATOR.sub("", outside)))
    plain = _ACCELERATOR.sub("", draft)
    return [t for t, k in needed.items() if plain.count(t) < k]


def main() -> None:
    parser = glossary_arguments(__doc__.splitlines()[0], n=500)
    parser.add_argument("--out", default="pot-drafts")
    args = parser.parse_args()
    langs = args.to.split(",")
    glossary = load_glossary(args.glossary)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    pot = build_pot(args.data, args.n, lambda text: glossary.terms(langs[0]).find(text))
    pot.save(str(out / "heldout.pot"))
    with_ph = sum(1 for e in pot if tokens(e.msgid))
    print(f"{len(pot)} held-out English messages ({with_ph} with placeholders, "
          f"{sum(1 for e in pot if glossary.terms(langs[0]).find(e.msgid))} with a term of {args.glossary}); "
          f"model {args.model}", flush=True)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    for lang in langs:
        start = time.time()
        run = subprocess.run([sys.executable, "-m", "interlingua", "translate-file", str(out / "heldout.pot"),
                              "--model", args.model, "--to", lang, "--out", str(out), "--glossary", args.glossary,
                              "--overwrite", "--quiet"], capture_output=True, text=True, env=env)
        if run.returncode:
            print(f"{lang}: translate-file failed: {run.stderr.strip()}", flush=True)
            continue
        report = " | ".join(line for line in run.stdout.splitlines() if line.strip())
        path = out / lang / "LC_MESSAGES" / "heldout.po"
        terms = glossary.terms(lang)
        entries = [e for e in polib.pofile(str(path)) if e.msgid]
        drafts = [e for e in entries if e.msgstr]
        ph = [e for e in drafts if broken_placeholders(e.msgid, e.msgstr)]
        tm = [e for e in drafts if broken_terms(e.msgid, e.msgstr, terms)]
        with_terms = [e for e in drafts if terms.find(substitute(e.msgid, lambda m: " " * len(m[0])))]
        msgfmt = "not installed"
        if shutil.which("msgfmt"):
            check = subprocess.run(["msgfmt", "--check", "--use-fuzzy", "-o", "/dev/null", str(path)],
                                   capture_output=True, text=True)
            msgfmt = "passes" if check.returncode == 0 else "FAILS: " + check.stderr.strip().replace("\n", " / ")
        print(f"{lang}: {len(drafts)}/{len(entries)} non-empty drafts ({sum(1 for e in drafts if tokens(e.msgid))} "
              f"with placeholders, {len(with_terms)} with terms): {len(ph)} broken placeholders, {len(tm)} broken "
              f"terms; {len(entries) - len(drafts)} left empty ({(len(entries) - len(drafts)) / len(entries):.1%}); "
              f"msgfmt --check --use-fuzzy {msgfmt}; {time.time() - start:.0f} s", flush=True)
        print(f"  translate-file: {report}", flush=True)
        for e in (ph + tm)[:5]:
            print(f"  broken: {e.msgid!r} -> {e.msgstr!r}", flush=True)
        for e in [e for e in entries if not e.msgstr][:5]:
            print(f"  empty: {e.msgid!r}", flush=True)


if __name__ == "__main__":
    main()
