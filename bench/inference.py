"""Inference throughput: interlingua vs CTranslate2 fp32 and HF `generate`, same size, same inputs, same run.

    python bench/inference.py [--sentences 128] [--batch1-sentences 16] [--new-tokens 64] [--threads 2]
                              [--repeats 3] [--json OUT] [--tiny]

Every model: d 256, 4+4 layers, 4 heads, FFN 1024, one shared 8k SentencePiece vocabulary, tied
embeddings, random weights (throughput only: output lengths are forced, so the weights do not
change the work). interlingua is timed through the code `Translator.translate` runs
(`model.encode` then `search.decode_thought`); the peer is an HF `MarianMTModel` of the same size,
timed with `generate` and, converted by `ctranslate2.converters.TransformersConverter`, with
CTranslate2's `Translator.translate_batch` (float32, the same intra-op threads, inter_threads=1), in a
process of its own (see CT2: sharing one slows PyTorch down).
All three read the very same source sentences (English catalog messages of this machine, one
SentencePiece model, length-sorted batches as `Translator` makes them) and write exactly
--new-tokens tokens per sentence: EOS is forbidden until then (`min_len`, `min_new_tokens`,
`min_decoding_length`); the bench checks the token counts are equal.

Greedy and beam 4, batch 32 and batch 1. Each figure is the median of --repeats timed passes; the
systems take turns within each pass, so a change of load on the machine hits all of them. Figures
are printed as ratios to CTranslate2 fp32 and to HF, measured in this run; absolute tokens/s are
context only. Extra rows: interlingua with bf16 weights (`--precision bf16`, where the CPU multiplies
faster in bf16; CTranslate2 has no bf16 on CPUs), with dynamic int8 Linear layers, and CTranslate2 int8.
Then the levers on interlingua (greedy): unsorted batches, no_grad instead of inference_mode, 1 thread.
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from interlingua.config import ModelConfig  # noqa: E402
from interlingua.data import by_length, pad  # noqa: E402
from interlingua.model import Interlingua  # noqa: E402
from interlingua.search import decode_thought, greedy  # noqa: E402
from interlingua.tokenizer import Tokenizer, train_tokenizer  # noqa: E402
from interlingua.hardware import choose_precision  # noqa: E402

warnings.filterwarnings("ignore")  # torch.ao quantization deprecation notices; transformers generation notes

WORDS = ("open file save the a of to new cannot folder print error window user name system could not find "
         "settings network device select all copy paste delete show hide remove add search help about quit "
         "message disk password update version install package server connection failed").split()


# ----------------------------------------------------------------------------- inputs

def sentences(n_train: int, seed: int = 0) -> tuple[list[str], list[str]]:
    """(English messages to translate, sentences to train the tokenizer on) from this machine's catalogs."""
    import random
    rows = []
    try:
        from interlingua.corpus.harvest import harvest
        rows, _ = harvest([Path("/usr/share/locale/fr")], min_translations=1, progress=False)
    except Exception:  # noqa: BLE001  no catalogs here: made-up sentences keep the bench running
        rows = []
    rng = random.Random(seed)
    if len(rows) < 200:
        rows = [{"en": " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 14))),
                 "fr": " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 14)))} for _ in range(5000)]
    rng.shuffle(rows)
    english = [row["en"] for row in rows]
    return english, [t for row in rows[:n_train] for t in (row["en"], row.get("fr", ""))]


def make_batches(ids: list[list[int]], batch: int, sort: bool) -> list[list[int]]:
    """Row indices per batch of ``batch`` rows: in Translator's length order (data.by_length) or input order."""
    order = by_length([len(seq) for seq in ids]).tolist() if sort else list(range(len(ids)))
    return [order[i:i + batch] for i in range(0, len(order), batch)]


# ----------------------------------------------------------------------------- the systems

class Ours:
    """interlingua: encode once, decode_thought (what Translator.translate does per batch)."""

    def __init__(self, model: Interlingua, ids: list[list[int]], no_grad: bool = False):
        self.model, self.ids, self.no_grad = model, ids, no_grad

    def prepare(self, batches):
        return [pad([self.ids[i] for i in b]) for b in batches]

    def run(self, prepared, beam: int, new_tokens: int) -> int:
        n = 0
        context = torch.no_grad() if self.no_grad else torch.inference_mode()
        with context:
            for src in prepared:
                thought = self.model.encode(src)
                lang = self.model.language_ids(["fr"] * len(src))
                if self.no_grad:  # the search without its inference_mode decorator
                    out = (greedy.__wrapped__(self.model, thought, lang, new_tokens, min_len=new_tokens)
                           if beam <= 1 else decode_thought(self.model, thought, lang, new_tokens, beam, new_tokens))
                else:
                    out = decode_thought(self.model, thought, lang, new_tokens, beam, min_len=new_tokens)
                n += sum(map(len, out))
        return n


class HF:
    def __init__(self, model, ids: list[list[int]], pad: int, eos: int):
        self.model, self.ids, self.pad, self.eos = model, ids, pad, eos

    def prepare(self, batches):
        out = []
        for b in batches:
            src = pad([self.ids[i] for i in b], pad_id=self.pad)
            out.append((src, (src != self.pad).long()))
        return out

    def run(self, prepared, beam: int, new_tokens: int) -> int:
        n = 0
        with torch.inference_mode():
            for src, mask in prepared:
                out = self.model.generate(input_ids=src, attention_mask=mask, num_beams=beam, do_sample=False,
                                          min_new_tokens=new_tokens, max_new_tokens=new_tokens)
                for row in out[:, 1:].tolist():  # after the start token; a row that ended is cut at its EOS
                    n += row.index(self.eos) if self.eos in row else len(row)
        return n


class CT2:
    """CTranslate2 in a process of its own, run in turns with the others from here.

    Once CTranslate2 has translated in a process, PyTorch's operators in that same process run
    ~15% slower for good (measured: interlingua beam 4, batch 32 went 1,460 -> 1,210 tok/s right after
    one CTranslate2 batch and stayed there; layer norm, indexing and copies slowed most). Users do
    not run the two in one process, so the bench does not either.
    """

    def __init__(self, model_dir: Path, compute_type: str, threads: int, pieces: list[list[str]]):
        import multiprocessing
        spawn = multiprocessing.get_context("spawn")  # a fresh interpreter: nothing of this process's runtimes
        self.connection, child = spawn.Pipe()
        self.process = spawn.Process(target=ct2_worker, args=(child, str(model_dir), compute_type, threads, pieces),
                                     daemon=True)
        self.process.start()
        reply = self.connection.recv()  # "ready", or why CTranslate2 could not load
        if reply != "ready":
            raise RuntimeError(reply)

    def prepare(self, batches):
        return batches

    def run(self, prepared, beam: int, new_tokens: int) -> int:
        self.connection.send((prepared, beam, new_tokens))
        return self.connection.recv()

    def close(self) -> None:
        self.connection.send(None)
        self.process.join(timeout=30)


def ct2_worker(connection, model_dir: str, compute_type: str, threads: int, pieces: list[list[str]]) -> None:
    """The CTranslate2 side of CT2: translate the batches of row indices it is sent, reply with the tokens written."""
    try:
        import ctranslate2
        translator = ctranslate2.Translator(model_dir, device="cpu", compute_type=compute_type,
                                            intra_threads=threads, inter_threads=1)
    except Exception as exc:  # noqa: BLE001  reported by the parent, which skips this peer
        connection.send(f"{type(exc).__name__}: {exc}")
        return
    connection.send("ready")
    while (job := connection.recv()) is not None:
        batches, beam, new_tokens = job
        n = 0
        for batch in batches:
            results = translator.translate_batch([pieces[i] for i in batch], beam_size=beam, max_batch_size=0,
                                                 num_hypotheses=1, min_decoding_length=new_tokens,
                                                 max_decoding_length=new_tokens)
            n += sum(len(r.hypotheses[0]) for r in results)
        connection.send(n)


def build_marian(config: ModelConfig, sp_path: Path, folder: Path):
    """An HF MarianMTModel of the same size, saved with the Marian tokenizer files CTranslate2 wants.

    Its vocabulary is the SentencePiece one with <pad> moved to the last id (the converter drops the
    last id as Marian's start-from-zero pad): Marian id = interlingua id - 1, <pad> = V - 1.
    """
    import shutil
    from transformers import MarianConfig, MarianMTModel
    import sentencepiece as spm
    sp = spm.SentencePieceProcessor(model_file=str(sp_path))
    pieces = [sp.id_to_piece(i) for i in range(sp.get_piece_size())]
    marian_pieces = pieces[1:] + [pieces[0]]
    vocab = {p: i for i, p in enumerate(marian_pieces)}
    pad, eos = len(marian_pieces) - 1, vocab["</s>"]
    hf = MarianConfig(vocab_size=len(marian_pieces), d_model=config.d_model, encoder_layers=config.encoder_layers,
                      decoder_layers=config.decoder_layers, encoder_attention_heads=config.n_heads,
                      decoder_attention_heads=config.n_heads, encoder_ffn_dim=config.d_ff,
                      decoder_ffn_dim=config.d_ff, max_position_embeddings=config.max_positions, dropout=0.0,
                      attention_dropout=0.0, activation_dropout=0.0, activation_function="gelu",
                      pad_token_id=pad, eos_token_id=eos, decoder_start_token_id=pad, forced_eos_token_id=None,
                      share_encoder_decoder_embeddings=True, tie_word_embeddings=True)
    torch.manual_seed(1)
    model = MarianMTModel(hf).eval()
    gen = model.generation_config
    gen.pad_token_id, gen.eos_token_id, gen.decoder_start_token_id = pad, eos, pad
    gen.forced_eos_token_id, gen.bad_words_ids, gen.num_beams = None, None, 1
    model.save_pretrained(folder)
    for name in ("source.spm", "target.spm"):
        shutil.copy(sp_path, folder / name)
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False))
    (folder / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "MarianTokenizer", "source_lang": "en", "target_lang": "fr", "separate_vocabs": False,
        "eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>", "model_max_length": 512}))
    return model, pad, eos


