"""The newcomer's command, end to end on this machine's catalogs (slow: it harvests every catalog)."""
import pytest

from conftest import run_cli


@pytest.mark.slow
def test_quickstart_with_a_tiny_model(tmp_path):
    result = run_cli("quickstart", "--config", "tiny", "--minutes", "0.2", "--workdir", str(tmp_path / "qs"),
                     timeout=600)
    out = result.stdout.decode()
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    assert "Zero-shot" in out and "pivot through English" in out and "cosine similarity" in out
    assert (tmp_path / "qs" / "corpus.test.jsonl").exists()
    assert (tmp_path / "qs" / "model" / "best.json").exists()
