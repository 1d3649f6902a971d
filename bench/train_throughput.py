"""Training throughput: interlingua vs HF Marian and OpenNMT-py at the same size, same batches, same threads, same run.

    python bench/train_throughput.py [--corpus data/corpus.train.jsonl] [--steps 20] [--tiny]
                                     [--onmt-python /work/venvs/onmt/bin/python] [--onmt-batching same|own]

Every model: d 256, 4+4 layers, 4 heads, FFN 1024 (GELU), 8k shared vocabulary, tied embeddings, no
dropout, Adam(W) at a constant 7e-4, label smoothing 0.1, gradient clipping at 1. All train on the very
same token batches (real catalog sentences, SentencePiece) for the same number of steps. FLOPs are
counted the same way for all (../shared/peers.md): 6 · (non-embedding parameters of each side × tokens
on that side + V·d per target token) plus attention terms, and MFU divides by an fp32 matmul measured
in this same run. Prints figures as ratios; absolute numbers only as context.

Where this CPU multiplies faster in bf16 (AVX-512 BF16 or AMX; the bench measures it as interlingua's
`precision: auto` does), interlingua and HF Marian also run under bf16 autocast (bf16 matmuls, fp32
weights, optimizer and loss; for Marian, what HF Trainer's bf16=True does on a CPU). OpenNMT-py 3.5
has no bf16 for CPUs (its fp16 is CUDA amp). The headline ratio is interlingua as it trains by
default here against the fastest peer in either precision; like-for-like ratios follow.

OpenNMT-py runs where it is installed, in its own virtualenv (it pins an old torch). What worked here:

    python -m venv /work/venvs/onmt && /work/venvs/onmt/bin/pip install torch==2.13.0
    /work/venvs/onmt/bin/pip install --no-deps opennmt-py==3.5.1
    echo 'torch==2.13.0' > /tmp/c.txt && /work/venvs/onmt/bin/pip install -c /tmp/c.txt configargparse pyyaml \
        sacrebleu rapidfuzz pyahocorasick fasttext-wheel spacy six tensorboard sentencepiece numpy 'pyonmttok>=1.37,<2'

It runs `onmt_train` in a subprocess with the same thread count, on the same SentencePiece pieces
written as text, its vocabulary written from the same SentencePiece model. With `--onmt-batching same`
(the default) its data iterator is handed exactly the batches the others train on; with `own` it
batches all the pairs the bench tokenised (≤ 60k) itself (length-sorted buckets over all of them,
duplicate sources left out of a batch), which is its real-world speed rather than a like-for-like
one. The shared batches are bucketed by length as interlingua's trainer makes them. Its target tokens/s come from its per-step reports (`report_every 1`), the
first `--warmup` steps left out.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from interlingua.config import ModelConfig, TrainConfig  # noqa: E402
from interlingua.model import Interlingua  # noqa: E402
from interlingua.hardware import choose_precision, measure_matmul_flops  # noqa: E402
from interlingua.losses import output_layer_loss, translation_loss  # noqa: E402
from interlingua.tokenizer import BOS, PAD  # noqa: E402


def real_batches(corpus: Path | None, vocab: int, n_batches: int, max_tokens: int, seed: int = 0):
    """Token batches from real en->X catalog pairs, tokenised by a SentencePiece model trained here.

    Returns (batches, vocabulary size, data): data holds what another toolkit needs to train on the
    same batches: the SentencePiece pieces by id, every tokenised pair (source, target ids, EOS
    included) and, for each batch, the indices of its pairs."""
    import random
    from interlingua.corpus.formats import read_corpus, row_languages
    from interlingua.corpus.harvest import harvest
    from interlingua.tokenizer import train_tokenizer
    import tempfile
    if corpus and corpus.exists():
        rows = read_corpus(corpus)
    else:
        rows, _ = harvest([Path("/usr/share/locale") / lang for lang in ("fr", "de", "es")], progress=False)
    pairs = [(row["en"], row[lang]) for row in rows for lang in row_languages(row) if lang != "en"]
    random.Random(seed).shuffle(pairs)
    pairs = pairs[:60_000]
    with tempfile.TemporaryDirectory() as tmp:
        tokenizer = train_tokenizer([t for p in pairs[:20_000] for t in p], Path(tmp) / "spm.model", vocab)
        src = tokenizer.encode([p[0] for p in pairs], max_len=64)
        tgt = tokenizer.encode([p[1] for p in pairs], max_len=64)
    pieces = [tokenizer.sp.IdToPiece(i) for i in range(tokenizer.vocab_size)]
    # Batches as interlingua's trainer makes them (interlingua.data.bucket: shuffled, then sorted by
    # length within pools of ~64 batches, at most max_tokens padded tokens): cutting the shuffled
    # pairs in order instead would make ~3/4 of every batch padding, for every system alike.
    import numpy as np
    from interlingua.data import bucket, to_batch
    lengths = np.array([max(len(a), len(b)) for a, b in zip(src, tgt)])
    groups = bucket(lengths, max_tokens, np.random.default_rng(seed))[:n_batches]
    batches, batch_rows = [], []
    for group in groups:
        rows_in = [int(j) for j in group]
        batch = to_batch([src[j] for j in rows_in], [tgt[j] for j in rows_in], [0] * len(rows_in), rows_in)
        batches.append((batch.src, batch.tgt_in, batch.tgt_out))
        batch_rows.append(rows_in)
    return batches, tokenizer.vocab_size, {"pieces": pieces, "src": src, "tgt": tgt, "batch_rows": batch_rows}


def marian(config: ModelConfig, **settings):
    """An HF MarianMTModel of ``config``'s size; ``settings``: other MarianConfig values (bench/peer_curve.py)."""
    from transformers import MarianConfig, MarianMTModel
    hf = MarianConfig(**{**dict(
        vocab_size=config.vocab_size, d_model=config.d_model, encoder_layers=config.encoder_layers,
        decoder_layers=config.decoder_layers, encoder_attention_heads=config.n_heads,
        decoder_attention_heads=config.n_heads, encoder_ffn_dim=config.d_ff, decoder_ffn_dim=config.d_ff,
        max_position_embeddings=256, dropout=0.0, attention_dropout=0.0, activation_dropout=0.0,
        activation_function="gelu", pad_token_id=PAD, decoder_start_token_id=BOS,
        share_encoder_decoder_embeddings=True, tie_word_embeddings=True), **settings})
    return MarianMTModel(hf)


