"""Decoding a thought (search.py): cached equals uncached, beam search equals a textbook one and, at
width 1, greedy; min_len and the search's in-place bookkeeping."""
import pytest
import torch

from conftest import tiny_model
from interlingua.search import beam_search, greedy, parents_in_place


def test_cached_decoding_equals_uncached():
    model = tiny_model()
    thought = model.encode(torch.randint(4, 50, (4, 8)))
    lang = model.language_ids(["fr", "de", "en", "fr"])
    # 40 forced tokens: the cache buffer grows twice (16 -> 32 -> 64 positions) on the way.
    cached = greedy(model, thought, lang, 40, use_cache=True, min_len=40)
    assert cached == greedy(model, thought, lang, 40, use_cache=False, min_len=40)
    assert {len(seq) for seq in cached} == {40}


@pytest.mark.parametrize("eos_bias", [0.0, 2.0, 3.0])
def test_beam_search_of_width_one_finds_what_greedy_finds(eos_bias):
    """beam_search's own code at width 1 (decode_thought sends width 1 to greedy; beam_search never does).

    A bias towards EOS makes it the second-best token at some steps (2.0) and the best at others (3.0):
    a beam search that finished an EOS ranked below the beam stopped those sentences early where greedy
    went on (1 of 8 sentences differed at 2.0, 7 of 8 at 3.0).
    """
    from interlingua.tokenizer import EOS
    model = tiny_model()
    with torch.no_grad():
        model.decoder_norm.bias.copy_(eos_bias * model.embed.weight[EOS])
    torch.manual_seed(0)
    thought = model.encode(torch.randint(4, 50, (8, 8)))
    lang = model.language_ids(["fr", "de", "en", "fr"] * 2)
    expected = greedy(model, thought, lang, 12)
    assert beam_search(model, thought, lang, 12, beam=1) == expected


@torch.no_grad()
def textbook_beam_search(model, thought, lang, max_len: int, beam: int) -> list[list[int]]:
    """One sentence at a time, every prefix recomputed without a cache, hypotheses in Python lists:
    the same rules as search.beam_search (the best 2*beam continuations; those ending among the best `beam`
    leave with their score / (length + 1), those ending below it are dropped; a sentence stops with `beam`
    finished), none of its batching or in-place tricks."""
    from interlingua.tokenizer import BOS, EOS
    outputs = []
    for b in range(len(thought)):
        state = model.start_decoding(thought[b:b + 1], lang[b:b + 1])
        live, finished = [(0.0, [])], []
        for step in range(max_len):
            candidates = []
            for score, seq in live:
                logprobs = model.decode(torch.tensor([[BOS] + seq]), state, use_cache=False)[0, -1].log_softmax(-1)
                candidates += [(score + float(lp), seq + [token]) for token, lp in enumerate(logprobs)]
            live = []
            for rank, (score, seq) in enumerate(sorted(candidates, key=lambda c: -c[0])[:2 * beam]):
                if seq[-1] == EOS or step == max_len - 1:
                    hyp = seq[:-1] if seq[-1] == EOS else seq
                    if rank < beam:
                        finished.append((score / (len(hyp) + 1), hyp))
                elif len(live) < beam:
                    live.append((score, seq))
            if len(finished) >= beam:
                break
        outputs.append(max(finished, key=lambda h: h[0])[1])
    return outputs


def test_beam_search_equals_the_textbook_algorithm():
    """Batched re-ranking, hypotheses kept in their parent's row, a thought shared by its beams and
    the two-stage top-k change how beam search computes, not what it finds."""
    model = tiny_model()
    torch.manual_seed(0)
    thought = model.encode(torch.randint(4, 50, (8, 8)))
    lang = model.language_ids(["fr", "de", "en", "fr"] * 2)
    for beam in (2, 3, 4):  # (a reorder that copies nothing fails this at beam 3)
        assert beam_search(model, thought, lang, 10, beam=beam) == textbook_beam_search(model, thought, lang, 10, beam)


def test_parents_in_place_keeps_first_children_in_their_parents_slot():
    origin = torch.tensor([[0, 0, 1, 3], [2, 2, 2, 2], [3, 2, 1, 0]])
    slots = parents_in_place(origin)
    assert sorted(slots[0].tolist()) == [0, 1, 2, 3]  # a permutation of the candidates
    assert origin.gather(1, slots).tolist() == [[0, 1, 0, 3], [2, 2, 2, 2], [0, 1, 2, 3]]


