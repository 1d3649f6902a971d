"""Command line: argument parsing only; each subcommand calls one function of the library.

Each command's options stand beside the function they feed (a ``Command``: shared option sets such as
``MODEL`` or ``BEAM`` first, then its own); ``build_parser`` only assembles ``COMMANDS``.

Errors a user can fix print one line (``interlingua: error: ...``) and exit 2; ``--debug``
shows the traceback instead.
"""
from __future__ import annotations

import argparse
import io
import json
import logging
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

from . import __version__
from .corpus.langcodes import resolve_languages, split_languages
from .corpus.split import METHODS
from .errors import InterlinguaError, Interrupted
from .mine import DEFAULT_THRESHOLD
from .serve import settings as serving

log = logging.getLogger("interlingua")

SPLIT_HELP = ("grouped (default): near-duplicate messages stay on one side (docs/corpus.md); "
              "random: the old seeded shuffle of meanings, to compare with")
OUTSIDE_HELP = ("hold out every meaning of these products (gettext domains, e.g. git or dpkg,dpkg-dev) "
                "and their near-duplicates as an outside test set, CORPUS.outside.jsonl")
TRANSLATE_ORDER = ("Output: one line per input sentence per target language, grouped by input: "
                   "for inputs A, B and --to fr,de the lines are A→fr, A→de, B→fr, B→de. "
                   "With --tsv each line is 'lang<TAB>translation'.")


# ----------------------------------------------------------------------------- options

class Parser(argparse.ArgumentParser):
    """argparse, with its usage errors as one line like every other error (the usage is one --help away)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"interlingua: error: {message} (see: {self.prog} --help)\n")


def _number(convert: Callable[[str], int | float], name: str, low: float, high: float | None,
            too_far: str) -> Callable[[str], int | float]:
    """argparse type: a finite number in [low, high] (nan and inf are never a setting); out of range is a one-line
    usage error naming the range. ``too_far`` words it from {bounds}, {value} and {text}."""
    shown = "d" if convert is int else "g"

    def parse(text: str) -> int | float:
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a {name}, got {text!r}") from None
        if not math.isfinite(value) or value < low or (high is not None and value > high):
            bounds = f"at least {low:{shown}}" if high is None else f"from {low:{shown}} to {high:{shown}}"
            raise argparse.ArgumentTypeError(too_far.format(bounds=bounds, value=value, text=repr(text)))
        return value
    parse.__name__ = name  # what argparse calls the type in its own messages
    return parse


def whole(low: int, high: int | None = None) -> Callable[[str], int]:
    """argparse type: a whole number in [low, high]."""
    return _number(int, "whole number", low, high, "must be {bounds}, got {value}")


def real(low: float, high: float | None = None) -> Callable[[str], float]:
    """argparse type: a finite number in [low, high]."""
    return _number(float, "number", low, high, "must be a number {bounds}, got {text}")


positive_int = whole(1)
count = whole(0)  # a number of meanings or sentences, where 0 means none
# Beam search keeps 2·beam candidates per hypothesis; past a few dozen it costs time and buys nothing
# (and the model's vocabulary bounds it anyway: api.Translator.translate names that limit).
MAX_BEAM = 64
beam_size = whole(1, MAX_BEAM)
BEAM_HELP = f"beam size, 1 to {MAX_BEAM} (default 1: greedy)"


def arg(*names: str, **settings) -> tuple[tuple[str, ...], dict]:
    """One option, as ``add_argument`` takes it."""
    return names, settings


def shared(*arguments: tuple[tuple[str, ...], dict]) -> argparse.ArgumentParser:
    """A parent parser (``parents=[...]``): a set of options, defined once, that one command or several take."""
    parent = argparse.ArgumentParser(add_help=False)
    for names, settings in arguments:
        parent.add_argument(*names, **settings)
    return parent


@dataclass
class Command:
    """A subcommand: its name, the function it calls, its option sets (shared ones first, then its own), and
    ``add_parser``'s help and description; a group (``corpus``) has subcommands instead of a function."""
    name: str
    run: Callable[[argparse.Namespace], None] | None
    options: list[argparse.ArgumentParser] = field(default_factory=list)
    settings: dict = field(default_factory=dict)
    subcommands: list["Command"] = field(default_factory=list)


MODEL = shared(arg("--model", required=True, help="run folder"))
CHECKPOINT = shared(arg("--checkpoint", default="best",
                        help="best, latest, a step number, or averaged (after interlingua average)"))
QUIET = shared(arg("--quiet", action="store_true", help="no progress bars or progress lines"))
BEAM = shared(arg("--beam", type=beam_size, default=1, help=BEAM_HELP))
PRECISION = shared(arg(
    "--precision", choices=["fp32", "bf16", "int8"], default="fp32", help="bf16: weights in bf16, faster on CPUs with "
    "native bf16 (AVX-512 BF16, AMX) and on GPUs; the same chrF in docs/performance.md, some outputs differ. int8: the "
    "ONNX engine's int8 export (interlingua export --int8) (default %(default)s)"))
