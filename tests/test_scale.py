"""Scale and fault tolerance, for real: torchrun with two processes, and kill -9 in the middle of training."""
import itertools
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time

import pytest

from interlingua.config import load_config
from interlingua.corpus.formats import ROW_ID
from interlingua.train import train

ONE_THREAD = {**os.environ, "OMP_NUM_THREADS": "1"}
TINY = ["max_steps=60", "eval_every=10", "log_every=5", "threads=1", "keep_checkpoints=3"]


def losses(run):
    """step -> loss, the last record of each step winning (a resumed run logs steps again)."""
    out = {}
    for line in (run / "log.jsonl").read_text().splitlines():
        record = json.loads(line)
        if record["kind"] == "train":
            out[record["step"]] = record["loss"]
    return out


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("torchrun") is None, reason="torchrun not installed")
def test_torchrun_two_processes_then_resume_on_one(corpus_path, tmp_path):
    run = tmp_path / "ddp"
    two = subprocess.run(["torchrun", "--standalone", "--nproc_per_node", "2", "-m", "interlingua", "train",
                          "--data", str(corpus_path), "--out", str(run), "--config", "tiny", "max_steps=20",
                          "eval_every=10", "threads=1"], capture_output=True, env=ONE_THREAD, timeout=300)
    assert two.returncode == 0, two.stderr.decode()[-3000:]
    steps = [json.loads(line)["step"] for line in (run / "log.jsonl").read_text().splitlines()
             if json.loads(line)["kind"] == "train"]
    assert steps == [10, 20], (steps, two.stderr.decode()[-2000:])  # only rank 0 logs
    one = subprocess.run([sys.executable, "-m", "interlingua", "train", "--data", str(corpus_path), "--out", str(run),
                          "--resume", "max_steps=30"], capture_output=True, env=ONE_THREAD, timeout=300)
    assert one.returncode == 0, one.stderr.decode()[-3000:]
    assert max(losses(run)) == 30


@pytest.mark.slow
def test_kill_9_then_resume_matches_an_uninterrupted_run(corpus_path, tmp_path):
    whole = train(corpus_path, tmp_path / "whole", load_config("tiny", TINY))
    killed = tmp_path / "killed"
    command = [sys.executable, "-m", "interlingua", "train", "--data", str(corpus_path), "--out", str(killed),
               "--config", "tiny", *TINY]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ONE_THREAD)
    deadline = time.time() + 120
    while not (killed / "latest.json").exists() and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(random.uniform(0.0, 0.5))  # a random moment after the first checkpoint
    process.send_signal(signal.SIGKILL)
    process.wait()
    # A .tmp may remain from the killed write; a pointer never names one, only a whole file.
    latest = json.loads((killed / "latest.json").read_text())
    assert not latest["weights"].endswith(".tmp") and (killed / latest["weights"]).exists()
    resumed = subprocess.run(command + ["--resume"], capture_output=True, env=ONE_THREAD, timeout=300)
    assert resumed.returncode == 0, resumed.stderr.decode()[-3000:]
    expected, got = losses(whole), losses(killed)
    after = [step for step in expected if step > latest["step"]]
    assert after and max(after) == 60
    for step in after:
        assert got[step] == pytest.approx(expected[step], rel=1e-4, abs=1e-4), step