# ----------------------------------------------------------------------------- timing

def measure(systems: dict, batches, beam: int, new_tokens: int, repeats: int) -> dict:
    """{name: {tok_s, seconds, tokens}}: median of ``repeats`` passes, the systems taking turns in each.

    ``batches``: one list of row-index batches for all, or {name: batches} to give each its own.
    """
    prepared = {name: s.prepare(batches[name] if isinstance(batches, dict) else batches)
                for name, s in systems.items()}
    for name, s in systems.items():  # warm-up: one batch each
        s.run(prepared[name][:1], beam, new_tokens)
    runs: dict[str, list[tuple[float, int]]] = {name: [] for name in systems}
    for _ in range(repeats):
        for name, s in systems.items():
            start = time.perf_counter()
            tokens = s.run(prepared[name], beam, new_tokens)
            runs[name].append((time.perf_counter() - start, tokens))
    out = {}
    for name, r in runs.items():
        seconds = statistics.median(t for t, _ in r)
        out[name] = {"tok_s": r[0][1] / seconds, "seconds": seconds, "tokens": r[0][1],
                     "all_tok_s": [n / t for t, n in r]}
    return out


def machine(threads: int) -> dict:
    cpu, flags = platform.processor() or platform.machine(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and cpu in ("", platform.machine(), platform.processor()):
                cpu = line.split(":", 1)[1].strip()
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    info = {"cpu": cpu, "logical_cores": os.cpu_count(), "threads": threads, "torch": torch.__version__,
            "isa": ",".join(f for f in ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile")
                            if f in flags) or "?",
            "load_average": os.getloadavg()}
    for module in ("transformers", "ctranslate2"):
        try:
            info[module] = __import__(module).__version__
        except ImportError:
            info[module] = None
    return info


def ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}x" if a and b else "n/a"


