"""The newcomer's command, end to end on this machine's catalogs (slow: it harvests every catalog)."""
import pytest

from conftest import run_cli


@pytest.mark.slow
def test_quickstart_with_a_tiny_model(tmp_path):
    result = run_cli("quickstart", "--config", "tiny", "--steps", "30", "--workdir", str(tmp_path / "qs"),
                     timeout=600)
    out = result.stdout.decode()
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    assert "Zero-shot" in out and "pivot through English" in out and "cosine similarity" in out
    assert (tmp_path / "qs" / "corpus.test.jsonl").exists()
    assert (tmp_path / "qs" / "model" / "best.json").exists()
    # 30 steps of the tiny preset learn next to nothing: the newcomer is told so, and how to go on.
    assert "this model is still weak" in out and "--resume max_steps=60" in out
    assert "training a tiny model for 30 steps" in result.stderr.decode()
