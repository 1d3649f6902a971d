"""What this machine can do: its measured matmul peak (MFU's denominator) and the precision a run trains in."""
from __future__ import annotations

import logging
import math
import time

import torch

from .config import ModelConfig

log = logging.getLogger("interlingua.hardware")


def measure_matmul_flops(n: int = 1024, repeats: int = 7, dtype: torch.dtype = torch.float32,
                         shape: tuple[int, int, int] | None = None) -> float:
    """The machine's practical matmul peak (FLOP/s) in ``dtype``, measured now with the same threads.

    The denominator of MFU (an n × n × n product), or, with ``shape=(m, k, n)``, the speed of one
    product of a model's own size. The fastest of several: a busy neighbour slows some, never speeds one up.
    """
    m, k, n = shape or (n, n, n)
    generator = torch.Generator().manual_seed(0)  # its own generator: the training RNG stays untouched
    a, b = torch.randn(m, k, generator=generator).to(dtype), torch.randn(k, n, generator=generator).to(dtype)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * m * k * n / best


def choose_precision(requested: str, device: torch.device, model: ModelConfig, max_tokens: int) -> str:
    """'bf16' (autocast: bf16 matmuls, fp32 weights, optimizer and loss) or 'fp32' for this run.

    ``auto`` measures rather than guesses: a CPU with native bf16 (AVX-512 BF16, AMX) multiplies
    the model's matrices 2-3x faster in bf16, one without it ~100x slower, so auto takes bf16 only
    when a product of the model's own size (a batch of tokens × d_model × d_ff) is ≥ 1.3x faster.
    A small model stays in fp32: its steps are per-operator overhead, which the casts only add to.
    """
    if requested != "auto":
        return requested
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    shape = (min(max_tokens, 4096), model.d_model, model.d_ff)
    if math.prod(shape) < 2 ** 26:  # the tiny preset: 600 × 32 × 64; base and small: 2000 × 256 × 1024
        return "fp32"
    bf16 = fp32 = 0.0
    for _ in range(4):  # interleaved, best of each: a busy neighbour process slows both alike, and not always
        bf16 = max(bf16, measure_matmul_flops(shape=shape, dtype=torch.bfloat16, repeats=5))
        fp32 = max(fp32, measure_matmul_flops(shape=shape, repeats=5))
    log.info("precision: bf16 matmuls %.1fx fp32 at %s on this CPU: %s", bf16 / fp32, "x".join(map(str, shape)),
             "bf16 autocast" if bf16 >= 1.3 * fp32 else "fp32")
    return "bf16" if bf16 >= 1.3 * fp32 else "fp32"
