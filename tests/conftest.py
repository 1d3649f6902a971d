"""Shared fixtures: a few hundred real rows from this machine's gettext catalogs, and one tiny trained run."""
from __future__ import annotations

import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest

from interlingua.corpus.formats import ROW_ID

LOCALES = Path("/usr/share/locale")
LANGS = ["fr", "de", "es"]


def run_cli(*args: str, input: bytes | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    """Run the CLI as a user does, in a fresh process."""
    return subprocess.run([sys.executable, "-m", "interlingua", *args], input=input, capture_output=True,
                          timeout=timeout)


def assert_clean_error(result: subprocess.CompletedProcess, *needles: str) -> None:
    """A user mistake: non-zero exit, one 'interlingua: error:' line naming the needles, no traceback."""
    err = result.stderr.decode()
    assert result.returncode != 0, err
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.startswith("interlingua: error:")]
    assert len(lines) == 1, err
    for needle in needles:
        assert needle in lines[0], lines[0]


def tiny_model(**kw):
    """A small untrained model on a fixed seed, in eval mode (dropout off): model and search tests."""
    import torch
    from interlingua.config import ModelConfig
    from interlingua.model import Interlingua
    torch.manual_seed(0)
    settings = dict(vocab_size=50, d_model=32, n_heads=2, d_ff=64, encoder_layers=2, decoder_layers=2,
                    bridge_queries=4, dropout=0.0, target_languages=["en", "fr", "de"])
    return Interlingua(ModelConfig(**{**settings, **kw})).eval()


@contextmanager
def one_thread():
    """The tiny model's matrices are too small to share between threads; on a busy CPU that costs 5-10x."""
    import torch
    from threadpoolctl import threadpool_limits  # scikit-learn's own dependency
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(1):
            yield
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def real_rows() -> list[dict[str, str]]:
    """Rows harvested from the real French, German and Spanish catalogs on this machine."""
    from interlingua.corpus.harvest import harvest
    roots = [LOCALES / lang for lang in LANGS if (LOCALES / lang).is_dir()]
    rows, _ = harvest(roots, min_translations=1, progress=False)
    rows = [r for r in rows if all(lang in r for lang in LANGS) and len(r["en"]) < 40]
    if len(rows) < 400:
        pytest.skip(f"needs the gettext catalogs of {LOCALES} (found {len(rows)} usable rows)")
    return rows


@pytest.fixture(scope="session")
def corpus_path(real_rows, tmp_path_factory) -> Path:
    """A 600-meaning real corpus with train/dev/test splits beside it."""
    from interlingua.corpus.formats import write_corpus
    from interlingua.corpus.split import split_rows, write_splits
    path = tmp_path_factory.mktemp("corpus") / "corpus.jsonl"
    rows = real_rows[:600]
    write_corpus(rows, path, "jsonl")
    write_splits(path, split_rows(rows, dev=40, test=60, seed=1))
    return path


@pytest.fixture(scope="session")
def tiny_run(corpus_path, tmp_path_factory) -> Path:
    """A tiny model trained for a few seconds (shared by the tests that only need *a* model)."""
    from interlingua.config import load_config
    from interlingua.train import train
    out = tmp_path_factory.mktemp("runs") / "tiny"
    train(corpus_path, out, load_config("tiny", ["max_steps=60", "eval_every=30"]))
    return out


@pytest.fixture(scope="session")
def made_up_corpus(tmp_path_factory) -> Path:
    """300 made-up en/fr/de meanings with train/dev/test splits: for tests of what goes wrong, which need *a*
    corpus and a model in seconds, not the real catalogs' minutes of harvesting."""
    import random
    from interlingua.corpus.formats import write_corpus
    from interlingua.corpus.split import split_rows, write_splits
    words = {"en": "open save close file folder the new old copy delete print".split(),
             "fr": "ouvrir enregistrer fermer fichier dossier le nouveau vieux copier supprimer imprimer".split(),
             "de": "öffnen speichern schließen Datei Ordner die neue alte kopieren löschen drucken".split()}
    pick = random.Random(0)
    rows = []
    for n in range(300):
        chosen = [pick.randrange(len(words["en"])) for _ in range(pick.randint(2, 5))]
        rows.append({ROW_ID: str(n), **{lang: " ".join(words[lang][i] for i in chosen) + f" {n}" for lang in words}})
    path = tmp_path_factory.mktemp("made_up") / "corpus.jsonl"
    write_corpus(rows, path, "jsonl")
    write_splits(path, split_rows(rows, dev=20, test=20, seed=1, method="random"))
    return path


@pytest.fixture(scope="session")
def made_up_run(made_up_corpus, tmp_path_factory) -> Path:
    """A tiny model trained for two steps on the made-up corpus: it translates badly, but it loads and runs."""
    from interlingua.config import load_config
    from interlingua.train import train
    out = tmp_path_factory.mktemp("runs") / "made_up"
    with one_thread():
        train(made_up_corpus, out, load_config("tiny", ["max_steps=2", "eval_every=1000", "eval_sentences=2"]))
    return out


@pytest.fixture(scope="session")
def memory_run(made_up_corpus, tmp_path_factory) -> Path:
    """A tiny model trained with a translation memory (model.memory=true) for 40 steps on the made-up corpus."""
    from interlingua.config import load_config
    from interlingua.train import train
    out = tmp_path_factory.mktemp("runs") / "memory"
    with one_thread():
        train(made_up_corpus, out, load_config("tiny", ["model.memory=true", "model.bridge_queries=0", "max_steps=40",
                                                        "log_every=5", "eval_every=40", "eval_sentences=4",
                                                        "save_every_minutes=0", "memory_min_score=40"]))
    return out