@pytest.mark.slow
@pytest.mark.parametrize("failure", ["disk full", "unwritable"])
def test_a_failed_checkpoint_write_is_a_clear_error_and_the_previous_one_stays_whole(corpus_path, tmp_path,
                                                                                    monkeypatch, failure):
    """The disk fills up (half a file written, then ENOSPC) or the folder turns read-only mid-run."""
    import errno
    from interlingua import checkpoint
    from interlingua.api import Translator
    from interlingua.errors import InterlinguaError
    real_save, saves = checkpoint.save_file, []

    def failing_save(tensors, path, metadata=None):
        saves.append(path)
        if len(saves) <= 2:  # the first checkpoint (weights + optimizer) is written normally
            return real_save(tensors, path, metadata=metadata)
        if failure == "disk full":
            with open(path, "wb") as f:
                f.write(b"\0" * 1000)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), path)

    monkeypatch.setattr(checkpoint, "save_file", failing_save)
    run = tmp_path / "run"
    with pytest.raises(InterlinguaError) as caught:
        train(corpus_path, run, load_config("tiny", ["max_steps=40", "eval_every=20", "threads=1"]))
    message = str(caught.value)
    assert "step_0000040" in message and "cannot write" in message
    assert ("No space left on device" if failure == "disk full" else "Permission denied") in message
    assert json.loads((run / "latest.json").read_text())["step"] == 20  # still the last whole checkpoint
    assert not list(run.rglob("*.tmp"))  # the half-written file was removed
    monkeypatch.setattr(checkpoint, "save_file", real_save)
    assert Translator.load(run, "latest").translate(["Open file"], to="fr")  # it loads and translates
    train(corpus_path, run, load_config("tiny", ["max_steps=40", "eval_every=20", "threads=1"]), resume=True)
    assert json.loads((run / "latest.json").read_text())["step"] == 40


# ----------------------------------------------------------------------------- streaming

def _stream_corpus(real_rows, folder, shards=3, size=300):
    """The first ``size`` real rows (40 for dev) as a split corpus whose training part is sharded."""
    from interlingua.corpus.formats import write_corpus
    folder.mkdir()
    rows = real_rows[:size]
    for n in range(shards):
        write_corpus(rows[40 + n::shards], folder / f"corpus.train.{n:05d}.jsonl", "jsonl")
    write_corpus(rows[:40], folder / "corpus.dev.jsonl", "jsonl")
    return folder / "corpus.jsonl", rows[40:]


def test_a_streamed_epoch_has_every_example_once_and_a_fixed_order(real_rows, tmp_path):
    from collections import Counter
    from interlingua.corpus.split import train_shards
    from interlingua.data import DirectionDataset, StreamingDirections
    from interlingua.tokenizer import train_tokenizer
    corpus, rows = _stream_corpus(real_rows, tmp_path / "c")
    shards = train_shards(corpus)
    assert [p.name for p in shards] == [f"corpus.train.{n:05d}.jsonl" for n in range(3)]
    tokenizer = train_tokenizer([r[k] for r in rows for k in ("en", "fr", "de")], tmp_path / "spm.model", 400)
    langs, directions = ["en", "fr", "de"], [("en", "fr"), ("fr", "en"), ("en", "de"), ("de", "en")]
    stream = StreamingDirections(shards, tokenizer, langs, directions, 32, buffer_examples=100, chunk_rows=16)
    memory = DirectionDataset(rows, tokenizer, langs, directions, 32)

    def examples(batches, make):
        out = Counter()
        for b in batches:
            batch = make(b)
            for src, tgt, lang in zip(batch.src.tolist(), batch.tgt_out.tolist(), batch.lang.tolist()):
                out[(tuple(t for t in src if t), tuple(t for t in tgt if t), lang)] += 1
        return out

    ids = {lang: i for i, lang in enumerate(langs)}
    streamed = examples(stream.epoch_batches(0, 7, 300), lambda b: stream.make_batch(b, ids))
    assert streamed == examples(memory.epoch_batches(0, 7, 300), lambda b: memory.make_batch(b, ids))
    first = [[e[0] for e in b] for b in stream.epoch_batches(0, 7, 300)]
    assert first == [[e[0] for e in b] for b in stream.epoch_batches(0, 7, 300)]  # (seed, epoch) fixes the order
    assert first != [[e[0] for e in b] for b in stream.epoch_batches(1, 7, 300)]  # and each epoch differs
    assert all(sum(max(len(e[1]), len(e[2])) for e in b) <= 300 or len(b) == 1
               for b in stream.epoch_batches(0, 7, 300))