ENGINE = shared(arg(
    "--engine", choices=["auto", "torch", "onnx"], default="auto", help="onnx: the run's ONNX Runtime export "
    "(interlingua export; an error if it is missing or stale); torch: the PyTorch model; auto: the export when there "
    "is a usable one for this checkpoint, else PyTorch (with a warning if the export is stale or corrupt) (default "
    "%(default)s)"))
TARGETS = shared(arg("--to", required=True, help="target language(s), comma-separated, e.g. fr,de"))
TEST_DATA = shared(arg("--data", help="test file, any corpus format (default: the test split of the run's corpus)"))
SPLIT = shared(arg("--dev", type=count, default=500, help="dev meanings (default 500)"),
               arg("--test", type=count, default=1000, help="test meanings (default 1000)"),
               arg("--seed", type=int, default=1, help="split seed (default 1)"),
               arg("--split", choices=METHODS, default="grouped", help=SPLIT_HELP),
               arg("--outside", metavar="PRODUCT[,PRODUCT]", help=OUTSIDE_HELP))


# ----------------------------------------------------------------------------- corpus

def cmd_corpus_build(args: argparse.Namespace) -> None:
    from .corpus.archives import archives_in
    from .corpus.harvest import build_corpus, language_table
    roots = [Path(r) for r in args.roots] if args.roots else None
    if roots and args.no_system:
        raise InterlinguaError("--roots and --no-system contradict each other: --roots names the folders to read")
    debs, wheels = [Path(p) for p in args.deb], [Path(p) for p in args.wheel]
    for folder in args.from_dir:
        found_debs, found_wheels = archives_in(Path(folder))
        debs, wheels = debs + found_debs, wheels + found_wheels
    out = Path(args.out)
    rows, stats, paths = build_corpus(out, roots, min_translations=args.min_translations, dev=args.dev,
                                      test=args.test, seed=args.seed, split=args.split,
                                      outside=args.outside.split(",") if args.outside else None,
                                      progress=not args.quiet, debs=debs, wheels=wheels, system=not args.no_system)
    table = language_table(rows)
    print(f"{'language':<12}{'translations':>13}")
    for lang, n in table:
        print(f"{lang:<12}{n:>13,}")
    big = sum(1 for lang, n in table if n >= 10_000 and lang != "en")
    print(f"\n{len(rows):,} meanings, {len(table) - 1} languages besides English ({big} with ≥ 10,000 translations), "
          f"from {stats.catalogs:,} catalogs ({stats.unreadable} unreadable).")
    print("skipped entries: " + ", ".join(f"{k} {v:,}" for k, v in stats.skipped.most_common()))
    print(f"wrote {out} and its splits " + ", ".join(f"{k}: {p.name}" for k, p in paths.items()))


BUILD = Command("build", cmd_corpus_build, [SPLIT, QUIET, shared(
    arg("--out", required=True, help="output JSONL, e.g. data/corpus.jsonl"),
    arg("--roots", nargs="*", help="folders to search instead of the default locale folders"),
    arg("--deb", action="append", default=[], metavar="PKG.deb",
        help="also harvest the catalogs inside this Debian package, not installed (repeatable; "
        "e.g. from 'apt-get download wordpress-l10n')"),
    arg("--wheel", action="append", default=[], metavar="W.whl",
        help="also harvest the catalogs inside this Python wheel (repeatable; e.g. from 'pip download --no-deps Django')"),
    arg("--from-dir", action="append", default=[], metavar="DIR",
        help="also harvest every .deb and .whl directly inside DIR (repeatable)"),
    arg("--no-system", action="store_true",
        help="leave out the machine's installed catalogs: only the --deb/--wheel/--from-dir ones"),
    arg("--min-translations", type=count, default=1000, help="leave out languages with fewer translations "
        "(default 1000)"))],
    dict(help="harvest the machine's gettext catalogs into a multi-way corpus",
         description="Harvest .mo/.po catalogs (system locale folders and installed packages, plus those inside .deb "
         "packages and wheels given), align them by the English source string and write multi-way JSONL plus "
         "train/dev/test splits beside it."))


def cmd_corpus_import(args: argparse.Namespace) -> None:
    from .corpus.formats import merge_corpora, write_corpus
    langs = tuple(split_languages(args.langs)) if args.langs else None
    if langs is not None and len(langs) != 2:
        raise InterlinguaError("--langs takes two languages, e.g. --langs en,fr")
    rows = merge_corpora(args.inputs, langs=langs)
    write_corpus(rows, Path(args.out), args.format)
    _report(f"wrote {len(rows):,} rows to {args.out}", args.out)


IMPORT = Command("import", cmd_corpus_import, [shared(
    arg("inputs", nargs="+", help="input files"),
    arg("--out", required=True, help="output file (format from its extension)"),
    arg("--langs", help="two languages for formats that do not name theirs, e.g. en,fr"),
    arg("--format", choices=["jsonl", "tsv", "tmx", "po", "moses"], help="output format"))],
    dict(help="read Moses, TSV, TMX, PO or JSONL files into one multi-way corpus",
         description="Read corpora in the field's formats (Moses 'file.en,file.fr' or a prefix with --langs, TSV, TMX, "
         "PO/POT, JSONL) and write one multi-way corpus."))


