"""The hardware probes (hardware.py): the matmul peak, and the precision a run chooses."""
import torch

from interlingua.config import ModelConfig, load_config
from interlingua.hardware import choose_precision, measure_matmul_flops


def test_auto_precision_keeps_a_small_model_in_fp32_and_an_explicit_choice_wins():
    cpu = torch.device("cpu")
    # auto keeps a small model in fp32 without measuring: its steps are overhead, not matmuls.
    assert choose_precision("auto", cpu, load_config("tiny").model, 600) == "fp32"
    assert choose_precision("fp32", cpu, ModelConfig(), 4000) == "fp32"
    assert choose_precision("bf16", cpu, load_config("tiny").model, 600) == "bf16"


def test_the_matmul_peak_is_a_positive_rate_and_leaves_the_training_rng_alone():
    state = torch.get_rng_state()
    assert measure_matmul_flops(n=64, repeats=2) > 0
    assert torch.equal(torch.get_rng_state(), state)