# ----------------------------------------------------------------------------- main

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sentences", type=int, default=128, help="sentences timed at batch 32 (per pass)")
    parser.add_argument("--batch1-sentences", type=int, default=16, help="sentences timed at batch 1 (per pass)")
    parser.add_argument("--new-tokens", type=int, default=64, help="tokens every system writes per sentence")
    parser.add_argument("--threads", type=int, default=None, help="intra-op threads for all (default: torch's)")
    parser.add_argument("--repeats", type=int, default=3, help="timed passes; the median is reported")
    parser.add_argument("--batch", type=int, default=32, help="the large batch size")
    parser.add_argument("--no-int8", action="store_true", help="skip the int8 rows")
    parser.add_argument("--no-levers", action="store_true", help="skip the lever measurements")
    parser.add_argument("--tiny", action="store_true", help="a seconds-long run to keep this script working (tests)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    config = ModelConfig(vocab_size=8000, d_model=256, n_heads=4, d_ff=1024, encoder_layers=4, decoder_layers=4,
                         bridge_queries=16, dropout=0.0, target_languages=["en", "fr", "de"])
    n_train = 20_000
    if args.tiny:
        config = ModelConfig(vocab_size=400, d_model=32, n_heads=2, d_ff=64, encoder_layers=1, decoder_layers=1,
                             bridge_queries=4, dropout=0.0, target_languages=["en", "fr", "de"])
        args.sentences, args.batch1_sentences, args.new_tokens, args.repeats, args.batch = 8, 2, 8, 1, 4
        n_train = 1000
    threads = args.threads or torch.get_num_threads()
    torch.set_num_threads(threads)
    info = machine(threads)
    notes: list[str] = []

    english, train_text = sentences(n_train)
    tmp = tempfile.TemporaryDirectory()
    folder = Path(tmp.name)
    tokenizer: Tokenizer = train_tokenizer(train_text, folder / "spm.model", config.vocab_size)
    config.vocab_size = tokenizer.vocab_size
    ids = tokenizer.encode(english[:max(args.sentences, args.batch1_sentences)], max_len=64)
    n_src = sum(map(len, ids[:args.sentences])) / args.sentences

    torch.manual_seed(0)
    ours = Interlingua(config).eval()
    systems: dict[str, object] = {"interlingua": Ours(ours, ids)}
    if choose_precision("auto", torch.device("cpu"), config, 4000) == "bf16":
        # Translator.load(..., precision="bf16"): the weights themselves in bf16, half the bytes per step.
        systems["interlingua bf16"] = Ours(copy.deepcopy(ours).to(torch.bfloat16), ids)
    else:
        notes.append("no interlingua bf16 row: `precision: auto` picks fp32 for this model on this CPU")
    if not args.no_int8:
        quantised = torch.ao.quantization.quantize_dynamic(copy.deepcopy(ours), {torch.nn.Linear}, dtype=torch.qint8)
        systems["interlingua int8"] = Ours(quantised, ids)
    sizes = {"interlingua": ours.num_parameters()}

    try:
        import transformers
        transformers.logging.set_verbosity_error()
        transformers.logging.disable_progress_bar()
        hf_model, hf_pad, hf_eos = build_marian(config, folder / "spm.model", folder / "marian")
        sizes["HF Marian"] = sum(p.numel() for p in hf_model.parameters())
    except ImportError as exc:
        hf_model = None
        notes.append(f"HF transformers not available ({exc}): HF generate and CTranslate2 are skipped")
    try:
        import ctranslate2
    except ImportError:
        ctranslate2 = None
        notes.append("CTranslate2 is not installed (pip install ctranslate2==4.8.5): its rows are skipped, "
                     "ratios to it are n/a")
    if ctranslate2 is not None and hf_model is not None:
        try:
            from ctranslate2.converters import TransformersConverter
            TransformersConverter(str(folder / "marian")).convert(str(folder / "ct2"), force=True)
            pieces = [[tokenizer.sp.id_to_piece(i) for i in seq] for seq in ids]
            for name, compute in (("CTranslate2 fp32", "float32"), ("CTranslate2 int8", "int8")):
                if compute == "int8" and args.no_int8:
                    continue
                systems[name] = CT2(folder / "ct2", compute, threads, pieces)
        except Exception as exc:  # noqa: BLE001  the bench still runs without this peer, and says why
            notes.append(f"CTranslate2 conversion or loading failed: {type(exc).__name__}: {exc}")
    if hf_model is not None:
        systems["HF generate"] = HF(hf_model, [[i - 1 for i in seq] for seq in ids], hf_pad, hf_eos)

    configs = [("greedy", 1, args.batch, args.sentences), ("greedy", 1, 1, args.batch1_sentences),
               ("beam 4", 4, args.batch, args.sentences), ("beam 4", 4, 1, args.batch1_sentences)]
    results = []
    for decoding, beam, batch, n in configs:
        batches = make_batches(ids[:n], batch, sort=True)
        figures = measure(systems, batches, beam, args.new_tokens, args.repeats)
        counts = {name: f["tokens"] for name, f in figures.items()}
        if len(set(counts.values())) != 1 or counts["interlingua"] != n * args.new_tokens:
            notes.append(f"{decoding} batch {batch}: output token counts differ: {counts}")
        results.append({"decoding": decoding, "beam": beam, "batch": batch, "sentences": n, "systems": figures})

    levers = []
    if not args.no_levers:  # levers timed in turns with their baseline; the 1-thread pass follows it
        for batch, n in ((args.batch, args.sentences), (1, args.batch1_sentences)):
            batches = make_batches(ids[:n], batch, sort=True)
            trial = {"baseline": Ours(ours, ids), "no_grad instead of inference_mode": Ours(ours, ids, no_grad=True)}
            plan = {"baseline": batches, "no_grad instead of inference_mode": batches}
            if batch > 1:
                trial["unsorted batches"] = Ours(ours, ids)
                plan["unsorted batches"] = make_batches(ids[:n], batch, sort=False)
            figures = measure(trial, plan, 1, args.new_tokens, args.repeats)
            rows = {name: f["tok_s"] for name, f in figures.items()}
            if threads > 1:
                torch.set_num_threads(1)
                one = measure({"1": Ours(ours, ids)}, batches, 1, args.new_tokens, args.repeats)
                rows["1 thread"] = one["1"]["tok_s"]
                torch.set_num_threads(threads)
            levers.append({"batch": batch, "tok_s": rows})

    for system in systems.values():
        if isinstance(system, CT2):
            system.close()
    info["load_average_end"] = os.getloadavg()
    tmp.cleanup()

    # --------------------------------------------------------------------------- report
    print(f"machine: {info['cpu']} ({info['isa']}), {info['logical_cores']} logical cores, {threads} threads, "
          f"torch {info['torch']}, transformers {info['transformers']}, ctranslate2 {info['ctranslate2']}; "
          f"load average {info['load_average'][0]:.2f} at start, {info['load_average_end'][0]:.2f} at end")
    print(f"models: d {config.d_model}, {config.encoder_layers}+{config.decoder_layers} layers, "
          f"{config.n_heads} heads, FFN {config.d_ff}, vocab {config.vocab_size}; parameters: "
          + ", ".join(f"{k} {v / 1e6:.2f}M" for k, v in sizes.items()))
    print(f"inputs: {args.sentences} sentences at batch {args.batch}, {args.batch1_sentences} at batch 1, "
          f"mean {n_src:.1f} source tokens; {args.new_tokens} output tokens forced per sentence; "
          f"median of {args.repeats} passes")
    same = all(len({f["tokens"] for f in r["systems"].values()}) == 1 for r in results)
    print("output tokens: " + ("identical for every system in every row" if same else "NOT identical (see notes)")
          + "; " + ", ".join(f"{r['decoding']} b{r['batch']} {r['systems']['interlingua']['tokens']}" for r in results))
    for note in notes:
        print(f"note: {note}")
    print()
    print(f"{'decoding':<9}{'batch':>6}  {'system':<18}{'tok/s':>9}{'/ CT2 fp32':>12}{'/ HF':>8}")
    for r in results:
        ct2 = r["systems"].get("CTranslate2 fp32", {}).get("tok_s")
        hf = r["systems"].get("HF generate", {}).get("tok_s")
        for name, f in r["systems"].items():
            print(f"{r['decoding']:<9}{r['batch']:>6}  {name:<18}{f['tok_s']:>9.0f}{ratio(f['tok_s'], ct2):>12}"
                  f"{ratio(f['tok_s'], hf):>8}")
    print()
    summary = []
    for r in results:
        ct2 = r["systems"].get("CTranslate2 fp32", {}).get("tok_s")
        summary.append((f"{r['decoding']} b{r['batch']}", r["systems"]["interlingua"]["tok_s"], ct2))
    print("interlingua / CTranslate2 fp32: " + ", ".join(f"{k} {ratio(a, b)}" for k, a, b in summary)
          + f" (goal: >= 1.0x at batch {args.batch} and batch 1)")
    if any(b is None for *_, b in summary):
        print("goal not checked: no CTranslate2 figures in this run")
    else:
        met = [a >= b for _, a, b in summary]
        print(f"goal met in {sum(met)} of {len(met)} rows" + ("" if all(met) else ": NOT MET"))
    for name in ("interlingua bf16", "interlingua int8"):
        if all(name in r["systems"] for r in results):
            for peer in ("CTranslate2 fp32", "CTranslate2 int8"):
                pairs = [(f"{r['decoding']} b{r['batch']}", r["systems"][name]["tok_s"],
                          r["systems"].get(peer, {}).get("tok_s")) for r in results]
                if all(b is not None for *_, b in pairs):
                    print(f"{name} / {peer}: " + ", ".join(f"{k} {ratio(a, b)}" for k, a, b in pairs))
    if levers:
        print()
        print("levers on interlingua, greedy (tok/s, ratio to the baseline measured in turn with it):")
        for lever in levers:
            base = lever["tok_s"]["baseline"]
            print(f"  batch {lever['batch']}: " + "; ".join(f"{k} {v:.0f} ({v / base:.2f}x)"
                                                           for k, v in lever["tok_s"].items()))
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "config": vars(config), "notes": notes,
                                         "results": results, "levers": levers,
                                         "args": {k: str(v) for k, v in vars(args).items()}}, indent=2))


if __name__ == "__main__":
    main()
