"""Training throughput: interlingua vs HF Marian at the same size, same batches, same threads, same run.

    python bench/train_throughput.py [--corpus data/corpus.train.jsonl] [--steps 20] [--tiny]

Both models: d 256, 4+4 layers, 4 heads, FFN 1024, 8k shared vocabulary, tied embeddings, no
dropout, AdamW. Both train on the very same token batches (real catalog sentences, SentencePiece)
for the same number of steps. FLOPs are counted the same way for both (../shared/peers.md):
6 · (non-embedding parameters of each side × tokens on that side + V·d per target token) plus
attention terms, and MFU divides by an fp32 matmul measured in this same run.
Prints figures as ratios; absolute numbers only as context.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from interlingua.config import ModelConfig, TrainConfig, RunConfig  # noqa: E402
from interlingua.model import Interlingua  # noqa: E402
from interlingua.train import make_optimizer, measure_matmul_flops, translation_loss  # noqa: E402

PAD, BOS = 0, 2


def real_batches(corpus: Path | None, vocab: int, n_batches: int, max_tokens: int, seed: int = 0):
    """Token batches from real en->X catalog pairs, tokenised by a SentencePiece model trained here."""
    import random
    from interlingua.corpus.formats import read_corpus
    from interlingua.corpus.harvest import harvest
    from interlingua.tokenizer import train_tokenizer
    import tempfile
    if corpus and corpus.exists():
        rows = read_corpus(corpus)
    else:
        rows, _ = harvest([Path("/usr/share/locale") / lang for lang in ("fr", "de", "es")], progress=False)
    pairs = [(row["en"], row[lang]) for row in rows for lang in row if lang not in ("id", "en")]
    random.Random(seed).shuffle(pairs)
    pairs = pairs[:60_000]
    with tempfile.TemporaryDirectory() as tmp:
        tokenizer = train_tokenizer([t for p in pairs[:20_000] for t in p], Path(tmp) / "spm.model", vocab)
        src = tokenizer.encode([p[0] for p in pairs], max_len=64)
        tgt = tokenizer.encode([p[1] for p in pairs], max_len=64)
    batches, i = [], 0
    while len(batches) < n_batches and i < len(pairs):
        rows_in = []
        longest = 0
        while i < len(pairs) and max(longest, len(src[i]), len(tgt[i])) * (len(rows_in) + 1) <= max_tokens:
            longest = max(longest, len(src[i]), len(tgt[i]))
            rows_in.append(i)
            i += 1
        s = torch.full((len(rows_in), max(len(src[j]) for j in rows_in)), PAD)
        t_in = torch.full((len(rows_in), max(len(tgt[j]) for j in rows_in)), PAD)
        t_out = t_in.clone()
        for r, j in enumerate(rows_in):
            s[r, :len(src[j])] = torch.tensor(src[j])
            t_out[r, :len(tgt[j])] = torch.tensor(tgt[j])
            t_in[r, 0] = BOS
            t_in[r, 1:len(tgt[j])] = torch.tensor(tgt[j][:-1])
        batches.append((s, t_in, t_out))
    return batches, tokenizer.vocab_size


def marian(config: ModelConfig):
    from transformers import MarianConfig, MarianMTModel
    hf = MarianConfig(vocab_size=config.vocab_size, d_model=config.d_model, encoder_layers=config.encoder_layers,
                      decoder_layers=config.decoder_layers, encoder_attention_heads=config.n_heads,
                      decoder_attention_heads=config.n_heads, encoder_ffn_dim=config.d_ff,
                      decoder_ffn_dim=config.d_ff, max_position_embeddings=256, dropout=0.0,
                      attention_dropout=0.0, activation_dropout=0.0, activation_function="gelu",
                      pad_token_id=PAD, decoder_start_token_id=BOS, share_encoder_decoder_embeddings=True,
                      tie_word_embeddings=True)
    return MarianMTModel(hf)


def marian_flops_per_target_token(model, config: ModelConfig, src_len: float, tgt_len: float) -> float:
    """The same count as Interlingua.flops_per_target_token, for Marian's layers (cross-attention over S)."""
    enc = sum(p.numel() for n, p in model.model.encoder.named_parameters() if "embed" not in n)
    dec = sum(p.numel() for n, p in model.model.decoder.named_parameters() if "embed" not in n)
    d, v = config.d_model, config.vocab_size
    matmul = enc * src_len + dec * tgt_len + v * d * tgt_len
    attention = (config.encoder_layers * src_len * src_len
                 + config.decoder_layers * (tgt_len * tgt_len / 2 + tgt_len * src_len)) * 2 * d
    return 6 * (matmul + attention) / tgt_len


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
    args = parser.parse_args()

    config = ModelConfig(vocab_size=8000, d_model=256, n_heads=4, d_ff=1024, encoder_layers=4, decoder_layers=4,
                         bridge_queries=16, dropout=0.0, target_languages=["en", "fr", "de"])
    if args.tiny:
        config = ModelConfig(vocab_size=400, d_model=32, n_heads=2, d_ff=64, encoder_layers=1, decoder_layers=1,
                             bridge_queries=4, dropout=0.0, target_languages=["en", "fr", "de"])
        args.steps, args.warmup, args.max_tokens = 2, 1, 500
    batches, vocab = real_batches(args.corpus, config.vocab_size, args.steps + args.warmup, args.max_tokens)
    config.vocab_size = vocab
    peak = measure_matmul_flops(n=256 if args.tiny else 1024)

    torch.manual_seed(0)
    ours = Interlingua(config).train()
    ours_opt = make_optimizer(ours, RunConfig(model=config, train=TrainConfig()))
    lang = torch.zeros(1, dtype=torch.long)

    def ours_step(s, t_in, t_out):
        logits, _ = ours(s, t_in, lang.expand(len(s)))
        loss = translation_loss(logits, t_out, 0.1)
        ours_opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(ours.parameters(), 1.0)
        ours_opt.step()

    peer = marian(config).train()
    peer_opt = torch.optim.AdamW(peer.parameters(), lr=7e-4, betas=(0.9, 0.98), eps=1e-9, weight_decay=0.01)

    def peer_step(s, t_in, t_out):
        out = peer(input_ids=s, attention_mask=(s != PAD).long(), decoder_input_ids=t_in,
                   decoder_attention_mask=(t_in != PAD).long())
        loss = translation_loss(out.logits, t_out, 0.1)
        peer_opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(peer.parameters(), 1.0)
        peer_opt.step()

    timed = batches[args.warmup:]
    src_len = sum(int((s != PAD).sum()) for s, _, _ in timed) / sum(len(s) for s, _, _ in timed)
    tgt_len = sum(int((t != PAD).sum()) for _, _, t in timed) / sum(len(t) for _, _, t in timed)
    results = [time_training("interlingua", ours_step, batches, args.warmup),
               time_training("HF Marian", peer_step, batches, args.warmup)]
    results[0]["flops_per_token"] = ours.flops_per_target_token(src_len, tgt_len)
    results[1]["flops_per_token"] = marian_flops_per_target_token(peer, config, src_len, tgt_len)
    for r in results:
        r["gflops"] = r["target_tokens_per_s"] * r["flops_per_token"] / 1e9
        r["mfu"] = r["gflops"] * 1e9 / peak

    print(f"machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, "
          f"torch {torch.__version__}; fp32 matmul peak measured now: {peak / 1e9:.0f} GFLOP/s")
    print(f"batches: {len(timed)} timed, mean {src_len:.1f} source / {tgt_len:.1f} target tokens per sentence, "
          f"≤ {args.max_tokens} padded tokens each")
    print(f"{'system':<14}{'target tok/s':>14}{'GFLOP/s':>10}{'MFU':>7}")
    for r in results:
        print(f"{r['name']:<14}{r['target_tokens_per_s']:>14.0f}{r['gflops']:>10.1f}{r['mfu']:>7.2f}")
    ratio = results[0]["target_tokens_per_s"] / results[1]["target_tokens_per_s"]
    print(f"interlingua / HF Marian: {ratio:.2f}x target tokens/s, "
          f"{results[0]['mfu'] / results[1]['mfu']:.2f}x MFU (goal: 1.3x the best peer)")
    if args.json:
        args.json.write_text(json.dumps({"peak_flops": peak, "results": results, "ratio": ratio}, indent=2))


if __name__ == "__main__":
    main()
