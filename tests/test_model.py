"""The model's contract: one thought shape for every sentence, no language signal in the encoder,
and decoding equivalences (cached = uncached, beam 1 = greedy)."""
import torch

from interlingua.config import ModelConfig
from interlingua.model import Interlingua
from interlingua.search import beam_search, greedy, parents_in_place


def tiny_model(**kw) -> Interlingua:
    torch.manual_seed(0)
    settings = dict(vocab_size=50, d_model=32, n_heads=2, d_ff=64, encoder_layers=2, decoder_layers=2,
                    bridge_queries=4, dropout=0.0, target_languages=["en", "fr", "de"])
    config = ModelConfig(**{**settings, **kw})
    return Interlingua(config).eval()


def test_thought_has_one_shape_for_every_length():
    model = tiny_model()
    short = model.encode(torch.randint(4, 50, (3, 5)))
    long = model.encode(torch.randint(4, 50, (3, 40)))
    assert short.shape == long.shape == (3, 4, 32)


def test_padding_does_not_change_the_thought():
    model = tiny_model()
    src = torch.randint(4, 50, (1, 7))
    padded = torch.cat([src, torch.zeros(1, 5, dtype=torch.long)], dim=1)
    assert torch.allclose(model.encode(src), model.encode(padded), atol=1e-5)


def test_encoder_has_no_language_input():
    """The encoder's only input is the token ids: nothing tells it which language they are in."""
    import inspect
    assert list(inspect.signature(Interlingua.encode).parameters) == ["self", "src", "return_layers"]


def test_decoder_sees_only_the_thought():
    """Changing the source changes the output only through the thought: equal thoughts, equal logits."""
    model = tiny_model()
    thought = model.encode(torch.randint(4, 50, (2, 9)))
    lang = model.language_ids(["fr", "de"])
    tgt = torch.randint(4, 50, (2, 6))
    a = model.decode(tgt, model.start_decoding(thought, lang), use_cache=False)
    b = model.decode(tgt, model.start_decoding(thought.clone(), lang), use_cache=False)
    assert torch.equal(a, b)


def test_cached_decoding_equals_uncached():
    model = tiny_model()
    thought = model.encode(torch.randint(4, 50, (4, 8)))
    lang = model.language_ids(["fr", "de", "en", "fr"])
    # 40 forced tokens: the cache buffer grows twice (16 -> 32 -> 64 positions) on the way.
    cached = greedy(model, thought, lang, 40, use_cache=True, min_len=40)
    assert cached == greedy(model, thought, lang, 40, use_cache=False, min_len=40)
    assert {len(seq) for seq in cached} == {40}


def test_beam_of_one_equals_greedy():
    model = tiny_model()
    thought = model.encode(torch.randint(4, 50, (4, 8)))
    lang = model.language_ids(["fr", "de", "en", "fr"])
    assert beam_search(model, thought, lang, 12, beam=1) == greedy(model, thought, lang, 12)


@torch.no_grad()
def textbook_beam_search(model, thought, lang, max_len: int, beam: int) -> list[list[int]]:
    """One sentence at a time, every prefix recomputed without a cache, hypotheses in Python lists:
    the same rules as search.beam_search (the best 2*beam continuations; those ending leave with their
    score / (length + 1); a sentence stops with `beam` finished), none of its batching or in-place tricks."""
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
            for score, seq in sorted(candidates, key=lambda c: -c[0])[:2 * beam]:
                if seq[-1] == EOS or step == max_len - 1:
                    hyp = seq[:-1] if seq[-1] == EOS else seq
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


def test_flops_per_token_counts_the_parameters():
    model = tiny_model()
    flops = model.flops_per_target_token(10, 10)
    encoder_decoder = sum(p.numel() for p in [*model.encoder.parameters(), *model.decoder.parameters()])
    assert 6 * encoder_decoder < flops < 6 * 3 * model.num_parameters()


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


def test_bf16_weights_decode_close_to_fp32():
    model = tiny_model()
    src = torch.randint(4, 50, (4, 8))
    lang = model.language_ids(["fr", "de", "en", "fr"])
    with torch.inference_mode():
        fp32 = model.pool(model.encode(src))
        half = tiny_model().to(torch.bfloat16)
        bf16 = half.pool(half.encode(src)).float()
        assert torch.nn.functional.cosine_similarity(fp32, bf16).min() > 0.99
        out = beam_search(half, half.encode(src), lang, 8, beam=2, min_len=8)
    assert [len(o) for o in out] == [8] * 4


def test_without_a_bridge_the_decoder_reads_every_source_token_and_never_padding():
    """bridge_queries=0 (the standard multilingual Transformer): the thought is the encoder states, one row
    per token; a sentence decodes to the same logits alone as beside a longer one (its padding is masked),
    greedy and beam search agree on it, and its pooled vector ignores padding."""
    model = tiny_model(bridge_queries=0)
    src = torch.randint(4, 50, (2, 9))
    src[0, 5:] = 0  # the first sentence is 5 tokens, padded to 9
    thought = model.encode(src)
    assert thought.shape == (2, 9, 32) and torch.equal(thought[0, 5:], torch.zeros(4, 32))
    alone = model.encode(src[:1, :5])
    lang = model.language_ids(["fr", "fr"])
    tgt = torch.randint(4, 50, (2, 6))
    in_batch = model.decode(tgt, model.start_decoding(thought, lang), use_cache=False)[0]
    by_itself = model.decode(tgt[:1], model.start_decoding(alone, lang[:1]), use_cache=False)[0]
    assert torch.allclose(in_batch, by_itself, atol=1e-5)
    # Padding rows read by the decoder would change the logits: the mask is what makes them equal.
    state = model.start_decoding(thought, lang)
    state.thought_mask = None
    assert not torch.allclose(model.decode(tgt, state, use_cache=False)[0], by_itself, atol=1e-3)
    assert torch.allclose(model.pool(thought)[0], model.pool(alone)[0], atol=1e-5)
    assert greedy(model, thought, lang, 12) == beam_search(model, thought, lang, 12, beam=1)
    beams = beam_search(model, thought, lang, 12, beam=3)
    assert beams[0] == beam_search(model, alone, lang[:1], 12, beam=3)[0]
