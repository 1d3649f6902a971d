"""Where a batch-1 decoder step's time goes: interlingua's decoding against two leaner variants of it.

    python bench/decode_step.py [--batch 1] [--steps 64] [--threads 2] [--repeats 5] [--tiny]

Rows, all greedy with the bench model size (d 256, 4+4 layers, vocab 8000, random weights), each
writing --steps tokens:
- `search.greedy`: the code Translator runs (modules, the growing KV cache, one call per layer);
- `inlined step`: the same arithmetic written as one function over the same weights, with a
  static cache of --steps positions and a mask: what the module structure and cache logic cost;
- `torch.compile(inlined step)`: that function compiled by inductor (compile time reported apart).
The inlined variants must produce the very tokens `search.greedy` does; the script checks it.
Figures: ms per step, best of --repeats, and ratios to `search.greedy` in the same run.
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from interlingua.config import ModelConfig  # noqa: E402
from interlingua.model import Interlingua  # noqa: E402
from interlingua.search import greedy  # noqa: E402
from interlingua.tokenizer import BOS, EOS  # noqa: E402


def inlined_step(model: Interlingua, length: int):
    """One decoder step as a single function: static (rows, heads, length, d_head) caches, a mask."""
    c = model.config
    heads, d, d_head = c.n_heads, c.d_model, c.d_model // c.n_heads

    def step(token, position, keys, values, thought_keys, thought_values, lang_vector, output_weight):
        rows = token.shape[0]
        x = model.embed(token) * math.sqrt(d) + model.positions[position][None, None] + lang_vector
        seen = (torch.arange(length) <= position)[None, None, None, :]
        for i, layer in enumerate(model.decoder):
            h = layer.norm1(x)
            q, k, v = (t.view(rows, 1, heads, d_head).transpose(1, 2) for t in layer.self_attn.qkv(h).chunk(3, -1))
            keys[i].index_copy_(2, position[None], k)
            values[i].index_copy_(2, position[None], v)
            y = F.scaled_dot_product_attention(q, keys[i], values[i], attn_mask=seen)
            x = x + layer.self_attn.out(y.transpose(1, 2).reshape(rows, 1, d))
            q = layer.cross_attn.q(layer.norm2(x)).view(rows, 1, heads, d_head).transpose(1, 2)
            y = F.scaled_dot_product_attention(q, thought_keys[i], thought_values[i])
            x = x + layer.cross_attn.out(y.transpose(1, 2).reshape(rows, 1, d))
            x = x + layer.ff(layer.norm3(x))
        return (model.decoder_norm(x) @ output_weight)[:, -1]
    return step


@torch.inference_mode()
def decode_with(model: Interlingua, step, thought: torch.Tensor, lang: torch.Tensor, length: int) -> list[list[int]]:
    rows, c = thought.shape[0], model.config
    state = model.start_decoding(thought, lang)
    shape = (rows, c.n_heads, length, c.d_model // c.n_heads)
    keys = [torch.zeros(shape) for _ in model.decoder]
    values = [torch.zeros(shape) for _ in model.decoder]
    thought_keys, thought_values = [k for k, _ in state.thought_kv], [v for _, v in state.thought_kv]
    token, out = torch.full((rows, 1), BOS), []
    for position in range(length):
        logits = step(token, torch.tensor(position), keys, values, thought_keys, thought_values,
                      state.lang_vector, state.output_weight)
        logits[:, EOS] = float("-inf")  # every system writes exactly `length` tokens (min_len in search.greedy)
        token = logits.argmax(-1, keepdim=True)
        out.append(token)
    return torch.cat(out, 1).tolist()


def best_ms_per_step(run, steps: int, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times) / steps * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--steps", type=int, default=64, help="tokens written per sentence")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--tiny", action="store_true", help="a seconds-long run to keep this script working (tests)")
    args = parser.parse_args()
    config = ModelConfig(vocab_size=8000, d_model=256, n_heads=4, d_ff=1024, encoder_layers=4, decoder_layers=4,
                         bridge_queries=16, dropout=0.0, target_languages=["en", "fr"])
    if args.tiny:
        config = ModelConfig(vocab_size=300, d_model=32, n_heads=2, d_ff=64, encoder_layers=1, decoder_layers=1,
                             bridge_queries=4, dropout=0.0, target_languages=["en", "fr"])
        args.steps, args.repeats = 8, 1
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = Interlingua(config).eval()
    with torch.inference_mode():
        thought = model.encode(torch.randint(4, config.vocab_size, (args.batch, 12)))
    lang = model.language_ids(["fr"] * args.batch)
    n = args.steps

    reference = greedy(model, thought, lang, n, min_len=n)
    step = inlined_step(model, n)
    rows = {"search.greedy": best_ms_per_step(lambda: greedy(model, thought, lang, n, min_len=n), n, args.repeats)}
    same = decode_with(model, step, thought, lang, n) == reference
    rows["inlined step"] = best_ms_per_step(lambda: decode_with(model, step, thought, lang, n), n, args.repeats)
    start = time.perf_counter()
    compiled = torch.compile(step, dynamic=False)
    same_compiled = decode_with(model, compiled, thought, lang, n) == reference
    compile_s = time.perf_counter() - start
    rows["torch.compile(inlined step)"] = best_ms_per_step(lambda: decode_with(model, compiled, thought, lang, n),
                                                           n, args.repeats)
    print(f"greedy, batch {args.batch}, {n} steps, {torch.get_num_threads()} threads, torch {torch.__version__}; "
          f"best of {args.repeats}")
    print(f"same tokens: inlined {same}, compiled {same_compiled}; compile + first decode {compile_s:.1f} s")
    base = rows["search.greedy"]
    for name, ms in rows.items():
        print(f"{name:<30}{ms:8.2f} ms/step  {base / ms:5.2f}x search.greedy")


if __name__ == "__main__":
    main()
