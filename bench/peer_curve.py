"""HF Marian's learning curve on our data at equal time: dev chrF against CPU-minutes of training (issue 12).

    python bench/peer_curve.py --data data/corpus.jsonl --config small [key=value ...] --minutes 30 \\
        --eval-at 10,20,30 --tokenizer runs/curve/tokenizer.model --out runs/peer-marian

The peer is the standard multilingual Transformer (Johnson et al. 2017) as HF transformers builds it:
a MarianMTModel of the recipe's size (d_model, layers, heads, FFN, GELU, no dropout, one embedding
table shared by encoder, decoder and output layer, post-norm, embeddings scaled by √d as in every
OPUS-MT Marian model), whose decoder attends to every encoder state. Everything else is ours, so the
curves differ only by the model:

- the same SentencePiece pieces: ``--tokenizer RUN/tokenizer.model`` reuses a run's (its run.json then
  gives the languages and directions, and its config.json is compared with this one, differences
  printed); without it a tokenizer is trained here exactly as ``interlingua train`` trains one;
- the same examples in the same token-bucketed batches, in the same order (interlingua.data with the
  config's seed, max_tokens, max_len and placeholder masks);
- the same optimizer and schedule (Interlingua.configure_optimizer's grouping: AdamW, betas 0.9/0.98, weight decay on the
  matrices but not the embedding table; train.learning_rate: warm-up then inverse square root),
  label smoothing, gradient clipping, and the precision ``precision: auto`` chooses (bf16 autocast
  where this CPU multiplies faster in bf16, as our runs do). Not our contrastive alignment loss
  (``align_weight``): it is part of our recipe, not of the standard one;
- the same dev chrF (train.dev_chrf_of): the first ``eval_sentences`` dev rows of every trained
  direction and of the first two zero-shot ones, sacrebleu chrF, greedy decoding of at most
  1.5 × max_len tokens, the placeholders masked, kept exactly once (search.MaskConstraint) and
  put back as interlingua.api.Translator does.

The target language, Johnson-style: one extra token per language (``<2fr>``; ids after the
SentencePiece ones, so the pieces are unchanged). ``--language-token source`` (the default) puts it
before the source sentence, as Johnson et al. 2017 did and as OPUS-MT's multilingual Marian models
do (``>>fra<<``): the standard. ``--language-token decoder`` makes it the decoder's start token instead
(mBART's and NLLB's way), which, like interlingua, tells only the decoder.

Minutes are training time only, counted as `interlingua train` counts its ``elapsed_s``: from a batch
in hand to the optimizer step done. Building batches and evaluating are left out of the budget (the
evaluation's own seconds are written beside each point). Writes OUT/curve.jsonl, one line per
``--eval-at`` mark ({"minutes", "step", "dev_chrf", "dev_zero_shot_chrf", "eval_seconds"}), OUT/log.jsonl
(training loss and speed every ``log_every`` steps, as a run's) and OUT/summary.json. Draw it beside
our runs with bench/plot_curves.py.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from interlingua.api import Translator  # noqa: E402
from interlingua.checkpoint import absolute_corpus  # noqa: E402
from interlingua.config import RunConfig, load_config  # noqa: E402
from interlingua.corpus.split import load_split  # noqa: E402
from interlingua.data import CorpusInMemory, choose_languages, iterate_batches, parse_directions  # noqa: E402
from interlingua.errors import InterlinguaError  # noqa: E402
from interlingua.model import Interlingua, adamw_decaying_matrices  # noqa: E402
from interlingua.placeholders import mask  # noqa: E402
from interlingua.tokenizer import BOS, EOS, PAD, Tokenizer, train_tokenizer  # noqa: E402
from interlingua.hardware import choose_precision  # noqa: E402
from interlingua.losses import output_layer_loss, translation_loss  # noqa: E402
from interlingua.train import append_jsonl, budget_done, dev_chrf_of, learning_rate  # noqa: E402
from train_throughput import marian  # noqa: E402

log = logging.getLogger("peer_curve")

# Settings that may differ from the run whose tokenizer is reused without making the curves unequal.
BUDGET_KEYS = {"train.max_steps", "train.max_minutes", "train.eval_every", "train.log_every", "train.keep_checkpoints",
               "train.save_every_minutes", "train.threads", "train.precision", "model.target_languages",
               "model.vocab_size"}


# ----------------------------------------------------------------------------- set-up: ours, unchanged

def tokenizer_and_languages(args, config: RunConfig, corpus: CorpusInMemory) -> tuple[Tokenizer, list[str], list]:
    """A run's tokenizer, languages and directions (``--tokenizer``), or new ones made as train.prepare_run makes them."""
    t = config.train
    counts, _ = corpus.counts()
    languages = choose_languages(counts, t.languages, t.max_languages)
    directions = parse_directions(t.directions, languages)
    if args.tokenizer is None:
        sample = corpus.tokenizer_sample(languages, t.tokenizer_sample, t.tokenizer_temperature, t.seed)
        tokenizer = train_tokenizer(sample, args.out / "tokenizer.model", config.model.vocab_size, seed=t.seed,
                                    masks=t.mask_placeholders)
        return tokenizer, languages, directions
    tokenizer = Tokenizer(args.tokenizer)
    if bool(tokenizer.mask_ids) != t.mask_placeholders:
        raise InterlinguaError(f"{args.tokenizer}: a vocabulary {'with' if tokenizer.mask_ids else 'without'} "
                               f"placeholder masks, but mask_placeholders={t.mask_placeholders}")
    run = args.tokenizer.parent
    if (run / "run.json").exists():  # the run's own languages and directions, so dev rows and directions match
        saved = json.loads((run / "run.json").read_text())
        run_languages = saved["languages"]
        run_directions = [tuple(d.split(">")) for d in saved["trained_directions"]]
        if (run_languages, run_directions) != (languages, directions):
            log.warning("%s: languages %s and %d directions taken from the run (this config gives %s)", run,
                        ",".join(run_languages), len(run_directions), ",".join(languages))
        languages, directions = run_languages, run_directions
        if saved.get("data") != absolute_corpus(args.data):  # as run.json records it
            log.warning("%s was trained on %s, this curve is on %s: the same corpus and split files?", run,
                        saved.get("data"), args.data)
    if (run / "config.json").exists():
        saved = RunConfig.from_dict(json.loads((run / "config.json").read_text()), str(run / "config.json"))
        ours, theirs = flat(config), flat(saved)
        differ = {k: (theirs.get(k), v) for k, v in ours.items() if k not in BUDGET_KEYS and theirs.get(k) != v}
        for key, (was, now) in differ.items():
            log.warning("%s: %s was %r in the run, %r here: the curves are not of equal recipes", run, key, was, now)
    return tokenizer, languages, directions


