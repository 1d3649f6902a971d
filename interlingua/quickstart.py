"""`interlingua quickstart`: the whole idea on this machine's own data, in one command.

corpus (gettext catalogs) -> train a small model for a fixed number of steps -> show held-out
translations, a zero-shot pair beside its pivot through English, and a cross-lingual similarity.
"""
from __future__ import annotations

import logging
import random
import re
import shlex
from pathlib import Path

from .files import read_json
from .config import load_config
from .errors import InterlinguaError, Interrupted

log = logging.getLogger("interlingua.quickstart")
# Measured wall time of each preset's steps on the development machine (2 idle cores): docs/training.md.
IDLE_ESTIMATE = {"small": "12 minutes", "tiny": "seconds"}


def build_default_corpus(corpus: Path) -> None:
    from .corpus.harvest import build_corpus
    log.info("1/3 harvesting the gettext catalogs of this machine into %s", corpus)
    rows, stats, _ = build_corpus(corpus)
    log.info("    %d meanings from %d catalogs", len(rows), stats.catalogs)


# Below this held-out chrF a model's drafts are mostly noise: say so rather than let them pass for its best.
WEAK_CHRF = 15.0


def quickstart(workdir: Path, steps: int | None = None, config_name: str = "small", overwrite: bool = False,
               max_minutes: float = 0.0) -> Path:
    from .api import Translator
    from .corpus.split import load_split
    from .evaluate.metrics import chrf
    from .train import resume_config, train, was_stopped

    corpus, run = workdir / "corpus.jsonl", workdir / "model"
    if not corpus.exists():
        build_default_corpus(corpus)
    else:
        log.info("1/3 using the corpus already built at %s", corpus)
    try:
        if was_stopped(run) and not overwrite:  # interrupted (Ctrl-C, a kill): go on from its last checkpoint
            log.info("2/3 %s was stopped before the end; resuming it (pass --overwrite to start again)", run)
            train(corpus, run, resume_config(run), resume=True)
        elif (run / "latest.json").exists() and not overwrite:
            log.info("2/3 %s is already trained; showing it (pass --overwrite to train again)", run)
        else:  # a folder at run that is not a run is refused, never emptied
            # A fixed amount of work, not of time: on a busy machine the run takes longer, not learns less.
            overrides = [f"max_minutes={max_minutes}"] + ([f"max_steps={steps}"] if steps else [])
            config = load_config(config_name, overrides)
            if not config.train.max_steps:
                raise InterlinguaError(f"{config_name}: the quickstart needs a preset with max_steps (or --steps)")
            log.info("2/3 training a %s model for %d steps: about %s on an idle 2-core machine, longer on a busy "
                     "one (the minutes left are shown below)", config_name, config.train.max_steps,
                     IDLE_ESTIMATE.get(config_name, "a few minutes"))
            train(corpus, run, config, overwrite=True)
    except Interrupted as exc:
        raise Interrupted(f"interrupted during training, checkpoint saved; resume with: interlingua quickstart "
                          f"--workdir {shlex.quote(str(workdir))}", exc.exit_code) from None

    log.info("3/3 what the model does on meanings it never saw in training")
    translator = Translator.load(run)
    languages = translator.languages
    others = [lang for lang in languages if lang != "en"]
    test = load_split(corpus, "test")
    # Show plain sentences (no format strings, identifiers or acronym labels such as "AIFC audio"), which a
    # reader can judge at a glance: a fixed random draw of them, not the first in id order (alphabetical labels).
    plain = [r for r in test if re.fullmatch(r"[A-Z][a-z]*( [a-z,'-]+)+[.?!]?", r["en"]) and 3 <= len(r["en"].split()) <= 8]
    candidates = [r for r in plain if all(lang in r for lang in languages)]
    full = random.Random(0).sample(candidates, min(4, len(candidates)))
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
    pointer = read_json(run / "latest.json")
    dev_chrf, steps_done = pointer.get("metrics", {}).get("dev_chrf"), pointer["step"]
    if dev_chrf is not None and dev_chrf < WEAK_CHRF:
        print(f"\nNote: this model is still weak (held-out chrF {dev_chrf:.1f} after {steps_done} steps): its drafts "
              f"above show what it has begun to learn, not what the method can do. Train it further with\n"
              f"      interlingua train --data {corpus} --out {run} --resume max_steps={2 * steps_done}")
    print(f"\nRun folder: {run}\nNext: interlingua translate --model {run} --to {','.join(shown)} \"Open the file\"\n"
          f"      interlingua embed --model {run} --in sentences.txt --out vectors.npy")
    return run
