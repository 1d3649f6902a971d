"""interlingua/data.py's batching and padding: the one owner that training, the Translator and the benches call."""
import numpy as np
import pytest
import torch

from interlingua.data import bucket, by_length, fill, pad, sorted_batches, to_batch
from interlingua.tokenizer import BOS, PAD


def test_pad_right_pads_and_can_put_a_prefix_first():
    assert pad([[5, 6, 7], [8]]).tolist() == [[5, 6, 7], [8, PAD, PAD]]
    assert pad([[5, 6], [8]], prefix=BOS).tolist() == [[BOS, 5, 6], [BOS, 8, PAD]]
    assert pad([[5], [8, 9]], pad_id=-1).tolist() == [[5, -1], [8, 9]]
    assert pad([np.array([1, 2], dtype=np.int32)]).dtype == torch.int64


def test_to_batch_shifts_the_target_by_bos():
    batch = to_batch([[4, 3]], [[7, 8, 3], [9, 3]], [1, 2], [0, 0])
    assert batch.tgt_in.tolist() == [[BOS, 7, 8], [BOS, 9, PAD]]
    assert batch.tgt_out.tolist() == [[7, 8, 3], [9, 3, PAD]]


def test_a_batch_stays_within_its_padded_tokens_and_a_long_sentence_goes_alone():
    lengths = [3, 9, 4, 4, 12, 2]
    batches = fill(range(len(lengths)), lengths, max_tokens=10)
    assert [b.tolist() for b in batches] == [[0], [1], [2, 3], [4], [5]]
    for b in batches:
        assert len(b) == 1 or len(b) * max(lengths[i] for i in b) <= 10


def test_inference_batches_are_sorted_by_length_with_ties_in_input_order():
    lengths = [5, 2, 5, 2, 9]
    assert by_length(lengths).tolist() == [1, 3, 0, 2, 4]
    assert sorted_batches(lengths, max_tokens=10) == [[1, 3], [0, 2], [4]]
    assert sorted_batches([], max_tokens=10) == []
    # the rule the Translator had before data.py owned it: grow a sorted run while (rows x its last) fits
    rng = np.random.default_rng(0)
    for _ in range(50):
        lengths = rng.integers(1, 30, size=int(rng.integers(1, 40))).tolist()
        order = sorted(range(len(lengths)), key=lambda i: lengths[i])
        expected, start = [], 0
        while start < len(order):
            end = start + 1
            while end < len(order) and lengths[order[end]] * (end - start + 1) <= 60:
                end += 1
            expected.append(order[start:end])
            start = end
        assert sorted_batches(lengths, 60) == expected


def test_training_buckets_cover_every_example_once_in_a_seeded_order():
    lengths = np.random.default_rng(1).integers(1, 40, size=500)
    first = bucket(lengths, 200, np.random.default_rng(3), pool_batches=4)
    assert sorted(np.concatenate(first).tolist()) == list(range(500))
    assert all(len(b) == 1 or len(b) * lengths[b].max() <= 200 for b in first)
    again = bucket(lengths, 200, np.random.default_rng(3), pool_batches=4)
    assert [b.tolist() for b in first] == [b.tolist() for b in again]
    other = bucket(lengths, 200, np.random.default_rng(4), pool_batches=4)
    assert [b.tolist() for b in first] != [b.tolist() for b in other]


@pytest.mark.parametrize("batch_tokens", [8, 6000])
def test_the_translator_batches_through_data(tiny_run, batch_tokens):
    """Small batches or one: the same thoughts, in input order (padding never reaches the thought)."""
    from interlingua.api import Translator
    translator = Translator.load(tiny_run)
    sentences = ["Open the file", "Save", "Cannot find the folder you asked for", "Print"]
    whole = translator.thoughts(sentences)
    translator.batch_tokens = batch_tokens
    chunks = list(translator._batches(sentences))
    assert sorted(i for chunk, _ in chunks for i in chunk) == [0, 1, 2, 3]
    assert all(src.shape[0] == 1 or src.numel() <= batch_tokens for _, src in chunks)
    for a, b in zip(whole, translator.thoughts(sentences)):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)
