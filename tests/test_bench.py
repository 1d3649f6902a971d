"""Each benchmark runs once in its tiny mode, so it keeps working (no timing is asserted)."""
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


def test_train_throughput_tiny():
    pytest.importorskip("transformers")
    result = subprocess.run([sys.executable, str(BENCH / "train_throughput.py"), "--tiny"], capture_output=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    assert "interlingua / HF Marian" in result.stdout.decode()
