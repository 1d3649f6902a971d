"""checkpoint.py: a step's files are whole and checked, pointers move last, pruning keeps what is named."""
import pytest
import torch

from conftest import tiny_model
from interlingua.checkpoint import load_checkpoint, load_weights, resolve_checkpoint, restore_optimizer, save_checkpoint
from interlingua.errors import InterlinguaError


def _trained_a_step(model):
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    src, tgt = torch.randint(4, 50, (2, 7)), torch.randint(4, 50, (2, 5))
    logits, _ = model.train()(src, tgt, model.language_ids(["fr", "de"]))
    logits.float().mean().backward()
    optimizer.step()
    return optimizer


def test_a_step_comes_back_exactly_weights_optimizer_and_state(tmp_path):
    model = tiny_model()
    optimizer = _trained_a_step(model)
    save_checkpoint(tmp_path, 7, model, optimizer, {"metrics": {"dev_loss": 3.5}}, best=True)
    weights, optim, state = load_checkpoint(tmp_path, 7)
    assert all(torch.equal(weights[k], v) for k, v in model.state_dict().items())
    assert state["step"] == 7 and state["metrics"] == {"dev_loss": 3.5}
    again = torch.optim.AdamW(tiny_model().parameters(), lr=1e-3)
    restore_optimizer(again, optim, state["optimizer"])
    saved, restored = optimizer.state_dict()["state"], again.state_dict()["state"]
    assert saved.keys() == restored.keys() and len(saved) > 0
    for i in saved:
        assert all(torch.equal(saved[i][k], restored[i][k]) for k in ("step", "exp_avg", "exp_avg_sq"))
    assert resolve_checkpoint(tmp_path, "best") == resolve_checkpoint(tmp_path, "latest") == 7


def test_a_changed_byte_is_caught_and_named(tmp_path):
    save_checkpoint(tmp_path, 3, tiny_model(), None, {})
    weights = tmp_path / "checkpoints" / "step_0000003.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF  # a flipped bit in a tensor's bytes: still a valid safetensors file
    weights.write_bytes(bytes(data))
    with pytest.raises(InterlinguaError, match="step_0000003.safetensors: corrupt"):
        load_weights(tmp_path, 3)


def test_pruning_keeps_the_newest_and_whatever_best_names(tmp_path):
    model = tiny_model()
    save_checkpoint(tmp_path, 1, model, None, {}, keep=2, best=True)
    for step in (2, 3, 4):
        save_checkpoint(tmp_path, step, model, None, {}, keep=2)
    kept = sorted(p.name for p in (tmp_path / "checkpoints").glob("*.json"))
    assert kept == ["step_0000001.json", "step_0000003.json", "step_0000004.json"]
    assert resolve_checkpoint(tmp_path, "best") == 1 and resolve_checkpoint(tmp_path, "latest") == 4


def test_a_pointer_without_a_step_and_a_folder_that_is_not_a_run(tmp_path):
    with pytest.raises(InterlinguaError, match="no such run folder"):
        resolve_checkpoint(tmp_path / "nothing")
    with pytest.raises(InterlinguaError, match="not a trained run"):
        resolve_checkpoint(tmp_path)
    (tmp_path / "latest.json").write_text('{"weights": "x"}')
    with pytest.raises(InterlinguaError, match="corrupt pointer"):
        resolve_checkpoint(tmp_path, "latest")