def marian_flops_per_target_token(model, config: ModelConfig, src_len: float, tgt_len: float) -> float:
    """The same count as Interlingua.flops_per_target_token, for Marian's layers (cross-attention over S)."""
    enc = sum(p.numel() for n, p in model.model.encoder.named_parameters() if "embed" not in n)
    dec = sum(p.numel() for n, p in model.model.decoder.named_parameters() if "embed" not in n)
    return seq2seq_flops_per_target_token(enc, dec, config, src_len, tgt_len)


def seq2seq_flops_per_target_token(enc: int, dec: int, config: ModelConfig, src_len: float,
                                   tgt_len: float) -> float:
    """A plain encoder-decoder (Marian, OpenNMT-py): enc/dec non-embedding parameters, cross-attention over S."""
    d, v = config.d_model, config.vocab_size
    matmul = enc * src_len + dec * tgt_len + v * d * tgt_len
    attention = (config.encoder_layers * src_len * src_len
                 + config.decoder_layers * (tgt_len * tgt_len / 2 + tgt_len * src_len)) * 2 * d
    return 6 * (matmul + attention) / tgt_len

# ----------------------------------------------------------------------------- OpenNMT-py, in its own venv

ONMT_PYTHON = Path("/work/venvs/onmt/bin/python")

# Runs in the OpenNMT-py virtualenv: `onmt_train` itself (onmt.bin.train.main), with three changes that
# touch no timed work: torch's thread count is set, the built model's non-embedding parameters are printed
# for the FLOP count, and no checkpoint is written at the end. With BENCH_BATCHES, the data iterator
# yields exactly the bench's batches (pairs by line number of the written files) instead of its own
# length-sorted ones; all are tensorised before the first step, as the bench's batches are.
ONMT_DRIVER = """
import json, os, sys
import torch
torch.set_num_threads(int(os.environ["BENCH_THREADS"]))
import onmt
import onmt.train_single as train_single
from onmt.inputters import dynamic_iterator
from onmt.inputters.text_utils import tensorify

print("BENCH_VERSION " + onmt.__version__, flush=True)
build_model = train_single.build_model

def counting_build_model(*args, **kwargs):
    model = build_model(*args, **kwargs)
    def body(module):
        return sum(p.numel() for n, p in module.named_parameters() if "embeddings" not in n)
    print("BENCH_PARAMS " + json.dumps({"encoder": body(model.encoder), "decoder": body(model.decoder),
                                        "total": sum(p.numel() for p in model.parameters())}), flush=True)
    return model

train_single.build_model = counting_build_model
train_single.build_model_saver = lambda *args, **kwargs: None

if os.environ.get("BENCH_BATCHES"):
    with open(os.environ["BENCH_BATCHES"]) as f:
        batch_rows = json.load(f)

    def same_batches(self):
        examples = {}
        for bucket, _ in self._bucketing():  # bucket_size = the lines written: one pass over the file
            examples.update((ex["cid_line_number"], ex) for ex in bucket)
            break
        missing = sum(j not in examples for rows in batch_rows for j in rows)
        print(f"BENCH_MISSING {missing}", flush=True)
        tensors = [tensorify(self.vocabs, [(examples[j], j) for j in rows if j in examples], self.device,
                             self.left_pad) for rows in batch_rows]
        while True:
            for tensor_batch in tensors:
                yield tensor_batch, 0

    dynamic_iterator.DynamicDatasetIter.__iter__ = same_batches

from onmt.bin.train import main
sys.argv = ["onmt_train"] + sys.argv[1:]
main()
"""