def cmd_corpus_split(args: argparse.Namespace) -> None:
    from .corpus.split import outside_ids, split_file
    outside = outside_ids(Path(args.corpus), args.outside.split(",")) if args.outside else ()
    for name, (path, count) in split_file(Path(args.corpus), args.dev, args.test, args.seed, args.split,
                                          outside).items():
        print(f"{name}: {count:,} meanings -> {path}")


SPLIT_COMMAND = Command("split", cmd_corpus_split, [SPLIT, shared(arg(
    "corpus", metavar="CORPUS", help="the corpus to split, any corpus format; CORPUS.train/.dev/.test.jsonl are "
    "written beside it"))],
                        dict(help="write train/dev/test splits (by meaning) beside a corpus",
                             description="Split by meaning, never by pair: a held-out meaning is unseen in every "
                             "language."))
CORPUS = Command("corpus", None, settings=dict(help="build, import or split a parallel corpus",
                                               description="Corpus commands."),
                 subcommands=[BUILD, IMPORT, SPLIT_COMMAND])


# ----------------------------------------------------------------------------- train

def cmd_train(args: argparse.Namespace) -> None:
    from .config import load_config
    from .train import resume_config, train
    overrides = list(args.overrides) + [f"max_minutes={args.max_minutes}"] * (args.max_minutes is not None)
    # resumed: the run's own config, with any overrides (e.g. a longer max_minutes) on top
    config = resume_config(args.out, overrides) if args.resume else load_config(args.config, overrides)
    train(args.data, args.out, config, resume=args.resume, overwrite=args.overwrite)


TRAIN = Command("train", cmd_train, [shared(
    arg("--data", required=True, help="corpus (JSONL with .train/.dev siblings, or any readable format)"),
    arg("--out", required=True, help="run folder"),
    arg("--config", default="base", help="preset (tiny, small, base) or YAML file (default base)"),
    arg("--max-minutes", type=real(0), help="stop after this many minutes of training"),
    arg("--resume", action="store_true", help="continue the run in --out from its latest checkpoint"),
    arg("--overwrite", action="store_true", help="replace an existing run folder"),
    arg("overrides", nargs="*", metavar="key=value", help="config overrides, anywhere on the line"))],
    dict(help="train a model on a corpus",
         description="Train on CORPUS's train split (dev split for validation). Any config key can be overridden as "
         "key=value, before, between or after the options, e.g. lr=0.001 model.bridge_queries=8 directions=all "
         "align_weight=0.1."))


# ----------------------------------------------------------------------------- use a model

def _read_lines(path: str | None, texts: list[str]) -> list[str]:
    """Sentences from arguments, a file, or stdin, one per line, blank lines kept (their output line stays blank);
    invalid UTF-8 is reported with its line, and input with nothing to translate is an error."""
    if texts and path:
        raise InterlinguaError(f"give the sentences as arguments or in a file (--in {path}), not both")
    if texts:
        if not any(text.strip() for text in texts):
            raise InterlinguaError("nothing to translate: the sentence given is empty" if len(texts) == 1
                                   else "nothing to translate: every sentence given is empty")
        return texts
    from .files import text_lines
    name = path or "<stdin>"
    try:
        data = Path(path).read_bytes() if path else sys.stdin.buffer.read()
    except FileNotFoundError:
        raise InterlinguaError(f"{path}: no such input file") from None
    except OSError as exc:
        raise InterlinguaError(f"{path}: cannot read ({exc.strerror})") from None
    lines = [line for _, line in text_lines(io.BytesIO(data), name)]
    if not lines:
        raise InterlinguaError(f"{name}: empty, no input sentences")
    if not any(line.strip() for line in lines):
        raise InterlinguaError(f"{name}: only blank lines, no input sentences")
    return lines


def _report(message: str, out: str) -> None:
    """'wrote ...' goes to stdout, unless the output itself does ('--out -')."""
    print(message, file=sys.stderr if out == "-" else sys.stdout)


def cmd_translate(args: argparse.Namespace) -> None:
    from .api import Translator
    targets = split_languages(args.to)
    if not targets:
        raise InterlinguaError("--to needs at least one language, e.g. --to fr,de")
    from .files import atomic_write_text, check_output
    sentences = _read_lines(args.input, args.text)
    check_output(args.out or "-")
    glossary = None
    if args.glossary:
        from .localize.glossary import load_glossary, translate_lines
        glossary = load_glossary(args.glossary)  # a bad glossary fails before the model loads
    memory = None
    if args.tm:
        from .memory import TranslationMemory
        memory = TranslationMemory.from_file(args.tm)  # a bad memory fails before the model loads
    translator = Translator.load(args.model, args.checkpoint, precision=args.precision, engine=args.engine)
    if memory is not None:
        translator.use_memory(memory)
    targets = resolve_languages(targets, translator.languages)  # pt_BR -> pt-BR: the model's own spelling
    if glossary is not None:
        result, left_empty = translate_lines(translator, sentences, targets, glossary, args.beam, args.pivot)
        if left_empty:
            log.warning("warning: %d translation(s) left empty: they did not keep a glossary term or a placeholder",
                        left_empty)
    else:
        result = translator.translate(sentences, to=targets, beam=args.beam, pivot=args.pivot)
    if translator.truncated:
        log.warning("warning: %d input line(s) longer than %d tokens were truncated", translator.truncated,
                    translator.max_len)
    lines = []
    for i in range(len(sentences)):
        for lang in targets:
            line = f"{lang}\t{result[lang][i]}" if args.tsv else result[lang][i]
            if args.show_match:  # which drafts came from a close match, and how close
                found = translator.matches.get(lang, [])
                match = found[i] if i < len(found) else None
                line += f"\tmemory {match.score:.0f}%" if match is not None else "\t"
            lines.append(line)
    atomic_write_text(args.out or "-", "".join(line + "\n" for line in lines))