@pytest.mark.slow
def test_streamed_training_resumes_exactly(real_rows, tmp_path):
    corpus, _ = _stream_corpus(real_rows, tmp_path / "c")
    settings = ["stream=true", "stream_buffer=200", "eval_every=20", "log_every=10", "threads=1"]
    whole = train(corpus, tmp_path / "whole", load_config("tiny", settings + ["max_steps=40"]))
    part = train(corpus, tmp_path / "part", load_config("tiny", settings + ["max_steps=20"]))
    train(corpus, part, load_config("tiny", settings + ["max_steps=40"]), resume=True)
    expected, got = losses(whole), losses(part)
    assert sorted(got) == sorted(expected) == [10, 20, 30, 40]
    for step in expected:
        assert got[step] == pytest.approx(expected[step], rel=1e-4, abs=1e-4), step
    meanings = json.loads((whole / "run.json").read_text())["train_meanings"]
    assert meanings == 260  # counted while streaming


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("torchrun") is None, reason="torchrun not installed")
def test_torchrun_streamed_ranks_save_their_own_positions_and_resume_exactly(real_rows, tmp_path):
    # 2,010 training rows: rank 0 reads a chunk of 2,000 rows, rank 1 the other 10 (an epoch of a batch or two)
    corpus, _ = _stream_corpus(real_rows, tmp_path / "c", size=2050)
    settings = ["--data", str(corpus), "--config", "tiny", "stream=true", "stream_buffer=2000", "eval_every=10",
                "log_every=10", "threads=1"]

    def torchrun(out, max_steps, *flags):
        done = subprocess.run(["torchrun", "--standalone", "--nproc_per_node", "2", "-m", "interlingua", "train",
                               "--out", str(out), *flags, *settings, f"max_steps={max_steps}"],
                              capture_output=True, env=ONE_THREAD, timeout=300)
        assert done.returncode == 0, done.stderr.decode()[-3000:]
        return done.stderr.decode()

    torchrun(tmp_path / "whole", 30)
    torchrun(tmp_path / "part", 20)
    state = json.loads((tmp_path / "part" / "checkpoints" / "step_0000020.json").read_text())
    (epoch_0, position_0), (epoch_1, _) = state["rank_positions"]
    # rank 1 is epochs ahead of rank 0: resumed from rank 0's place, it would train on other batches
    assert (epoch_0, position_0) == (state["epoch"], state["position"]) == (0, 20) and epoch_1 > 0
    assert "restarts" not in torchrun(tmp_path / "part", 30, "--resume")
    expected, got = losses(tmp_path / "whole"), losses(tmp_path / "part")
    assert sorted(got) == sorted(expected) == [10, 20, 30]
    assert got[30] == pytest.approx(expected[30], rel=1e-4, abs=1e-4)


LANGS3 = {"en": 0, "fr": 1, "de": 2}


def _streamed(real_rows, tmp_path, **options):
    """The sharded 260-row stream with a small tokenizer: 16-row chunks give 17 chunks to share out."""
    from interlingua.corpus.split import train_shards
    from interlingua.data import StreamingDirections
    from interlingua.tokenizer import train_tokenizer
    corpus, rows = _stream_corpus(real_rows, tmp_path / "c")
    tokenizer = train_tokenizer([r[k] for r in rows for k in LANGS3], tmp_path / "spm.model", 400)
    options = {"buffer_examples": 100, "chunk_rows": 16, **options}
    return StreamingDirections(train_shards(corpus), tokenizer, list(LANGS3),
                               [("en", "fr"), ("fr", "en"), ("en", "de"), ("de", "en")], 32, **options)


def _examples(batches):
    """Each example as (meaning, source ids, target ids, target language): comparable between ranks."""
    from collections import Counter
    return Counter((e[0], tuple(e[1]), tuple(e[2]), e[3]) for batch in batches for e in batch)