ONMT_STEP = re.compile(r"Step\s+(\d+)/\s*\d+;.*?bsz:\s*(\d+)/\s*(\d+)/\s*(\d+);\s*(\d+)/\s*(\d+) tok/s")


def onmt_config(config: ModelConfig, folder: Path, max_tokens: int, train_steps: int, bucket_size: int) -> str:
    """onmt_train's YAML: the bench's architecture and optimiser in OpenNMT-py 3.5 option names."""
    return f"""\
data:
  corpus_1:
    path_src: {folder / "train.src"}
    path_tgt: {folder / "train.tgt"}
src_vocab: {folder / "vocab.txt"}
share_vocab: true
src_vocab_size: {config.vocab_size}
tgt_vocab_size: {config.vocab_size}
vocab_size_multiple: 1
save_model: {folder / "model"}
overwrite: true
seed: 0
world_size: 1
num_workers: 0
model_type: text
encoder_type: transformer
decoder_type: transformer
enc_layers: {config.encoder_layers}
dec_layers: {config.decoder_layers}
hidden_size: {config.d_model}
word_vec_size: {config.d_model}
heads: {config.n_heads}
transformer_ff: {config.d_ff}
pos_ffn_activation_fn: gelu
add_qkvbias: true
add_ffnbias: true
position_encoding: true
max_relative_positions: 0
share_embeddings: true
share_decoder_embeddings: true
dropout: [0.0]
attention_dropout: [0.0]
dropout_steps: [0]
param_init: 0
param_init_glorot: true
optim: adam
adam_beta1: 0.9
adam_beta2: 0.98
learning_rate: 0.0007
decay_method: none
warmup_steps: 0
max_grad_norm: 1.0
label_smoothing: 0.1
normalization: tokens
accum_count: [1]
batch_type: tokens
batch_size: {max_tokens}
batch_size_multiple: 1
bucket_size: {bucket_size}
train_steps: {train_steps}
valid_steps: {train_steps + 1}
save_checkpoint_steps: {train_steps + 1}
report_every: 1
model_dtype: fp32
"""