TRANSLATE = Command("translate", cmd_translate, [MODEL, TARGETS, BEAM, CHECKPOINT, PRECISION, ENGINE, shared(
    arg("text", nargs="*", help="sentences (default: read lines from --in or stdin)"),
    # Read by nothing: the encoder is never told the source language (docs/design.md). Kept, and said to be
    # ignored, so that scripts that pass it go on working.
    arg("--from", dest="source", metavar="LANG", help="ignored: the model reads any of its languages without being "
        "told which (accepted for scripts written for tools that need it)"),
    arg("--in", dest="input", help="input file, one sentence per line"),
    arg("--out", help="output file (written atomically; default stdout)"),
    arg("--pivot", help="translate through this language, e.g. en, to compare with direct"),
    arg("--tsv", action="store_true", help="prefix each line with its language and a tab"),
    arg("--glossary", metavar="FILE", help="terms to keep or translate as given (TBX, or CSV rows "
        "source,target[,language]); a line that loses a term is left empty, with a warning"),
    arg("--tm", metavar="FILE", help="the translation memory (TMX, PO, JSONL or TSV) a model trained with one "
        "(model.memory=true) reads; default: its run's training split"),
    arg("--show-match", action="store_true", help="add a tab and the similarity of the memory match each line was "
        "drafted from ('memory 87%%'; empty: none)"))],
    dict(help="translate sentences into one or more languages",
         description="Translate TEXT arguments, or one sentence per line from --in or stdin. " + TRANSLATE_ORDER))


def cmd_embed(args: argparse.Namespace) -> None:
    import numpy as np
    from .api import Translator
    from .files import atomic_write_bytes, check_output
    if args.fit_language_removal:
        return _fit_language_removal(args)
    if not args.input or not args.out:
        raise InterlinguaError("embed needs --in and --out (or --fit-language-removal)")
    sentences = _read_lines(args.input, [])
    check_output(args.out)
    translator = Translator.load(args.model, args.checkpoint, engine=args.engine,
                                 language_removal=not args.no_language_removal)
    vectors = translator.embed(sentences)
    buffer = io.BytesIO()
    np.save(buffer, vectors, allow_pickle=False)
    atomic_write_bytes(args.out, buffer.getvalue())
    _report(f"wrote {vectors.shape[0]} vectors of dimension {vectors.shape[1]} to {args.out}", args.out)


def _fit_language_removal(args: argparse.Namespace) -> None:
    from .api import Translator
    from .files import check_output
    from .language_removal import FILE, fit_run
    out = args.out or str(Path(args.model) / FILE)
    check_output(out)
    if args.plot:
        check_output(args.plot)
    translator = Translator.load(args.model, args.checkpoint, language_removal=False)
    removal = fit_run(translator, args.model, meanings=args.meanings, rounds=args.rounds)
    removal.save(out)
    print(f"wrote {out}: {removal.directions.shape[0]} language directions from {removal.meanings} training "
          f"meanings per language ({', '.join(removal.languages)})")
    if args.plot:
        from .insight.report import write_thought_map
        write_thought_map(translator, removal, args.model, args.plot, data=args.data)
        print(f"wrote {args.plot}")


EMBED = Command("embed", cmd_embed, [MODEL, CHECKPOINT, ENGINE, shared(
    arg("--in", dest="input", help="input file, one sentence per line"),
    arg("--out", help="output .npy file (with --fit-language-removal: the statistics file, default "
        "RUN/language_removal.safetensors)"),
    arg("--no-language-removal", action="store_true",
        help="the raw pooled thought, even where the run has language-removal statistics"),
    arg("--fit-language-removal", action="store_true",
        help="estimate the language directions on the run's training meanings and write them"),
    arg("--meanings", type=whole(2), default=1000,
        help="with --fit-language-removal: training meanings per language (default 1000)"),
    arg("--rounds", type=whole(0, 100), default=0,
        help="with --fit-language-removal: rounds of iterative nullspace projection after the language means "
        "(default 0; docs/evaluation.md)"),
    arg("--plot", metavar="PNG", help="with --fit-language-removal: t-SNE of test thoughts before and after, "
        "coloured by language and by meaning"),
    arg("--data", help="with --plot: test data (default: the test split of the run's corpus)"))],
    dict(help="language-agnostic sentence vectors (.npy)",
         description="One L2-normalised float32 vector per input line: the pooled thought, with the language "
         "directions of RUN/language_removal.safetensors projected out when the run has that file. "
         "--fit-language-removal writes that file from the run's training meanings (docs/evaluation.md)."))