@pytest.mark.parametrize("world", [2, 3])
def test_streamed_ranks_each_read_their_own_rows_and_together_the_epoch_once(real_rows, tmp_path, monkeypatch,
                                                                            world):
    from interlingua.corpus import formats
    stream = _streamed(real_rows, tmp_path)
    parsed, encoded = [], []  # in the current read: the lines parsed (file, line), the sentences tokenised
    real_row, real_encode = formats.jsonl_row, stream.tokenizer.encode
    monkeypatch.setattr(formats, "jsonl_row", lambda path, n, line: parsed.append((path, n)) or
                        real_row(path, n, line))
    monkeypatch.setattr(stream.tokenizer, "encode", lambda texts, **kw: encoded.extend(texts) or
                        real_encode(texts, **kw))

    def read(shard):
        """One epoch of one rank: its examples, the lines it parsed, the number of sentences it tokenised."""
        parsed.clear()
        encoded.clear()
        return _examples(stream.epoch_batches(0, 7, 300, shard=shard)), list(parsed), len(encoded)

    whole, every_line, sentences = read((0, 1))
    assert len(set(every_line)) == 260 and sentences == 3 * 260
    shares = [read((rank, world)) for rank in range(world)]
    assert sorted(line for _, lines, _ in shares for line in lines) == sorted(every_line)  # each line by one rank
    assert all(abs(len(lines) - 260 / world) <= 16 for _, lines, _ in shares)  # a 16-row chunk more or less
    assert [tokenised for _, _, tokenised in shares] == [3 * len(lines) for _, lines, _ in shares]
    assert sum((examples for examples, _, _ in shares), start=type(whole)()) == whole  # each example once
    meanings = [{key[0] for key in examples} for examples, _, _ in shares]
    assert all(not a & b for i, a in enumerate(meanings) for b in meanings[i + 1:])  # ids unique over ranks


def test_a_streamed_rank_hands_out_all_its_batches_and_resumes_where_it_stopped(real_rows, tmp_path):
    from interlingua.data import iterate_batches
    stream = _streamed(real_rows, tmp_path)

    def batches(count, start_epoch=0, start_batch=0):
        endless = iterate_batches(stream, 7, 300, LANGS3, start_epoch, start_batch, shard=(1, 2))
        return [(epoch, position, batch.meaning.tolist(), batch.src.tolist())
                for epoch, position, batch in itertools.islice(endless, count)]

    own = list(stream.epoch_batches(0, 7, 300, shard=(1, 2)))
    whole = batches(len(own) + 5)  # into the second epoch
    assert [meanings for epoch, _, meanings, _ in whole if epoch == 0] == [[e[0] for e in b] for b in own]
    assert [position for epoch, position, _, _ in whole if epoch == 0] == list(range(1, len(own) + 1))
    for stop in (3, len(own), len(own) + 2):
        epoch, position, _, _ = whole[stop - 1]
        assert batches(len(whole) - stop, epoch, position) == whole[stop:], stop


def test_streamed_resume_on_another_number_of_processes_restarts_the_smallest_epoch(caplog):
    from interlingua.data import stream_resume_position
    two = {"epoch": 3, "position": 5, "rank_positions": [[3, 5], [4, 1]]}
    with caplog.at_level("INFO", logger="interlingua.data"):
        assert [stream_resume_position(two, rank, 2) for rank in range(2)] == [(3, 5), (4, 1)]
        assert not caplog.records
        assert [stream_resume_position(two, rank, 3) for rank in range(3)] == [(3, 0)] * 3
        assert "restarts epoch 3" in caplog.text and "number of processes changed (2 -> 3)" in caplog.text
        one = {"epoch": 2, "position": 9}  # written by one process: no rank_positions
        assert stream_resume_position(one, 0, 1) == (2, 9)
        assert [stream_resume_position(one, rank, 2) for rank in range(2)] == [(2, 0)] * 2