def flat(config: RunConfig) -> dict:
    return {f"{section}.{k}": v for section, values in config.to_dict().items() for k, v in values.items()}


# ----------------------------------------------------------------------------- the peer

class Peer:
    """HF Marian with one target-language token per language, after the SentencePiece ids."""

    def __init__(self, config: RunConfig, vocab: int, languages: list[str], language_token: str, fused_loss: bool):
        self.vocab, self.languages, self.language_token = vocab, languages, language_token
        self.fused_loss, self.smoothing = fused_loss, config.train.label_smoothing
        size = dataclasses.replace(config.model, vocab_size=vocab + len(languages))
        self.model = marian(size, scale_embedding=True)  # √d, as every OPUS-MT Marian model and Marian-NMT itself
        # Greedy search as ours: stop at our EOS, nothing forced or banned. Set on the model's own generation
        # config: generate fills a value passed as None from it (MarianConfig's default forced_eos_token_id is 0).
        generation = self.model.generation_config
        generation.eos_token_id, generation.pad_token_id = EOS, PAD
        generation.forced_eos_token_id, generation.bad_words_ids, generation.num_beams = None, None, 1
        generation.do_sample = False

    def language_ids(self, lang: torch.Tensor) -> torch.Tensor:
        """(B,) indices into ``languages`` -> (B, 1) language-token ids."""
        return (self.vocab + lang)[:, None]

    def inputs(self, src: torch.Tensor, tgt_in: torch.Tensor, lang: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Our batch told its target language: ``<2xx>`` before the source, or as the decoder's first token."""
        token = self.language_ids(lang)
        if self.language_token == "source":
            return torch.cat([token, src], dim=1), tgt_in
        return src, torch.cat([token, tgt_in[:, 1:]], dim=1)  # tgt_in starts with BOS: the token takes its place

    def loss(self, src: torch.Tensor, tgt_in: torch.Tensor, tgt_out: torch.Tensor) -> torch.Tensor:
        # No decoder_attention_mask: padding is on the right and ignored by the loss, as in HF's own seq2seq
        # training (the collator passes labels only).
        if self.fused_loss:  # our chunked output layer (final_logits_bias is an untrained zero buffer)
            hidden = self.model.model(input_ids=src, attention_mask=src != PAD, decoder_input_ids=tgt_in)[0]
            return output_layer_loss(hidden, self.model.lm_head.weight, tgt_out, self.smoothing)
        logits = self.model(input_ids=src, attention_mask=src != PAD, decoder_input_ids=tgt_in).logits
        return translation_loss(logits, tgt_out, self.smoothing)


def search_rules(masks, max_len: int, vocab: int):
    """A LogitsProcessor with what search.greedy enforces: the placeholder masks, exactly once
    (search.MaskConstraint, step by step as greedy calls it), and no language token (ours has none to write)."""
    from transformers import LogitsProcessor

    class SearchRules(LogitsProcessor):
        def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
            step = input_ids.shape[1] - 1  # tokens written so far after the start token
            scores[:, vocab:] = float("-inf")
            if masks is not None:
                if step > 0:
                    masks.update(input_ids[:, -1])
                masks.apply(scores, max_len - step)
            return scores
    return SearchRules()


class PeerTranslator(Translator):
    """Translator's batching, truncation and placeholder masks around HF Marian's greedy ``generate``."""

    def __init__(self, peer: Peer, tokenizer: Tokenizer, config: RunConfig):
        super().__init__(peer.model, tokenizer, config)
        self.peer = peer

    @property
    def device(self) -> torch.device:
        return self.model.device

    @torch.inference_mode()
    def translate(self, sentences: list[str], to: str, beam: int = 1, pivot: str | None = None,
                  max_len: int | None = None) -> list[str]:
        from transformers import LogitsProcessorList
        if beam != 1 or pivot or not isinstance(to, str):
            raise ValueError("the peer translates greedily into one language")
        self._check_sentences(sentences)
        to = self._language(to)
        limit = max_len or int(self.max_len * 1.5)  # as Translator.translate
        lang = torch.tensor([self.peer.languages.index(to)])
        result = [""] * len(sentences)
        originals = [mask(s)[1] for s in sentences] if self.mask_ids else [[] for _ in sentences]
        for chunk, src in self._batches(sentences):
            start = torch.full((len(chunk), 1), BOS)
            src, start = self.peer.inputs(src, start, lang.expand(len(chunk)))
            rules = search_rules(self._constraint(chunk, originals), limit, self.peer.vocab)
            # generate puts decoder_start_token_id before decoder inputs that do not begin with it: here it is
            # the first of them (BOS, or the language token when that starts the decoder; one language per call).
            out = self.model.generate(input_ids=src, attention_mask=src != PAD, decoder_input_ids=start,
                                      max_new_tokens=limit, decoder_start_token_id=int(start[0, 0]),
                                      logits_processor=LogitsProcessorList([rules]))
            for i, text in zip(chunk, self.tokenizer.decode(out[:, 1:].tolist())):
                result[i] = self._restore(text, sentences[i], originals[i])
        return result


# ----------------------------------------------------------------------------- the loop

def figure(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="the corpus (its train and dev splits are used)")
    parser.add_argument("--config", default="small", help="preset or YAML file, as for `interlingua train`")
    parser.add_argument("settings", nargs="*", help="key=value overrides, as for `interlingua train`")
    budget = parser.add_mutually_exclusive_group(required=True)
    budget.add_argument("--minutes", type=float, help="training minutes (evaluation not counted)")
    budget.add_argument("--steps", type=int, help="training steps instead: equal work whatever else the machine "
                        "runs (compare with one of our runs at its eval steps)")
    parser.add_argument("--eval-at", default="", help="marks to evaluate at, in minutes (or steps with --steps), "
                        "e.g. 10,20,30 (the end always)")
    parser.add_argument("--out", type=Path, required=True, help="folder for curve.jsonl, log.jsonl, summary.json")
    parser.add_argument("--tokenizer", type=Path, help="a run's tokenizer.model: the same pieces as that run")
    parser.add_argument("--language-token", choices=["source", "decoder"], default="source",
                        help="<2xx> before the source (Johnson et al., OPUS-MT; default) or as the decoder's start")
    parser.add_argument("--fused-loss", action="store_true",
                        help="our chunked output layer and loss instead of HF's logits (same value, less memory)")
    parser.add_argument("--overwrite", action="store_true", help="replace OUT's curve")
    args = parser.parse_intermixed_args()  # key=value overrides before, between or after the options
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    import transformers
    transformers.logging.set_verbosity_error()

    # The schedule (cosine, lr_cooldown) spends the budget as a run with max_minutes or max_steps would: given to
    # load_config, which checks them together, and after the settings so that the budget is the one asked for.
    budget = ([f"max_steps={args.steps}", "max_minutes=0"] if args.steps is not None
              else ["max_steps=0", f"max_minutes={args.minutes}"])
    config = load_config(args.config, list(args.settings) + budget)
    t = config.train
    if t.stream:
        raise InterlinguaError("stream=true: the peer curve reads the training split into memory")
    end = float(args.steps) if args.steps is not None else args.minutes
    marks = sorted({float(m) for m in args.eval_at.split(",") if m.strip()} | {end})
    marks = [m for m in marks if 0 < m <= end]
    args.out.mkdir(parents=True, exist_ok=True)
    if (args.out / "curve.jsonl").exists() and not args.overwrite:
        raise InterlinguaError(f"{args.out}: has a curve.jsonl already; use --overwrite to replace it")
    for name in ("curve.jsonl", "log.jsonl", "summary.json"):
        (args.out / name).unlink(missing_ok=True)
    if t.threads:
        torch.set_num_threads(t.threads)

    train_rows, dev_rows = load_split(args.data, "train"), load_split(args.data, "dev")
    if not train_rows or not dev_rows:
        raise InterlinguaError(f"{args.data}: needs a training and a dev split")
    corpus = CorpusInMemory(train_rows)
    tokenizer, languages, directions = tokenizer_and_languages(args, config, corpus)
    config.model.vocab_size, config.model.target_languages = tokenizer.vocab_size, languages
    dataset = corpus.dataset(tokenizer, languages, directions, t.max_len, t.mask_placeholders)
    lang_ids = {lang: i for i, lang in enumerate(languages)}
    batches = iterate_batches(dataset, t.seed, t.max_tokens, lang_ids)

    torch.manual_seed(t.seed)
    peer = Peer(config, tokenizer.vocab_size, languages, args.language_token, args.fused_loss)
    model = peer.model.train()
    # Our grouping (reason: Interlingua.configure_optimizer); Marian calls its embedding table `shared`.
    optimizer = adamw_decaying_matrices(model, t.lr, t.weight_decay, undecayed=("embed", "shared"))
    precision = choose_precision(t.precision, torch.device("cpu"), config.model, t.max_tokens)
    autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16")
    translator = PeerTranslator(peer, tokenizer, config)
    parameters = sum(p.numel() for p in model.parameters() if p.requires_grad)  # not the fixed position tables
    ours = Interlingua(config.model).num_parameters()
    log.info("HF Marian (transformers %s): %.2fM parameters (interlingua at this config: %.2fM); %s; "
             "language token: %s; %d examples over %d directions; evaluating at %s of training",
             transformers.__version__, parameters / 1e6, ours / 1e6, precision, args.language_token, len(dataset),
             len(directions), ", ".join(f"{m:g}" for m in marks) + (" steps" if args.steps is not None else " min"))

    step, elapsed, window = 0, 0.0, [0.0, 0, 0, 0.0]  # loss sum, steps, target tokens, seconds
    curve = []
    def spent() -> float:  # in the budget's unit
        return float(step) if args.steps is not None else elapsed / 60

    while marks:
        if spent() >= marks[0]:
            while marks and spent() >= marks[0]:
                marks.pop(0)
            model.eval()
            start = time.perf_counter()
            scores = dev_chrf_of(translator.translate, languages, directions, dev_rows, t.eval_sentences)
            model.train()
            point = {"minutes": elapsed / 60, "step": step, "dev_chrf": scores.get("chrf"),
                     "dev_zero_shot_chrf": scores.get("zero_shot_chrf"),
                     "eval_seconds": time.perf_counter() - start}
            curve.append(point)
            append_jsonl(args.out / "curve.jsonl", point)
            log.info("eval at %.2f min, step %d: dev chrF %s, zero-shot %s (%.0f s)", point["minutes"], step,
                     figure(point["dev_chrf"]), figure(point["dev_zero_shot_chrf"]), point["eval_seconds"])
            continue
        _, _, batch = next(batches)
        src, tgt_in = peer.inputs(batch.src, batch.tgt_in, batch.lang)
        step_start = time.perf_counter()
        lr = learning_rate(step + 1, t.lr, t.warmup_steps, t.lr_schedule, budget_done(step, elapsed, t), t.lr_cooldown)
        for group in optimizer.param_groups:
            group["lr"] = lr
        with autocast:
            loss = peer.loss(src, tgt_in, batch.tgt_out)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), t.clip_norm)
        optimizer.step()
        step += 1
        seconds = time.perf_counter() - step_start
        elapsed += seconds
        window = [window[0] + float(loss.detach()), window[1] + 1, window[2] + batch.target_tokens, window[3] + seconds]
        if step % t.log_every == 0:
            record = {"kind": "train", "step": step, "loss": window[0] / window[1], "lr": lr,
                      "target_tokens_per_s": window[2] / window[3], "elapsed_s": elapsed}
            append_jsonl(args.out / "log.jsonl", record)
            log.info("step %d | loss %.3f | lr %.2e | %.0f tok/s | %.1f min", step, record["loss"], lr,
                     record["target_tokens_per_s"], elapsed / 60)
            window = [0.0, 0, 0, 0.0]

    summary = {"system": f"HF MarianMTModel (transformers {transformers.__version__})",
               "language_token": args.language_token, "fused_loss": args.fused_loss, "parameters": parameters,
               "interlingua_parameters_at_this_config": ours, "precision": precision, "steps": step,
               "training_minutes": elapsed / 60, "tokenizer": str(args.tokenizer or args.out / "tokenizer.model"),
               "data": str(args.data), "languages": languages, "directions": [f"{s}>{t_}" for s, t_ in directions],
               "eval_sentences": t.eval_sentences, "config": config.to_dict(), "curve": curve}
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(f"HF Marian, {parameters / 1e6:.2f}M parameters, target language as a {args.language_token} token, "
          f"{precision}: {step} steps in {elapsed / 60:.2f} training minutes")
    for p in curve:
        print(f"  {p['minutes']:6.2f} min  step {p['step']:6d}  dev chrF {figure(p['dev_chrf'])}  "
              f"zero-shot {figure(p['dev_zero_shot_chrf'])}")
    print(f"curve: {args.out / 'curve.jsonl'}")


if __name__ == "__main__":
    try:
        main()
    except InterlinguaError as exc:
        print(f"peer_curve: error: {exc}", file=sys.stderr)
        sys.exit(2)