def onmt_training(python: Path, config: ModelConfig, data: dict, n_batches: int, warmup: int,
                  max_tokens: int, threads: int, batching: str) -> dict | None:
    """Train OpenNMT-py for the bench's steps in a subprocess; its target tokens/s from the per-step reports."""
    import subprocess
    import tempfile
    pieces = list(data["pieces"])
    pieces[PAD] = "<blank>"  # OpenNMT-py's padding token: the vocabulary keeps exactly V entries
    if any(not p or any(c.isspace() for c in p) for p in pieces):
        print("OpenNMT-py: skipped, a SentencePiece piece is empty or holds whitespace")
        return None
    # Every pair the bench tokenised, as pieces: the source keeps its </s> (the others' sources have it); the
    # target leaves it out, since OpenNMT-py adds <s> and </s> itself (its targets then match the others').
    used = max(j for rows in data["batch_rows"][:n_batches] for j in rows) + 1
    lines = used if batching == "same" else len(data["src"])
    with tempfile.TemporaryDirectory(prefix="onmt-bench-") as tmp:
        folder = Path(tmp)
        (folder / "vocab.txt").write_text("".join(p + "\n" for p in pieces), encoding="utf-8")
        (folder / "train.src").write_text(
            "".join(" ".join(pieces[i] for i in ids) + "\n" for ids in data["src"][:lines]), encoding="utf-8")
        (folder / "train.tgt").write_text(
            "".join(" ".join(pieces[i] for i in ids[:-1]) + "\n" for ids in data["tgt"][:lines]), encoding="utf-8")
        (folder / "config.yaml").write_text(onmt_config(config, folder, max_tokens, n_batches, lines))
        (folder / "driver.py").write_text(ONMT_DRIVER)
        env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads), BENCH_THREADS=str(threads),
                   PYTHONWARNINGS="ignore")
        if batching == "same":
            (folder / "batches.json").write_text(json.dumps(data["batch_rows"][:n_batches]))
            env["BENCH_BATCHES"] = str(folder / "batches.json")
        start = time.perf_counter()
        run = subprocess.run([str(python), str(folder / "driver.py"), "-config", str(folder / "config.yaml")],
                             cwd=tmp, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        wall = time.perf_counter() - start
    log = run.stdout
    steps = [tuple(int(x) for x in m.groups()) for m in ONMT_STEP.finditer(log)]
    params = re.search(r"BENCH_PARAMS (\{.*\})", log)
    version = re.search(r"BENCH_VERSION (\S+)", log)
    if run.returncode != 0 or len(steps) < n_batches or not params:
        tail = "\n    ".join(log.strip().splitlines()[-15:])
        print(f"OpenNMT-py: skipped, onmt_train exited {run.returncode} after {len(steps)} step reports:\n    {tail}")
        return None
    missing = re.search(r"BENCH_MISSING (\d+)", log)
    if missing and int(missing.group(1)):
        print(f"OpenNMT-py: note, {missing.group(1)} of the bench's pairs were dropped by its reader")
    # One report per step: bsz = src/tgt tokens and sentences of that step, tok/s = tokens / its seconds.
    timed = [s for s in steps if s[0] > warmup][: n_batches - warmup]
    tokens = sum(t for _, _, t, _, _, _ in timed)
    seconds = sum(t / rate for _, _, t, _, _, rate in timed)
    sentences = sum(n for _, _, _, n, _, _ in timed)
    counts = json.loads(params.group(1))
    return {"name": "OpenNMT-py", "target_tokens_per_s": tokens / seconds, "seconds": seconds, "tokens": tokens,
            "steps": len(timed), "batching": batching, "wall_seconds_incl_startup": wall,
            "src_len": sum(s for _, s, _, _, _, _ in timed) / sentences, "tgt_len": tokens / sentences,
            "sentences_per_batch": sentences / len(timed), "parameters": counts,
            "onmt_version": version.group(1) if version else None}


def time_training(name: str, step_fn, batches, warmup: int) -> dict:
    for s, t_in, t_out in batches[:warmup]:
        step_fn(s, t_in, t_out)
    tokens, start = 0, time.perf_counter()
    for s, t_in, t_out in batches[warmup:]:
        step_fn(s, t_in, t_out)
        tokens += int((t_out != PAD).sum())
    seconds = time.perf_counter() - start
    return {"name": name, "target_tokens_per_s": tokens / seconds, "seconds": seconds, "tokens": tokens}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=Path("data/corpus.train.jsonl"))
    parser.add_argument("--steps", type=int, default=20, help="timed steps per system")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--max-tokens", type=int, default=4000, help="padded tokens per batch (peers.md used 4000)")
    parser.add_argument("--tiny", action="store_true", help="a seconds-long run to keep this script working (tests)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--onmt-python", type=Path, default=ONMT_PYTHON if ONMT_PYTHON.exists() else None,
                        help="python of a virtualenv with OpenNMT-py (default: %(default)s where it exists; "
                             "'' skips OpenNMT-py)")
    parser.add_argument("--onmt-batching", choices=["same", "own"], default="same",
                        help="same: OpenNMT-py trains on the bench's batches; own: its own length-sorted "
                             "batching of all the tokenised pairs (less padding)")
    args = parser.parse_args()
    if args.onmt_python is not None and str(args.onmt_python) in ("", "."):
        args.onmt_python = None

    config = ModelConfig(vocab_size=8000, d_model=256, n_heads=4, d_ff=1024, encoder_layers=4, decoder_layers=4,
                         bridge_queries=16, dropout=0.0, target_languages=["en", "fr", "de"])
    if args.tiny:
        config = ModelConfig(vocab_size=400, d_model=32, n_heads=2, d_ff=64, encoder_layers=1, decoder_layers=1,
                             bridge_queries=4, dropout=0.0, target_languages=["en", "fr", "de"])
        args.steps, args.warmup, args.max_tokens = 2, 1, 500
    batches, vocab, data = real_batches(args.corpus, config.vocab_size, args.steps + args.warmup, args.max_tokens)
    config.vocab_size = vocab
    peak = measure_matmul_flops(n=256 if args.tiny else 1024)
    peak_bf16 = measure_matmul_flops(n=256 if args.tiny else 1024, dtype=torch.bfloat16)

    # bf16 autocast (bf16 matmuls, fp32 weights and optimizer) where this CPU multiplies faster in bf16:
    # interlingua's `precision: auto` makes the same measurement. HF Marian gets it too (what Trainer's
    # bf16=True does on a CPU); OpenNMT-py 3.5 has no bf16 for CPUs (its fp16 is CUDA amp only).
    chosen = choose_precision("auto", torch.device("cpu"), config, args.max_tokens)
    precisions = ["fp32", "bf16"] if chosen == "bf16" else ["fp32"]
    if chosen != "bf16":
        print("bf16 rows skipped: `precision: auto` picks fp32 for this model on this CPU (bf16 not measured faster, "
              "or a model too small to gain)")
    lang = torch.zeros(1, dtype=torch.long)

    def training_step(model, optimizer, precision: str, loss_of):
        """One optimizer step on a batch, the forward pass and loss (``loss_of``) under bf16 autocast or not."""
        def step(s, t_in, t_out):
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
                loss = loss_of(s, t_in, t_out)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
        return step

    def ours_step_fn(precision: str):
        torch.manual_seed(0)
        model = Interlingua(config).train()
        optimizer = model.configure_optimizer(TrainConfig().lr, TrainConfig().weight_decay)

        def loss_of(s, t_in, t_out):  # as the trainer does: output layer and loss chunk by chunk (OutputLayerLoss)
            hidden, _ = model(s, t_in, lang.expand(len(s)), logits=False)
            return output_layer_loss(hidden, model.embed.weight, t_out, 0.1)
        return model, training_step(model, optimizer, precision, loss_of)

    def peer_step_fn(precision: str):
        torch.manual_seed(0)
        model = marian(config).train()
        optimizer = torch.optim.AdamW(model.parameters(), lr=7e-4, betas=(0.9, 0.98), eps=1e-9, weight_decay=0.01)

        def loss_of(s, t_in, t_out):
            out = model(input_ids=s, attention_mask=(s != PAD).long(), decoder_input_ids=t_in,
                        decoder_attention_mask=(t_in != PAD).long())
            return translation_loss(out.logits, t_out, 0.1)
        return model, training_step(model, optimizer, precision, loss_of)

    timed = batches[args.warmup:]
    src_len = sum(int((s != PAD).sum()) for s, _, _ in timed) / sum(len(s) for s, _, _ in timed)
    tgt_len = sum(int((t != PAD).sum()) for _, _, t in timed) / sum(len(t) for _, _, t in timed)
    results = []
    for system, make, flops in (("interlingua", ours_step_fn, lambda m: m.flops_per_target_token(src_len, tgt_len)),
                                ("HF Marian", peer_step_fn,
                                 lambda m: marian_flops_per_target_token(m, config, src_len, tgt_len))):
        for precision in precisions:
            model, step = make(precision)
            result = time_training(system if precision == "fp32" else f"{system} bf16", step, batches, args.warmup)
            results.append({**result, "system": system, "precision": precision, "flops_per_token": flops(model)})
    if args.onmt_python is None:
        print("OpenNMT-py: skipped, no virtualenv with it (--onmt-python; ../shared/peers.md says how to install it)")
    elif not args.onmt_python.exists():
        print(f"OpenNMT-py: skipped, {args.onmt_python} does not exist")
    else:
        onmt = onmt_training(args.onmt_python, config, data, len(batches), args.warmup, args.max_tokens,
                             torch.get_num_threads(), args.onmt_batching)
        if onmt:
            onmt["flops_per_token"] = seq2seq_flops_per_target_token(
                onmt["parameters"]["encoder"], onmt["parameters"]["decoder"], config, onmt["src_len"], onmt["tgt_len"])
            results.append({**onmt, "system": "OpenNMT-py", "precision": "fp32"})
    for r in results:
        r["gflops"] = r["target_tokens_per_s"] * r["flops_per_token"] / 1e9
        r["mfu"] = r["gflops"] * 1e9 / peak

    print(f"machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, "
          f"torch {torch.__version__}; fp32 matmul peak measured now: {peak / 1e9:.0f} GFLOP/s"
          + (f", bf16: {peak_bf16 / 1e9:.0f} GFLOP/s" if chosen == "bf16" else ""))
    print(f"batches: {len(timed)} timed, mean {src_len:.1f} source / {tgt_len:.1f} target tokens per sentence, "
          f"≤ {args.max_tokens} padded tokens each")
    for r in results:
        if r["system"] == "OpenNMT-py":
            print(f"OpenNMT-py {r['onmt_version']}: {r['steps']} timed steps on {r['batching']} batches, "
                  f"mean {r['src_len']:.1f} source / {r['tgt_len']:.1f} target tokens per sentence, "
                  f"{r['sentences_per_batch']:.0f} sentences per batch")
    # The default (`precision: auto`) against the best peer in any precision; then like for like.
    ours_result = next(r for r in results if r["system"] == "interlingua" and r["precision"] == chosen)
    peers = [r for r in results if r["system"] != "interlingua"]
    print(f"{'system':<18}{'target tok/s':>14}{'GFLOP/s':>10}{'MFU (fp32 peak)':>17}{'default / it':>14}")
    for r in results:
        r["ratio"] = ours_result["target_tokens_per_s"] / r["target_tokens_per_s"]
        print(f"{r['name']:<18}{r['target_tokens_per_s']:>14.0f}{r['gflops']:>10.1f}{r['mfu']:>17.2f}"
              f"{r['ratio']:>13.2f}x")
    for precision in precisions:
        ours_p = next(r for r in results if r["system"] == "interlingua" and r["precision"] == precision)
        same = [r for r in peers if r["precision"] == precision]
        if same:
            best_same = max(same, key=lambda r: r["target_tokens_per_s"])
            print(f"like for like, {precision}: interlingua / {best_same['name']}: "
                  f"{ours_p['target_tokens_per_s'] / best_same['target_tokens_per_s']:.2f}x target tokens/s, "
                  f"{ours_p['mfu'] / best_same['mfu']:.2f}x MFU")
    best = max(peers, key=lambda r: r["target_tokens_per_s"])
    ratio = best["ratio"]
    print(f"interlingua ({chosen}, its default here) / best peer ({best['name']}): {ratio:.2f}x target tokens/s "
          f"(goal: 1.3x the best peer)")
    if args.json:
        args.json.write_text(json.dumps({"peak_flops": peak, "peak_flops_bf16": peak_bf16, "default_precision": chosen,
                                         "threads": torch.get_num_threads(), "results": results,
                                         "best_peer": best["name"], "ratio": ratio}, indent=2))


if __name__ == "__main__":
    main()