def test_a_streamed_rank_with_no_chunk_is_a_clear_error(real_rows, tmp_path):
    from interlingua.data import iterate_batches
    from interlingua.errors import InterlinguaError
    stream = _streamed(real_rows, tmp_path, chunk_rows=200)  # 260 rows: two chunks for three processes
    assert next(iterate_batches(stream, 7, 300, LANGS3, shard=(1, 3)))
    with pytest.raises(InterlinguaError, match="process 2 of 3 no batch in epoch 0: too few rows for 3 processes"):
        next(iterate_batches(stream, 7, 300, LANGS3, shard=(2, 3)))


def test_a_streamed_rank_leaves_the_other_ranks_lines_unparsed_and_errors_name_their_line(real_rows, tmp_path):
    from interlingua.data import StreamingDirections
    from interlingua.errors import InterlinguaError
    tokenizer = _streamed(real_rows, tmp_path).tokenizer
    good = [json.dumps({"en": r["en"], "fr": r["fr"]}) for r in real_rows[:6]]
    lines = [good[0], json.dumps({"en": "only English"}), good[1], good[2],  # chunk 0: lines 1-4
             "", good[3], good[4], good[5], "{not json"]                  # a blank line; chunk 1: lines 6-9
    shard = tmp_path / "one.train.jsonl"
    shard.write_text("\n".join(lines) + "\n")
    stream = StreamingDirections([shard], tokenizer, ["en", "fr"], [("en", "fr")], 32, chunk_rows=4)
    first = [e for batch in stream.epoch_batches(0, 7, 300, shard=(0, 2)) for e in batch]
    assert sorted(e[0] for e in first) == [0, 1, 2]  # the one-language row gives no example
    with pytest.raises(InterlinguaError, match="one.train.jsonl:9: not valid JSON"):
        list(stream.epoch_batches(0, 7, 300, shard=(1, 2)))


def test_streaming_needs_a_written_split(real_rows, tmp_path):
    from interlingua.corpus.formats import write_corpus
    from interlingua.errors import InterlinguaError
    write_corpus(real_rows[:50], tmp_path / "whole.jsonl", "jsonl")
    with pytest.raises(InterlinguaError, match="no training split to stream.*corpus split"):
        train(tmp_path / "whole.jsonl", tmp_path / "run", load_config("tiny", ["stream=true", "max_steps=1"]))


def test_the_streamed_tokenizer_sample_keeps_the_language_mix():
    from collections import Counter
    from interlingua.tokenizer import language_sample, stream_language_sample
    rows = [{ROW_ID: str(i), "en": f"e{i}", **({"fr": f"f{i}"} if i % 4 == 0 else {})} for i in range(4000)]
    counts = Counter({"en": 4000, "fr": 1000})
    streamed = stream_language_sample(iter(rows), counts, ["en", "fr"], 1000, 5.0, seed=0)
    whole = language_sample(rows, ["en", "fr"], 1000, 5.0, seed=0)
    share = lambda sample: sum(s.startswith("f") for s in sample) / len(sample)  # noqa: E731
    assert abs(len(streamed) - len(whole)) < 80
    assert share(streamed) == pytest.approx(share(whole), abs=0.05)


def test_corpus_split_streams_and_gives_the_same_splits(real_rows, tmp_path):
    from conftest import run_cli
    from interlingua.corpus.formats import read_corpus, write_corpus
    from interlingua.corpus.split import split_path, split_rows
    corpus = tmp_path / "corpus.jsonl"
    write_corpus(real_rows[:500], corpus, "jsonl")
    result = run_cli("corpus", "split", str(corpus), "--dev", "20", "--test", "30")
    assert result.returncode == 0, result.stderr.decode()
    expected = split_rows(read_corpus(corpus), 20, 30)
    for name in ("train", "dev", "test"):
        assert read_corpus(split_path(corpus, name)) == expected[name], name
        assert f"{name}: {len(expected[name]):,} meanings" in result.stdout.decode()
    assert not list(tmp_path.glob("*.tmp"))