def cmd_translate_file(args: argparse.Namespace) -> None:
    from .api import Translator
    from .localize import format_counts, translate_file
    from .localize.glossary import load_glossary
    targets = split_languages(args.to)
    if not targets:
        raise InterlinguaError("--to needs at least one language, e.g. --to fr,de")
    glossary = load_glossary(args.glossary) if args.glossary else None  # a bad glossary fails before the model loads
    translator = Translator.load(args.model, args.checkpoint, precision=args.precision, engine=args.engine)
    counts = translate_file(args.input, translator, targets, args.out, overwrite=args.overwrite, beam=args.beam,
                            progress=not args.quiet, memory=args.tm, glossary=glossary,
                            min_confidence=args.min_confidence)
    print(format_counts(counts))


TRANSLATE_FILE = Command("translate-file", cmd_translate_file, [MODEL, TARGETS, BEAM, CHECKPOINT, QUIET, PRECISION,
                                                                   ENGINE, shared(
    arg("input", help="a .po, .pot, .xlf/.xliff, .tmx, .ts, strings.xml, .strings or .json file"),
    arg("--out", required=True, help="output directory"),
    arg("--overwrite", action="store_true",
        help="retranslate every entry, also those already translated (default: fill only empty ones)"),
    arg("--tm", metavar="FILE", help="translation memory (PO, XLIFF, TMX or Qt .ts): a match of at least 95%% "
        "similarity is used before the model, marked for review and noted with its score; a model trained with a "
        "memory (model.memory=true) also reads its closest match for every other draft"),
    arg("--min-confidence", type=real(0, 1), metavar="X", help="leave a model draft empty when the model's "
        "confidence in it (0 to 1, written beside each draft; docs/localize.md) is below X, and count it"),
    arg("--glossary", metavar="FILE", help="terms to keep or translate as given: TBX, or CSV with rows "
        "source,target[,language] (empty target: do not translate); a draft that loses a term is left empty and "
        "counted"))],
    dict(help="machine drafts of a localisation file (PO, XLIFF, TMX, Qt, Android, Apple, JSON), placeholders kept",
         description="Fill the untranslated entries of a PO/POT catalog, XLIFF 1.2/2.x, Qt .ts, Android strings.xml, "
         "Apple .strings or JSON i18n file, one output per language (OUT/<lang>/LC_MESSAGES/<domain>.po, "
         "OUT/values-<lang>/strings.xml, ...), or add the target languages to a TMX memory (OUT/<name>.tmx). A "
         "translation memory (--tm) is used first, the model for the rest. Every draft is marked for review in the "
         "format's own way (PO fuzzy, XLIFF state, Qt unfinished, ...); a draft that would lose or invent a "
         "placeholder (%%s, {0}, %%(name)s, <b>, &amp;, XLIFF <x/>, ...) is left empty and counted."))


def cmd_serve(args: argparse.Namespace) -> None:
    from .serve import serve
    if args.threads:
        import torch
        torch.set_num_threads(args.threads)
    serve(args.model, host=args.host, port=args.port, checkpoint=args.checkpoint, max_batch=args.max_batch,
          max_wait_ms=args.max_wait_ms, max_chars=args.max_chars, max_sentences=args.max_sentences,
          max_queue=args.max_queue, precision=args.precision, engine=args.engine, max_cost=args.max_cost,
          api_key=args.api_key,
          cors_origins=[o.strip() for o in args.cors_origins.split(",") if o.strip()] if args.cors_origins else None,
          access_log=args.access_log, memory=args.tm)


SERVE = Command("serve", cmd_serve, [MODEL, CHECKPOINT, PRECISION, ENGINE, shared(
    arg("--host", default=serving.HOST, help=f"address to listen on (default {serving.HOST}: this machine only)"),
    arg("--port", type=whole(0, 65535), default=serving.PORT, help=f"port (default {serving.PORT}; 0: any free port)"),
    arg("--max-batch", type=positive_int, default=serving.MAX_BATCH,
        help=f"sentences per model call at most (default {serving.MAX_BATCH}; 1: no batching)"),
    arg("--max-wait-ms", type=real(0, 60_000), default=serving.MAX_WAIT_MS,
        help=f"how long a request waits for others to batch with (default {serving.MAX_WAIT_MS:g})"),
    arg("--max-chars", type=positive_int, default=serving.MAX_CHARS,
        help=f"characters per sentence at most (default {serving.MAX_CHARS}; more: 413)"),
    arg("--max-sentences", type=positive_int, default=serving.MAX_SENTENCES,
        help=f"sentences per request at most (default {serving.MAX_SENTENCES}; more: 413)"),
    arg("--max-queue", type=positive_int, default=serving.MAX_QUEUE,
        help=f"requests waiting for the model at most (default {serving.MAX_QUEUE}; more: 503 with Retry-After)"),
    arg("--max-cost", type=positive_int, default=serving.MAX_COST,
        help=f"characters x target languages x beam per request at most (default {serving.MAX_COST}; more: 413)"),
    arg("--api-key", default=None, help="a key every model endpoint wants (Authorization: Bearer KEY, or "
        "LibreTranslate's api_key); default: the environment's INTERLINGUA_API_KEY, else none. The environment keeps "
        "it out of ps"),
    arg("--cors-origins", default=None,
        help="web origins whose pages may call the API, comma-separated ('*': any; default: none)"),
    arg("--access-log", action="store_true", help="log every request (uvicorn's access log)"),
    arg("--tm", metavar="FILE", help="the translation memory (TMX, PO, JSONL or TSV) a model trained with one "
        "(model.memory=true) reads; default: its run's training split"),
    arg("--threads", type=whole(0, 1024), default=0, help="CPU threads for the model (default 0: torch's choice, one "
        "per core); fewer leave cores to other work, e.g. a second server process"))],
    dict(help="HTTP API and a web page for a model (FastAPI + uvicorn)",
         description="Serve /translate, /embed, /similarity, /health, /languages, /metrics, the page at /, the API "
         "docs at /docs and the LibreTranslate API under /libretranslate/ (for Weblate). Requests that arrive "
         "together are batched."))


