"""The Python API, and what the CLI, the evaluation and the server call.

    translator = Translator.load("runs/quickstart")
    translator.languages                       # ['en', 'fr', 'de', ...]
    translator.translate(["Open the file"], to="de", beam=4)
    translator.translate(["Ouvrir le fichier"], to="de", pivot="en")   # through English, to compare
    translator.drafts(["Open the file"], to="de")      # [Draft(text='Datei öffnen', confidence=0.71)]
    translator.embed(["Datei öffnen", "Open file"])                    # (2, d) L2-normalised float32

``embed`` applies the run's language removal (``language_removal.py``) when the run folder has one.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .checkpoint import load_model, read_run_config, resolve_checkpoint
from .config import RunConfig
from .confidence import Calibration, confidence
from .corpus.langcodes import resolve_language
from .data import pad, sorted_batches
from .engine import OnnxModel, choose_engine
from .errors import InterlinguaError
from .language_removal import LanguageRemoval
from .memory import Match, TranslationMemory
from .model import Interlingua
from .placeholders import drop_invented, is_sequential, mask, tokens, unmask
from .search import MaskConstraint, decode_thought
from .tokenizer import BOS, EOS, PAD, PLACEHOLDER_PIECES, Tokenizer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Draft:
    """A translation and the model's confidence in it (``confidence.py``): None for a blank input,
    which stays blank without the model."""
    text: str
    confidence: float | None
    match: float | None = None  # the similarity (0-100) of the memory match the model read (model.memory), if any


class Translator:
    def __init__(self, model: Interlingua | OnnxModel, tokenizer: Tokenizer, config: RunConfig,
                 batch_tokens: int = 6000):
        self.model, self.tokenizer, self.config = model, tokenizer, config
        self.batch_tokens = batch_tokens
        self.max_len = config.train.max_len
        self.input_cut: list[bool] = []  # which inputs of the last call were cut
        # Per target language, which outputs of the last translate call were cut: the input was cut, or
        # search stopped at the length limit before the sentence ended (the server reports them).
        self.cut_short: dict[str, list[bool]] = {}
        # ... and the confidence of each (what drafts() returns with the texts)
        self.confidence: dict[str, list[float | None]] = {}
        self.calibration: Calibration | None = None  # the run's calibration.json, set by load()
        self.language_removal: LanguageRemoval | None = None  # the run's language_removal.safetensors, set by load()
        # A model trained with a memory (model.memory) reads the best match of each sentence: from this memory
        # (use_memory), else from its run's training split (``memory_run``, set by load()), read when first needed.
        self.memory: TranslationMemory | None = None
        self.memory_run: Path | None = None
        self.said_no_memory = False  # memory_to_read warns once when a memory model has none
        # ... and which memory match each output of the last translate call read, per target language
        self.matches: dict[str, list[Match | None]] = {}
        # A run trained with masked placeholders reads every source masked, as it was trained; older runs as text.
        self.mask_ids = tokenizer.mask_ids if config.train.mask_placeholders else []
        # ... and then writes no placeholder of its own: the raw pieces are banned, a spelled one dropped
        self.raw_placeholder_ids = [tokenizer.sp.PieceToId(p) for p in PLACEHOLDER_PIECES] if self.mask_ids else []

    @classmethod
    def load(cls, run: str | Path, checkpoint: str = "best", device: str | None = None,
             precision: str = "fp32", engine: str = "torch", language_removal: bool = True) -> "Translator":
        """Load a trained run folder (``checkpoint``: best, latest, a step number, or averaged: the mean that
        ``interlingua average`` wrote).

        ``language_removal``: ``embed`` applies the run's ``language_removal.safetensors`` when it has one
        (False: the raw pooled thought, as ``layer_vectors`` gives it).

        ``precision="bf16"`` keeps the weights in bf16: half the bytes to read per decoder step,
        which is what bounds decoding at small batches. On a CPU with native bf16 it translated
        1.3-1.9x faster at the same chrF (±0.1) in docs/performance.md; outputs may differ from fp32's
        in a minority of sentences. Without native bf16 (most CPUs before AVX-512 BF16/AMX) it is far slower.

        ``engine``: ``torch`` (the PyTorch model), ``onnx`` (the run's export, ``interlingua export``;
        ``precision="int8"`` its int8 one) or ``auto`` (the export where there is a usable one): engine.py.
        """
        if precision not in ("fp32", "bf16", "int8"):
            raise InterlinguaError(f"precision must be fp32, bf16 or int8, got {precision!r}")
        run = Path(run)
        config = read_run_config(run)
        tokenizer = Tokenizer(run / "tokenizer.model")
        step = resolve_checkpoint(run, checkpoint)
        model = choose_engine(run, config.model, step, engine, precision, device)
        if model is None:
            model = load_model(run, config, step).to(device or ("cuda" if torch.cuda.is_available() else "cpu"))
            if precision == "bf16":
                model.to(torch.bfloat16)
        translator = cls(model, tokenizer, config)
        translator.calibration = Calibration.of_run(run)
        translator.language_removal = LanguageRemoval.of_run(run) if language_removal else None
        translator.memory_run = run
        return translator

    def use_memory(self, memory: str | Path | TranslationMemory) -> None:
        """The translation memory a model trained with one reads (a TMX, PO, JSONL or TSV file, ``--tm``)
        instead of its run's training split. A model trained without one cannot read it: an error."""
        if not self.config.model.memory:
            raise InterlinguaError("this model was trained without a translation memory (model.memory=false), so "
                                   "it cannot read one; train with model.memory=true")
        self.memory = memory if isinstance(memory, TranslationMemory) else TranslationMemory.from_file(memory)

    def memory_to_read(self) -> TranslationMemory | None:
        """The memory to read: the one given, else the run's training split, looked for once. None for a model
        without a memory; for a model with one, None (said once, in a warning) when neither is there: it then
        reads the empty match, as if nothing matched."""
        if not self.config.model.memory:
            return None
        if self.memory is None and self.memory_run is not None:
            from .corpus.split import run_split
            found = run_split(self.memory_run, "train")
            self.memory_run = None  # found or not, not looked for again at every batch
            if found is not None and found[0]:
                self.memory = TranslationMemory(found[0])
        if self.memory is None and not self.said_no_memory:
            self.said_no_memory = True
            log.warning("this model reads a translation memory, but none is given and its run's training split is "
                        "not where it was: every sentence is read as if nothing matched (--tm FILE gives one)")
        return self.memory

    def _match_ids(self, sentences: list[str], lang: str) -> tuple[torch.Tensor | None, list[Match | None]]:
        """The memory matches of ``sentences`` into ``lang`` as padded token ids (EOS alone for none)."""
        memory = self.memory_to_read()
        if memory is None:
            return None, [None] * len(sentences)
        found = memory.lookup(sentences, lang, self.config.train.memory_min_score)
        texts = [m.translation if m is not None else "" for m in found]
        ids = self.tokenizer.encode([mask(t)[0] for t in texts] if self.mask_ids else texts, self.max_len)
        return pad([seq if text else [EOS] for seq, text in zip(ids, texts)]).to(self.device), found

    @property
    def truncated(self) -> int:
        """How many inputs of the last call were cut to max_len tokens (the CLI warns about them)."""
        return sum(self.input_cut)

    @property
    def languages(self) -> list[str]:
        return list(self.config.model.target_languages)

    @property
    def reads_memory(self) -> bool:
        """Whether the model was trained to read a memory match (model.memory): then ``matches`` says which."""
        return bool(self.config.model.memory)

    @property
    def max_beam(self) -> int:
        """The widest beam this model can search: each step ranks 2·beam candidates out of its vocabulary."""
        return self.tokenizer.vocab_size // 2

    @property
    def device(self) -> torch.device:
        return self.model.device

    def _language(self, lang: str) -> str:
        """The model's code for a spelling of one of its languages (``pt_BR``, ``PT-br`` -> ``pt-BR``)."""
        code = resolve_language(lang, self.languages) if isinstance(lang, str) else None
        if code is None:
            raise InterlinguaError(f"unknown target language '{lang}' (this model has: {', '.join(self.languages)})")
        return code

    @staticmethod
    def _check_sentences(sentences: object, name: str = "sentences") -> list[str]:
        """A list (or tuple) of strings, or a TypeError that says what was given instead."""
        if isinstance(sentences, (str, bytes)):
            raise TypeError(f"{name} must be a list of strings, not one {type(sentences).__name__}: "
                            f"wrap it as [{sentences!r:.40}]")
        if not isinstance(sentences, (list, tuple)):
            raise TypeError(f"{name} must be a list of strings, got {type(sentences).__name__}")
        for i, sentence in enumerate(sentences):
            if not isinstance(sentence, str):
                raise TypeError(f"{name}[{i}] must be a string, got {type(sentence).__name__}")
        return list(sentences)

    def _batches(self, sentences: list[str]):
        """(indices, padded ids) in length-sorted batches of at most batch_tokens padded tokens."""
        ids = self.tokenizer.encode([mask(s)[0] for s in sentences] if self.mask_ids else sentences)
        self.input_cut = [len(seq) > self.max_len for seq in ids]
        ids = [seq[: self.max_len - 1] + seq[-1:] if len(seq) > self.max_len else seq for seq in ids]
        for chunk in sorted_batches([len(seq) for seq in ids], self.batch_tokens):
            yield chunk, pad([ids[i] for i in chunk]).to(self.device)

    @torch.inference_mode()
    def thoughts(self, sentences: list[str]) -> list[torch.Tensor]:
        """The thought (k, d) of each sentence, in input order."""
        sentences = self._check_sentences(sentences)
        out: list[torch.Tensor | None] = [None] * len(sentences)
        for chunk, src in self._batches(sentences):
            for i, thought in zip(chunk, self.model.encode(src)):
                out[i] = thought
        return out  # type: ignore[return-value]

    @torch.inference_mode()
    def translate(self, sentences: list[str], to: str | list[str], beam: int = 1,
                  pivot: str | None = None, max_len: int | None = None) -> list[str] | dict[str, list[str]]:
        """Translate into one language (a list back) or several (a dict language -> list, keyed by the model's
        codes: ``to=["pt_BR"]`` gives the key ``pt-BR``, see ``corpus.langcodes.resolve_language``).

        The thought of each sentence is computed once and decoded into every target language.
        With ``pivot="en"`` each sentence goes source -> English -> target instead. A model trained
        with masked placeholders gets each one as a mask, search writes every mask of the source
        exactly once (search.MaskConstraint), and the masks are put back as the source's placeholders.
        """
        self._check_sentences(sentences)
        if isinstance(beam, bool) or not isinstance(beam, int) or beam < 1:
            raise ValueError(f"beam must be a whole number of at least 1, got {beam!r}")
        if beam > self.max_beam:  # a limit of this model, not of the caller's code: the user's to fix
            raise InterlinguaError(f"beam {beam} is more than this model's {self.tokenizer.vocab_size}-piece "
                                   f"vocabulary can search: at most {self.max_beam}")
        one = isinstance(to, str)
        targets = [self._language(lang) for lang in ([to] if one else to)]
        if not targets:
            raise InterlinguaError("no target language given")
        targets = list(dict.fromkeys(targets))  # fr and FR are one language: translated once
        pivot = self._language(pivot) if pivot else None
        words = [i for i, s in enumerate(sentences) if s.strip()]
        if len(words) < len(sentences):  # a blank line stays blank: from nothing the model would invent a text
            found = self.translate([sentences[i] for i in words], to=targets, beam=beam, pivot=pivot,
                                   max_len=max_len) if words else {lang: [] for lang in targets}
            found_cut = self.cut_short if words else {lang: [] for lang in targets}
            found_sure = self.confidence if words else {lang: [] for lang in targets}
            found_match = self.matches if words else {lang: [] for lang in targets}
            input_cut = [False] * len(sentences)  # per call: the sub-call's flags at their lines, none if all blank
            for i, short in zip(words, self.input_cut if words else []):
                input_cut[i] = short
            self.input_cut = input_cut
            result = {lang: [""] * len(sentences) for lang in targets}
            cut = {lang: [False] * len(sentences) for lang in targets}  # a blank line is never cut short
            sure: dict[str, list[float | None]] = {lang: [None] * len(sentences) for lang in targets}
            matched: dict[str, list[Match | None]] = {lang: [None] * len(sentences) for lang in targets}
            for lang in targets:
                for i, text, short, value, match in zip(words, found[lang], found_cut[lang], found_sure[lang],
                                                        found_match[lang]):
                    result[lang][i], cut[lang][i], sure[lang][i], matched[lang][i] = text, short, value, match
            self.cut_short, self.confidence, self.matches = cut, sure, matched
            return result[targets[0]] if one else result
        if pivot:
            through = self.translate(sentences, to=pivot, beam=beam, max_len=max_len)
            through_cut, through_sure = self.cut_short[pivot], self.confidence[pivot]
            input_cut = self.input_cut  # the user's input, not the texts between
            result, cut, sure, matched = {}, {}, {}, {pivot: self.matches[pivot]}
            for lang in targets:
                if lang == pivot:
                    result[lang], cut[lang], sure[lang] = list(through), through_cut, through_sure
                    continue
                result[lang] = self.translate(through, to=lang, beam=beam, max_len=max_len)
                matched[lang] = self.matches[lang]  # the second leg's: the pivot text matched in the memory
                cut[lang] = [a or b for a, b in zip(through_cut, self.cut_short[lang])]
                # a chain is as sure as its weaker leg (the second leg alone would trust a bad pivot text)
                sure[lang] = [a if b is None else min(a, b) for a, b in zip(through_sure, self.confidence[lang])]
            self.cut_short, self.confidence, self.matches = cut, sure, matched
            self.input_cut = input_cut
            return result[targets[0]] if one else result
        limit = max_len or int(self.max_len * 1.5)
        result = {lang: [""] * len(sentences) for lang in targets}
        cut = {lang: [False] * len(sentences) for lang in targets}
        sure = {lang: [0.0] * len(sentences) for lang in targets}
        matched: dict[str, list[Match | None]] = {lang: [None] * len(sentences) for lang in targets}
        originals = [mask(s)[1] for s in sentences] if self.mask_ids else [[] for _ in sentences]
        for chunk, src in self._batches(sentences):
            thought = self.model.encode(src)
            for lang in targets:
                lang_ids = self.model.language_ids([lang] * len(chunk))
                match, found = self._match_ids([sentences[i] for i in chunk], lang)
                ids, scores = decode_thought(self.model, thought, lang_ids, limit, beam,
                                             masks=self._constraint(chunk, originals), with_scores=True, match=match)
                for i, m in zip(chunk, found):
                    matched[lang][i] = m
                for i, seq, text, score in zip(chunk, ids, self.tokenizer.decode(ids), scores):
                    result[lang][i] = self._restore(text, sentences[i], originals[i])
                    # search strips EOS, so an output as long as the limit never ended by itself
                    cut[lang][i] = self.input_cut[i] or len(seq) >= limit
                    sure[lang][i] = confidence(score)
        self.cut_short, self.confidence, self.matches = cut, sure, matched
        return result[targets[0]] if one else result

    def drafts(self, sentences: list[str], to: str | list[str], beam: int = 1, pivot: str | None = None,
               max_len: int | None = None) -> list[Draft] | dict[str, list[Draft]]:
        """:meth:`translate`, each output with the model's confidence in it (a :class:`Draft`).

        The confidence is the model's geometric-mean probability per token of what it wrote (in (0, 1],
        ``confidence.py``); through a pivot, the lower of the two legs'. ``self.calibration``, where the
        run has one (``interlingua calibrate``), turns it into a chance that the draft is good.
        """
        result = self.translate(sentences, to=to, beam=beam, pivot=pivot, max_len=max_len)
        def made(texts: list[str], lang: str) -> list[Draft]:
            return [Draft(text, value, m.score if m is not None else None)
                    for text, value, m in zip(texts, self.confidence[lang], self.matches[lang])]
        if isinstance(to, str):  # translate keys self.confidence by the model's code for ``to``
            return made(result, self._language(to))
        return {lang: made(texts, lang) for lang, texts in result.items()}

    def _constraint(self, chunk: list[int], originals: list[list[str]]) -> MaskConstraint | None:
        """Which masks each sentence of the batch must write: the first len(its placeholders)."""
        if not self.mask_ids:
            return None
        required = torch.zeros(len(chunk), len(self.mask_ids), dtype=torch.bool)
        ordered = torch.zeros_like(required)
        for row, i in enumerate(chunk):
            required[row, :len(originals[i])] = True
            ordered[row, :len(originals[i])] = torch.tensor([is_sequential(p) for p in originals[i]], dtype=torch.bool)
        return MaskConstraint(torch.tensor(self.mask_ids, device=self.device), required.to(self.device),
                              torch.tensor(self.raw_placeholder_ids, device=self.device), ordered.to(self.device))

    def _restore(self, output: str, source: str, originals: list[str]) -> str:
        """The source's placeholders in place of the masks, and no other (a message with more placeholders
        than masks keeps the extra ones as text: those it may keep)."""
        if not self.mask_ids:
            return output
        return unmask(drop_invented(output, tokens(mask(source)[0])), originals)

    @torch.inference_mode()
    def embed(self, sentences: list[str], language_removal: bool = True) -> np.ndarray:
        """One language-agnostic vector per sentence: the pooled thought, L2-normalised, float32; with the
        run's language directions projected out where it has them (``language_removal=False``: never)."""
        sentences = self._check_sentences(sentences)
        vectors = np.zeros((len(sentences), self.config.model.d_model), dtype=np.float32)
        for chunk, src in self._batches(sentences):
            vectors[chunk] = self.model.pool(self.model.encode(src)).float().cpu().numpy()
        if language_removal and self.language_removal is not None and len(sentences):
            vectors = self.language_removal.project(vectors)
        return vectors

    @torch.inference_mode()
    def identify(self, sentences: list[str]) -> np.ndarray:
        """(n, languages) how likely each sentence is in each of the model's languages (rows sum to 1).

        The encoder is never told the language, but the decoder is: for every language it is a
        language model of that language, conditioned on the thought. A sentence forced through the
        decoder from its own thought is most probable under its own language, so each language is
        scored by the sentence's log-likelihood, and a softmax over languages turns the scores into
        the posterior under a uniform prior, as the model sees it (as sure of itself as the model is,
        not calibrated). Nothing but the model folder is needed: no search, one decoder pass per language.
        """
        sentences = self._check_sentences(sentences)
        shares = np.zeros((len(sentences), len(self.languages)), dtype=np.float32)
        for chunk, src in self._batches(sentences):
            thought = self.model.encode(src)
            # the source ids are the target too: BOS-shifted in, EOS-ended out, as in training
            tgt_in = torch.cat([torch.full_like(src[:, :1], BOS), src[:, :-1]], dim=1)
            keep = (src != PAD).float()
            scores = []
            for lang in self.languages:
                # a memory model reads each sentence's match into ``lang``, as translate would give it
                match, _ = self._match_ids([sentences[i] for i in chunk], lang)
                state = self.model.start_decoding(thought, self.model.language_ids([lang] * len(chunk)), match=match)
                logp = self.model.decode(tgt_in, state, use_cache=False).float().log_softmax(-1)
                token_logp = logp.gather(-1, src[..., None]).squeeze(-1)                # (B, T)
                scores.append((token_logp * keep).sum(1))
            shares[chunk] = torch.stack(scores, 1).softmax(-1).cpu().numpy()
        return shares

    @torch.inference_mode()
    def layer_vectors(self, sentences: list[str]) -> dict[str, np.ndarray]:
        """Mean-pooled states of every depth, for probing what each layer learned.

        Keys: ``layer0`` (embeddings), ``layer1``..``layerN`` (after each encoder layer),
        ``thought`` (the k thought vectors concatenated) and ``pooled`` (what ``embed`` returns).
        """
        sentences = self._check_sentences(sentences)
        out: dict[str, list[tuple[list[int], np.ndarray]]] = {}
        for chunk, src in self._batches(sentences):
            thought, layers, keep = self.model.encode(src, return_layers=True)
            weights = keep.unsqueeze(-1).float() / keep.sum(1, keepdim=True).unsqueeze(-1)
            pooled = {f"layer{i}": (states * weights).sum(1) for i, states in enumerate(layers)}
            # Without a bridge the thought's length varies with the sentence: its pooled vector stands in.
            pooled["thought"] = thought.flatten(1) if self.config.model.bridge_queries else self.model.pool(thought)
            pooled["pooled"] = self.model.pool(thought)
            for key, value in pooled.items():
                out.setdefault(key, []).append((chunk, value.float().cpu().numpy()))
        result = {}
        for key, parts in out.items():
            array = np.zeros((len(sentences), parts[0][1].shape[1]), dtype=np.float32)
            for chunk, values in parts:
                array[chunk] = values
            result[key] = array
        return result

    def similarity(self, a: list[str], b: list[str]) -> np.ndarray:
        """Cosine similarity of a[i] and b[i], whatever their languages."""
        a, b = self._check_sentences(a, "a"), self._check_sentences(b, "b")
        if len(a) != len(b):
            raise ValueError(f"similarity compares a[i] with b[i]: a has {len(a)} sentences, b has {len(b)}")
        return (self.embed(a) * self.embed(b)).sum(axis=1)
