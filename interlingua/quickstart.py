"""`interlingua quickstart`: the whole idea on this machine's own data, in one command.

corpus (gettext catalogs) -> train a small model within a time budget -> show held-out
translations, a zero-shot pair beside its pivot through English, and a cross-lingual similarity.
"""
from __future__ import annotations

import logging
import re
import shlex
from pathlib import Path

from .checkpoint import read_json
from .config import RunConfig, load_config
from .errors import Interrupted

log = logging.getLogger("interlingua.quickstart")


def build_default_corpus(corpus: Path) -> None:
    from .corpus.harvest import build_corpus
    log.info("1/3 harvesting the gettext catalogs of this machine into %s", corpus)
    rows, stats, _ = build_corpus(corpus)
    log.info("    %d meanings from %d catalogs", len(rows), stats.catalogs)


def quickstart(workdir: Path, minutes: float = 11.0, config_name: str = "small", overwrite: bool = False) -> Path:
    from .api import Translator
    from .corpus.split import load_split
    from .evaluate.metrics import chrf
    from .train import train

    corpus, run = workdir / "corpus.jsonl", workdir / "model"
    if not corpus.exists():
        build_default_corpus(corpus)
    else:
        log.info("1/3 using the corpus already built at %s", corpus)
    latest = run / "latest.json"
    stopped = (run / "config.json").exists() and (not latest.exists() or read_json(latest)["metrics"].get("partial"))
    try:
        if stopped and not overwrite:  # interrupted (Ctrl-C, a kill): go on from its last checkpoint
            log.info("2/3 %s was stopped before the end; resuming it (pass --overwrite to start again)", run)
            config = RunConfig.from_dict(read_json(run / "config.json"), str(run / "config.json"))
            config.train.max_minutes = minutes
            train(corpus, run, config, resume=True)
        elif latest.exists() and not overwrite:
            log.info("2/3 %s is already trained; showing it (pass --overwrite to train again)", run)
        else:  # a folder at run that is not a run is refused, never emptied
            log.info("2/3 training a %s model for %.0f minutes (progress below)", config_name, minutes)
            train(corpus, run, load_config(config_name, [f"max_minutes={minutes}"]), overwrite=True)
    except Interrupted as exc:
        raise Interrupted(f"interrupted during training, checkpoint saved; resume with: interlingua quickstart "
                          f"--workdir {shlex.quote(str(workdir))}", exc.exit_code) from None

    log.info("3/3 what the model does on meanings it never saw in training")
    translator = Translator.load(run)
    languages = translator.languages
    others = [lang for lang in languages if lang != "en"]
    test = load_split(corpus, "test")
    # Show plain sentences (no format strings or identifiers), which a reader can judge at a glance.
    plain = [r for r in test if re.fullmatch(r"[A-Z][A-Za-z ,'-]+[.?!]?", r["en"]) and 2 <= len(r["en"].split()) <= 8]
    full = [r for r in plain if all(lang in r for lang in languages)][:4]
    shown = others[:3]
    print("\n== English into several languages (held-out test meanings) ==")
    for row in full:
        out = translator.translate([row["en"]], to=shown)
        print(f"en: {row['en']}")
        for lang in shown:
            print(f"  {lang:>8}: {out[lang][0]}    [reference: {row[lang]}]")

    src, tgt = others[0], others[1]
    pair = sorted((r for r in test if src in r and tgt in r), key=lambda r: r not in plain)[:200]
    direct = translator.translate([r[src] for r in pair], to=tgt)
    pivot = translator.translate([r[src] for r in pair], to=tgt, pivot="en")
    refs = [r[tgt] for r in pair]
    print(f"\n== Zero-shot {src}→{tgt}: this pair was never seen together in training ==")
    for r, d, p in list(zip(pair, direct, pivot))[:3]:
        print(f"{src}: {r[src]}\n  direct {tgt}: {d}\n  via en {tgt}: {p}\n  reference: {r[tgt]}")
    print(f"chrF on {len(pair)} test meanings: zero-shot {chrf(direct, refs):.1f}, pivot through English "
          f"{chrf(pivot, refs):.1f}")

    print("\n== One thought, many languages: cosine similarity of sentence vectors ==")
    a, b = full[0] if full else test[0], full[1] if len(full) > 1 else test[1]
    pairs = [(a["en"], a.get(src, a["en"])), (a["en"], b.get(src, b["en"]))]
    for (x, y), score in zip(pairs, translator.similarity([p[0] for p in pairs], [p[1] for p in pairs])):
        print(f"{score:+.3f}  '{x}'  ~  '{y}'")
    print(f"\nRun folder: {run}\nNext: interlingua translate --model {run} --to {','.join(shown)} \"Open the file\"\n"
          f"      interlingua embed --model {run} --in sentences.txt --out vectors.npy")
    return run