def test_beam_finds_at_least_as_probable_an_output_as_greedy():
    model = tiny_model()
    thought = model.encode(torch.randint(4, 50, (3, 8)))
    lang = model.language_ids(["fr", "de", "en"])

    @torch.no_grad()
    def logprob(seqs):
        from interlingua.tokenizer import BOS, EOS
        total = []
        for i, seq in enumerate(seqs):
            ids = torch.tensor([[BOS] + seq + [EOS]])
            state = model.start_decoding(thought[i:i + 1], lang[i:i + 1])
            lp = model.decode(ids[:, :-1], state, use_cache=False).log_softmax(-1)
            total.append(float(lp[0].gather(1, ids[0, 1:, None]).sum()) / (len(seq) + 1))
        return total

    for g, b in zip(logprob(greedy(model, thought, lang, 10)), logprob(beam_search(model, thought, lang, 10, beam=4))):
        assert b >= g - 1e-4


def test_min_len_forbids_eos_until_that_many_tokens():
    from interlingua.search import decode_thought
    from interlingua.tokenizer import EOS
    model = tiny_model()
    thought = model.encode(torch.randint(4, 50, (3, 8)))
    lang = model.language_ids(["fr", "de", "en"])
    # min_len == max_len forces that exact length (what bench/inference.py relies on), greedy and beam.
    assert [len(s) for s in greedy(model, thought, lang, 9, min_len=9)] == [9, 9, 9]
    assert [len(s) for s in decode_thought(model, thought, lang, 9, beam=4, min_len=9)] == [9, 9, 9]
    # A model that wants to stop at once (EOS has the top logit at every step) stops right after min_len.
    with torch.no_grad():
        model.embed.weight[EOS] *= 10
        model.decoder_norm.weight.zero_()
        model.decoder_norm.bias.copy_(model.embed.weight[EOS])
    assert greedy(model, thought, lang, 12) == [[], [], []]
    assert [len(s) for s in greedy(model, thought, lang, 12, min_len=5)] == [5, 5, 5]
    assert [len(s) for s in beam_search(model, thought, lang, 12, beam=4, min_len=5)] == [5, 5, 5]
    assert all(EOS not in s for s in beam_search(model, thought, lang, 12, beam=4, min_len=5))


@torch.no_grad()
def forced_mean_logprob(model, thought, lang, seqs, max_len: int) -> list[float]:
    """The model's mean log-probability per token of each output, by one teacher-forced pass (no search code)."""
    from interlingua.tokenizer import BOS, EOS
    out = []
    for i, seq in enumerate(seqs):
        ended = len(seq) < max_len  # search strips EOS; an output of max_len tokens was cut there
        ids = torch.tensor([[BOS] + seq + ([EOS] if ended else [])])
        state = model.start_decoding(thought[i:i + 1], lang[i:i + 1])
        lp = model.decode(ids[:, :-1], state, use_cache=False).float().log_softmax(-1)
        out.append(float(lp[0].gather(1, ids[0, 1:, None]).mean()))
    return out


@pytest.mark.parametrize("min_len", [0, 6])
def test_scores_are_the_models_own_mean_log_probability_of_its_output(min_len):
    """The confidence's raw number, greedy and beam: what a forced pass gives the output, EOS included, before
    min_len's ban (a constraint must not make the model look surer than it is)."""
    model = tiny_model()
    torch.manual_seed(1)
    thought = model.encode(torch.randint(4, 50, (4, 8)))
    lang = model.language_ids(["fr", "de", "en", "fr"])
    for search in (lambda **kw: greedy(model, thought, lang, 8, **kw),
                   lambda **kw: beam_search(model, thought, lang, 8, beam=3, **kw)):
        seqs, scores = search(min_len=min_len, with_scores=True)
        assert seqs == search(min_len=min_len)  # the flag changes nothing else
        assert scores == pytest.approx(forced_mean_logprob(model, thought, lang, seqs, 8), abs=1e-4)
        assert all(score < 0 for score in scores)