def cmd_evaluate(args: argparse.Namespace) -> None:
    from .evaluate.run import format_summary, run_evaluation, write_result
    to_stdout = args.json == "-"
    # a vectors-only result never replaces the run's full eval.json (its card reads that)
    default = "eval-vectors.json" if args.no_translation else "eval.json"
    out = Path(args.json) if args.json and not to_stdout else Path(args.model) / default
    if args.json and not to_stdout:  # fail on an unusable output now, not after minutes of evaluation
        from .files import check_output
        check_output(out)
    if args.plot:
        from .insight.report import prepare_plot_dir
        prepare_plot_dir(args.plot)
    result = run_evaluation(args.model, args.data, beam=args.beam, baselines=args.baselines, train_data=args.train_data,
                            max_sentences=args.max_sentences, checkpoint=args.checkpoint, progress=not args.quiet,
                            translation=not args.no_translation)
    # With --json - the JSON owns stdout, so the table goes to stderr.
    print(format_summary(result), file=sys.stderr if to_stdout else sys.stdout)
    if to_stdout:
        json.dump(result, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        write_result(result, out)
        print(f"wrote {out}")
        if out == Path(args.model) / "eval.json":  # the run's own figures: its card shows them
            from .card import write_card
            write_card(args.model)
    if args.plot:
        from .insight.report import write_evaluation_plots
        for path in write_evaluation_plots(result, args.plot):
            print(f"wrote {path}", file=sys.stderr if to_stdout else sys.stdout)


EVALUATE = Command("evaluate", cmd_evaluate, [MODEL, TEST_DATA, BEAM, CHECKPOINT, QUIET, shared(
    arg("--baselines", action="store_true", help="add translation-memory and char n-gram baselines"),
    arg("--train-data", help="training corpus for the baselines (default: the run's training split)"),
    arg("--max-sentences", type=positive_int, help="first N test rows per source language"),
    arg("--no-translation", action="store_true",
        help="measure only the vectors: retrieval, probes, language removal (seconds, not minutes)"),
    arg("--json", help="where to write the JSON result (default RUN/eval.json; '-': stdout, and the tables go to "
        "stderr)"),
    arg("--plot", metavar="DIR", help="also write PNGs: directions.png (chrF heatmap, zero-shot hatched) and "
        "depth.png (lang-ID probe and retrieval by layer)"))],
    dict(help="measure a run: chrF per direction (zero-shot vs pivot), retrieval, language-ID probe, baselines",
         description="Translation quality for every direction (supervised or zero-shot, with the pivot through "
         "English), cross-lingual retrieval (xsim, cosine and margin), per-layer language-ID probe and retrieval, "
         "placeholder survival, and with --baselines the traditional approach on the same rows."))


def cmd_calibrate(args: argparse.Namespace) -> None:
    from .files import check_output
    from .confidence import FILE
    from .evaluate.calibration import calibrate, format_summary, plot
    out = Path(args.out) if args.out else Path(args.model) / FILE
    for path in [out] + [Path(p) for p in (args.plot, args.points) if p]:
        check_output(path)  # before minutes of drafting
    calibration, points = calibrate(args.model, args.data, min_chrf=args.min_chrf,
                                    max_sentences=args.max_sentences, source=args.source, beam=args.beam,
                                    checkpoint=args.checkpoint, progress=not args.quiet)
    print(format_summary(calibration))
    calibration.save(out)
    print(f"wrote {out}")
    if args.plot:
        plot(calibration, points, args.plot)
        print(f"wrote {args.plot}")
    if args.points:
        from .files import atomic_write_text
        atomic_write_text(args.points, "".join(json.dumps(p, ensure_ascii=False) + "\n" for p in points))
        print(f"wrote {args.points}")


CALIBRATE = Command("calibrate", cmd_calibrate, [MODEL, TEST_DATA, BEAM, CHECKPOINT, QUIET, shared(
    arg("--max-sentences", type=positive_int, default=100, help="rows per direction (default 100)"),
    arg("--min-chrf", type=real(0, 100), default=50.0, help="a draft is good from this sentence chrF on (default 50)"),
    arg("--from", dest="source", default="en", help="source language (default en)"),
    arg("--out", help="where to write the calibration (default RUN/calibration.json)"),
    arg("--plot", metavar="PNG", help="also draw the calibration (confidence vs chrF, the fit, held out)"),
    arg("--points", metavar="JSONL", help="also write every draft's confidence, chrF and held-out chance"))],
    dict(help="what a draft's confidence is worth: fit it to held-out chrF",
         description="Draft the first --max-sentences held-out rows of every direction --from -> X, score each draft "
         "by its sentence chrF, and fit the chance that a draft of a given confidence reaches --min-chrf "
         "(isotonic). Writes RUN/calibration.json (plain JSON), which translate-file and Translator.load read; "
         "prints how well it held up under two-fold cross-validation."))


def cmd_export(args: argparse.Namespace) -> None:
    from .export import export
    folder = export(args.model, "int8" if args.int8 else "fp32", args.checkpoint, args.out)
    print(f"wrote the ONNX export of {args.model} to {folder}")


EXPORT = Command("export", cmd_export, [MODEL, CHECKPOINT, shared(
    arg("--format", choices=["onnx"], default="onnx", help="the engine's format (default onnx)"),
    arg("--int8", action="store_true", help="int8 matmul weights (ONNX Runtime dynamic quantisation)"),
    arg("--out", help="folder to write (default RUN/onnx/fp32 or RUN/onnx/int8)"))],
    dict(help="export a run for the ONNX Runtime engine",
         description="Write the run's checkpoint as ONNX graphs (encoder, the thought's keys and values, one decoder "
         "step with its cache) and export.json, which describes them, to RUN/onnx/fp32 (or int8), where translate, "
         "translate-file, embed and serve --engine onnx|auto find them. Needs pip install 'interlingua[onnx]'."))


def step_numbers(text: str) -> list[int]:
    """argparse type: comma-separated step numbers."""
    return [count(part) for part in text.split(",")]


def cmd_average(args: argparse.Namespace) -> None:
    from .checkpoint import AVERAGED, average_checkpoints, checkpoint_stem
    if (args.last is None) == (args.steps is None):
        raise InterlinguaError("give either --last N or --steps A,B,... (one of them)")
    steps = average_checkpoints(Path(args.model), args.last, args.steps or ())
    print(f"wrote {checkpoint_stem(Path(args.model), AVERAGED)}.safetensors, the mean of steps "
          f"{', '.join(map(str, steps))}: use it with --checkpoint {AVERAGED}")


AVERAGE = Command("average", cmd_average, [MODEL, shared(
    arg("--last", type=whole(2), help="average the newest N kept checkpoints (train.keep_checkpoints keeps them)"),
    arg("--steps", type=step_numbers, help="average these steps' checkpoints, e.g. 5000,6000,7000"))],
    dict(help="average the weights of a run's last checkpoints (--checkpoint averaged)",
         description="Write RUN/checkpoints/averaged.safetensors, the element-wise mean of the model weights of "
         "several checkpoints (as fairseq's average_checkpoints.py), and a .json beside it naming the steps. Every "
         "command that takes --checkpoint loads it as --checkpoint averaged. latest.json and best.json do not move: "
         "train --resume goes on from the last real step with its optimizer, and best stays the checkpoint dev "
         "chose (evaluate the averaged one to compare). Pruning (keep_checkpoints) never removes it; averaging "
         "again replaces it, and it does not follow a resumed run."))


def cmd_info(args: argparse.Namespace) -> None:
    from .card import card_text, model_card
    card = model_card(Path(args.model))
    print(json.dumps(card, indent=2, ensure_ascii=False) if args.json else card_text(card), end="" if not args.json else "\n")


INFO = Command("info", cmd_info, [MODEL, shared(arg("--json", action="store_true", help="the card as JSON"))],
               dict(help="a model's card: languages, size, training, evaluation figures",
                    description="What a run folder holds: its languages and trained directions, architecture and "
                    "size, steps and minutes trained, the last dev figures and, after `evaluate`, the test figures. "
                    "The same text is kept in RUN/MODEL.md."))


def cmd_mine(args: argparse.Namespace) -> None:
    from .files import check_output
    from .mine import mine_files
    check_output(args.out)
    count = mine_files(args.model, args.src, args.tgt, args.out, k=args.k, threshold=args.threshold,
                       checkpoint=args.checkpoint, progress=not args.quiet,
                       language_removal=not args.no_language_removal)
    _report(f"wrote {count} pairs to {args.out}", args.out)


MINE = Command("mine", cmd_mine, [MODEL, CHECKPOINT, QUIET, shared(
    arg("--src", required=True, help="text file, one sentence per line, any language of the model"),
    arg("--tgt", required=True, help="text file, one sentence per line, any language of the model"),
    arg("--out", required=True, help="output TSV (written atomically)"),
    arg("--threshold", type=real(0), default=DEFAULT_THRESHOLD,
        help=f"minimum margin (default {DEFAULT_THRESHOLD}; higher: fewer, surer pairs)"),
    arg("--k", type=whole(1, 1000), default=4, help="neighbours in the margin's denominator (default 4)"),
    arg("--no-language-removal", action="store_true",
        help="mine on the raw pooled thought, even where the run has language-removal statistics"))],
    dict(help="bitext mining: the translation pairs hidden in two unaligned text files",
         description="Embed every line of --src and --tgt as a thought vector, score candidate pairs by ratio margin "
         "over the k nearest neighbours (as LASER does), and write the pairs at or above --threshold, best first, "
         "each sentence used once: 'margin<TAB>src<TAB>tgt'."))


def cmd_report(args: argparse.Namespace) -> None:
    from .insight.report import write_report
    out = write_report(args.run, args.out, data=args.data, max_sentences=args.max_sentences or None,
                       checkpoint=args.checkpoint, progress=not args.quiet)
    _report(f"wrote {out}", args.out)


REPORT = Command("report", cmd_report, [TEST_DATA, CHECKPOINT, QUIET, shared(
    arg("run", help="run folder"),
    arg("--out", required=True, help="HTML file to write"),
    arg("--max-sentences", type=count, default=200,
        help="test rows per source language for the evaluation (default 200; 0: all)"))],
    dict(help="one HTML page of pictures: training, gradient flow, weight importance and ablation, layers, the "
         "thought, baselines, zero-shot vs pivot",
         description="Measure a run and write one self-contained HTML report (images embedded) with eight sections, "
         "each explained from its own numbers. See docs/report.md."))


def cmd_quickstart(args: argparse.Namespace) -> None:
    from .quickstart import quickstart
    quickstart(Path(args.workdir), steps=args.steps, config_name=args.config, overwrite=args.overwrite,
               max_minutes=args.max_minutes)


QUICKSTART = Command("quickstart", cmd_quickstart, [shared(
    arg("--steps", type=positive_int, default=None,
        help="training steps (default: the preset's max_steps; small: about 12 minutes on 2 idle cores). A fixed "
        "amount of work, so a busy machine takes longer rather than learning less"),
    arg("--max-minutes", type=real(0), default=0.0,
        help="stop training after this many minutes even if the steps are not done (default: no limit)"),
    arg("--workdir", default="runs/quickstart", help="where the corpus and run go"),
    arg("--config", default="small", help="preset or YAML file (default small)"),
    arg("--overwrite", action="store_true", help="replace an earlier quickstart run"))],
    dict(help="build the embedded corpus, train a small model, show what it does",
         description="On the gettext catalogs of this machine: build the corpus, train a small model for a fixed "
         "number of steps, then show translations, a zero-shot pair beside its pivot through English, and a "
         "cross-lingual similarity."))


# ----------------------------------------------------------------------------- parser

COMMANDS = [QUICKSTART, CORPUS, TRAIN, AVERAGE, TRANSLATE, EVALUATE, MINE, REPORT, INFO, EMBED, TRANSLATE_FILE,
            CALIBRATE, EXPORT, SERVE]  # in the order --help lists them


def add_commands(parser: argparse.ArgumentParser, commands: list[Command], dest: str, metavar: str) -> None:
    """Each command's parser from its option sets; a group gets its own subcommands, a command its function."""
    group = parser.add_subparsers(dest=dest, metavar=metavar, required=True)
    for command in commands:
        sub = group.add_parser(command.name, parents=command.options, **command.settings)
        if command.subcommands:
            add_commands(sub, command.subcommands, f"{command.name}_command", "ACTION")
        else:
            sub.set_defaults(func=command.run)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="interlingua", description="Learn a language-agnostic thought from parallel text; "
        "translate any of its languages into any other, including pairs never seen together.")
    parser.add_argument("--version", action="version", version=f"interlingua {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    add_commands(parser, COMMANDS, "command", "COMMAND")
    return parser


def _is_override(token: str) -> bool:
    return "=" in token and not token.startswith("-")


def parse_command_line(argv: list[str] | None = None) -> argparse.Namespace:
    """``build_parser``'s arguments, with ``key=value`` overrides anywhere on the line (as fairseq, OpenNMT and
    hydra take them). argparse fills a positional list in one run, so ``a=1 --out X b=2`` leaves ``b=2`` over, and
    ``parse_intermixed_args`` refuses subparsers: the leftovers that look like overrides join the command's list, in
    their order on the line (argparse consumed the first run before them); anything else is the usual usage error."""
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    if hasattr(args, "overrides"):
        args.overrides = [*args.overrides, *filter(_is_override, rest)]
        rest = [token for token in rest if not _is_override(token)]
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_command_line(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.INFO, format="%(message)s",
                        stream=sys.stderr)
    try:
        args.func(args)
    except Interrupted as exc:  # a checkpoint was saved: not an error, but not a finished run either
        print(f"interlingua: {exc}", file=sys.stderr)
        return exc.exit_code
    except InterlinguaError as exc:
        if args.debug:
            raise
        print(f"interlingua: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interlingua: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
