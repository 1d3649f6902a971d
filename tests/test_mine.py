"""Bitext mining: the margin algorithm on known answers, and `interlingua mine` end to end on the tiny run."""
import numpy as np
import pytest

from conftest import assert_clean_error, run_cli
from interlingua.mine import mine_vectors


def _unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def test_hidden_translations_are_found_and_unmatched_sentences_left_out():
    rng = np.random.default_rng(0)
    meanings = _unit(rng.normal(size=(60, 32)))
    # 50 shared meanings (with a little noise, as two languages would give), 10 unmatched on each side.
    src = _unit(np.concatenate([meanings[:50] + 0.1 * rng.normal(size=(50, 32)), rng.normal(size=(10, 32))]))
    tgt = _unit(np.concatenate([meanings[:50] + 0.1 * rng.normal(size=(50, 32)), rng.normal(size=(10, 32))]))
    order = rng.permutation(60)
    tgt = tgt[order]
    where = {int(old): new for new, old in enumerate(order)}
    pairs = mine_vectors(src, tgt, threshold=1.05)
    found = {(i, j) for _, i, j in pairs}
    gold = {(i, where[i]) for i in range(50)}
    assert gold <= found
    # Unmatched sentences may still pair up with each other by chance, but every such pair
    # involves an unmatched sentence and scores below every real translation.
    extra = [(score, i, j) for score, i, j in pairs if (i, j) not in gold]
    assert all(i >= 50 and order[j] >= 50 for _, i, j in extra)
    assert max((s for s, _, _ in extra), default=0) < min(s for s, i, j in pairs if (i, j) in gold)
    scores = [score for score, _, _ in pairs]
    assert scores == sorted(scores, reverse=True)
    # Each sentence at most once, even with no threshold at all.
    every = mine_vectors(src, tgt, threshold=float("-inf"))
    assert len({i for _, i, _ in every}) == len(every) == len({j for _, _, j in every})


def test_mining_scores_a_pair_by_the_margin_evaluate_reports():
    """One ratio margin (evaluate.retrieval.margin): a mined pair's score is its cell of ratio_margin's matrix."""
    from interlingua.evaluate.retrieval import cosine_matrix, ratio_margin
    rng = np.random.default_rng(3)
    src, tgt = rng.normal(size=(30, 16)), rng.normal(size=(40, 16))
    tgt[:30] = src + 0.3 * rng.normal(size=(30, 16))
    src, tgt = (v / np.linalg.norm(v, axis=1, keepdims=True) for v in (src, tgt))
    pairs = mine_vectors(src, tgt, k=4, threshold=0.0)
    expected = ratio_margin(cosine_matrix(src, tgt), k=4)
    assert len(pairs) == 30
    for score, i, j in pairs:
        assert score == pytest.approx(expected[i, j], rel=1e-5)


def test_empty_sides_give_no_pairs():
    assert mine_vectors(np.zeros((0, 4)), _unit(np.ones((3, 4)))) == []


def test_cli_mines_a_file_pair(tiny_run, real_rows, tmp_path):
    rows = real_rows[:30]
    (tmp_path / "a.txt").write_text("\n".join(r["fr"] for r in rows) + "\n\n", encoding="utf-8")
    (tmp_path / "b.txt").write_text("\n".join(r["en"] for r in reversed(rows)) + "\n", encoding="utf-8")
    out = tmp_path / "pairs.tsv"
    result = run_cli("mine", "--model", str(tiny_run), "--src", str(tmp_path / "a.txt"), "--tgt",
                     str(tmp_path / "b.txt"), "--out", str(out), "--threshold", "0", "--quiet")
    assert result.returncode == 0, result.stderr.decode()
    lines = out.read_text(encoding="utf-8").splitlines()
    assert 0 < len(lines) <= 30 and f"wrote {len(lines)} pairs" in result.stdout.decode()
    fields = [line.split("\t") for line in lines]
    assert all(len(f) == 3 for f in fields)
    assert {f[1] for f in fields} <= {r["fr"] for r in rows} and {f[2] for f in fields} <= {r["en"] for r in rows}
    scores = [float(f[0]) for f in fields]
    assert scores == sorted(scores, reverse=True)


@pytest.mark.parametrize("problem", ["missing", "empty", "binary"])
def test_cli_bad_input_is_one_line(tiny_run, tmp_path, problem):
    good = tmp_path / "good.txt"
    good.write_text("Open file\n")
    bad = tmp_path / f"{problem}.txt"
    if problem == "empty":
        bad.write_text("\n  \n")
    elif problem == "binary":
        bad.write_bytes(b"fine\n\xff\xfe broken\n")
    out = tmp_path / "pairs.tsv"
    result = run_cli("mine", "--model", str(tiny_run), "--src", str(good), "--tgt", str(bad), "--out", str(out))
    assert_clean_error(result, str(bad), *([":2"] if problem == "binary" else []))
    assert not out.exists()
