"""The model's contract: one thought shape for every sentence, no language signal in the encoder, the
decoder reads the source only through the thought (decoding itself: test_search.py)."""
import pytest
import torch

from conftest import tiny_model
from interlingua.search import beam_search, greedy


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
    """Nothing tells the encoder which language it reads: a forward pass into another target language, or
    with the target-language table scrambled, gives the same thought, while the decoder's output moves."""
    model = tiny_model()
    src, tgt = torch.randint(4, 50, (2, 9)), torch.randint(4, 50, (2, 6))
    logits_fr, thought_fr = model(src, tgt, model.language_ids(["fr", "fr"]))
    logits_de, thought_de = model(src, tgt, model.language_ids(["de", "de"]))
    assert torch.equal(thought_fr, thought_de) and not torch.allclose(logits_fr, logits_de, atol=1e-3)
    with torch.no_grad():
        model.target_language.weight.normal_()
    assert torch.equal(model.encode(src), thought_fr)


def _thought_replaced_by(model, thought):
    """While active, the bridge's output (the thought that model.forward passes on) is ``thought``."""
    return model.bridge.register_forward_hook(lambda module, inputs, output: thought)


def test_decoder_sees_only_the_thought():
    """Another source with the same thought gives the same logits; the same source with another thought
    does not: the source reaches the decoder through the thought and nothing else."""
    model = tiny_model()
    src, other_src = torch.randint(4, 50, (2, 9)), torch.randint(4, 50, (2, 7))
    tgt, lang = torch.randint(4, 50, (2, 6)), model.language_ids(["fr", "de"])
    logits, thought = model(src, tgt, lang)
    hook = _thought_replaced_by(model, thought)
    try:
        same_thought, _ = model(other_src, tgt, lang)
    finally:
        hook.remove()
    assert torch.equal(same_thought, logits)
    hook = _thought_replaced_by(model, thought.flip(0))  # each sentence gets the other's thought
    try:
        swapped, _ = model(src, tgt, lang)
    finally:
        hook.remove()
    assert not torch.allclose(swapped, logits, atol=1e-3)


def test_flops_per_token_counts_the_parameters():
    model = tiny_model()
    flops = model.flops_per_target_token(10, 10)
    encoder_decoder = sum(p.numel() for p in [*model.encoder.parameters(), *model.decoder.parameters()])
    assert 6 * encoder_decoder < flops < 6 * 3 * model.num_parameters()


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


def test_post_norm_layers_end_normalised_and_decode_incrementally_as_in_one_pass():
    """model.norm=post (Vaswani's and Marian's layout): each layer's output is layer-normalised (mean 0,
    unit variance per position, before the norm's learned affine moves), and the cached step-by-step
    decoder gives the teacher-forced pass's logits, as pre-norm's does."""
    model = tiny_model(norm="post")
    src, tgt = torch.randint(4, 50, (2, 9)), torch.randint(4, 50, (2, 6))
    _, layers, _ = model.encode(src, return_layers=True)
    for states in layers[1:]:
        assert torch.allclose(states.mean(-1), torch.zeros(2, 9), atol=1e-4)
        assert torch.allclose(states.std(-1, unbiased=False), torch.ones(2, 9), atol=1e-2)
    pre = tiny_model()
    pre.load_state_dict(model.state_dict())  # the same parameters: only where the norms sit differs
    assert not torch.allclose(pre.encode(src), model.encode(src), atol=1e-3)
    lang = model.language_ids(["fr", "de"])
    thought = model.encode(src)
    whole = model.decode(tgt, model.start_decoding(thought, lang), use_cache=False)
    state = model.start_decoding(thought, lang)
    steps = torch.cat([model.decode(tgt[:, i:i + 1], state) for i in range(tgt.shape[1])], dim=1)
    assert torch.allclose(whole, steps, atol=1e-4)


def test_init_std_draws_every_matrix_and_the_table_from_one_normal():
    """model.init_std=0.02 (HF Marian's and BART's init): matrices and embeddings N(0, 0.02), padding row
    zero; the default keeps Xavier matrices and unit-variance scaled embeddings."""
    torch.manual_seed(0)
    marian_like = tiny_model(init_std=0.02)
    up = marian_like.decoder[0].ff.up.weight
    assert abs(up.std().item() - 0.02) < 0.004 and abs(marian_like.embed.weight[1:].std().item() - 0.02) < 0.004
    assert marian_like.embed.weight[marian_like.PAD].abs().sum() == 0
    default = tiny_model()
    assert default.decoder[0].ff.up.weight.std().item() > 0.05  # Xavier at this size: sqrt(2 / (fan_in + fan_out))


# ----------------------------------------------------------------------------- model.encoder_no_residual (Liu et al. 2021)

def _encoder_layers(model, src):
    return model.encode(src, return_layers=True)[1]  # [embeddings, after layer 0, after layer 1, ...]


def test_by_default_every_encoder_layer_adds_its_input_back_as_before():
    """encoder_no_residual=-1 (the default, and what a config.json saved before the key reads as) is the
    plain Transformer layer, bit for bit: x + attn(norm1(x)), then x + ff(norm2(x))."""
    from interlingua.config import RunConfig
    saved_before = RunConfig.from_dict({"model": {"vocab_size": 50, "d_model": 32, "n_heads": 2, "d_ff": 64,
                                                  "encoder_layers": 2, "decoder_layers": 2, "bridge_queries": 4,
                                                  "dropout": 0.0, "target_languages": ["en", "fr", "de"]}})
    assert saved_before.model.encoder_no_residual == -1
    model = tiny_model(**vars(saved_before.model))
    src = torch.randint(4, 50, (2, 9))
    layers = _encoder_layers(model, src)
    mask = (src != model.PAD)[:, None, None, :]
    for i, layer in enumerate(model.encoder):
        x = layers[i]
        x = x + layer.attn(layer.norm1(x), mask=mask)
        assert torch.equal(layers[i + 1], x + layer.ff(layer.norm2(x))), i


@pytest.mark.parametrize("norm", ["pre", "post"])
def test_the_chosen_layers_attention_does_not_add_its_input_back(norm):
    """encoder_no_residual=1: layer 1's self-attention output replaces its input (pre-norm attn(norm1(x)),
    post-norm norm1(attn(x))); the feed-forward keeps its residual and the other layers are unchanged. The
    weights are the residual model's own: the key adds and removes no parameter, so any checkpoint fits."""
    plain = tiny_model(norm=norm, encoder_layers=3)
    cut = tiny_model(norm=norm, encoder_layers=3, encoder_no_residual=1)
    cut.load_state_dict(plain.state_dict())  # strict: the same parameters
    src = torch.randint(4, 50, (2, 9))
    src[1, 6:] = cut.PAD
    mask = (src != cut.PAD)[:, None, None, :]
    before, after = _encoder_layers(plain, src), _encoder_layers(cut, src)
    assert torch.equal(before[1], after[1])  # layer 0 as before
    assert not torch.allclose(before[2], after[2], atol=1e-2) and not torch.allclose(before[3], after[3], atol=1e-2)
    layer, x = cut.encoder[1], after[1]
    if norm == "pre":
        h = layer.attn(layer.norm1(x), mask=mask)
        expected = h + layer.ff(layer.norm2(h))
    else:
        h = layer.norm1(layer.attn(x, mask=mask))
        expected = layer.norm2(h + layer.ff(h))
    assert torch.allclose(after[2], expected, atol=1e-6)
    if norm == "pre":
        # Only norm1(x) reaches the output, and a layer norm forgets the scale: x's own copy is gone.
        assert torch.allclose(layer(3 * x, mask), after[2], atol=1e-4)
        assert not torch.allclose(plain.encoder[1](3 * x, mask), before[2], atol=1e-1)


def test_a_model_without_one_residual_reloads_with_identical_outputs(tmp_path):
    """config.json carries the key: the reloaded model drops the same residual and gives the same outputs."""
    from interlingua.checkpoint import load_model, read_run_config, save_checkpoint
    from interlingua.config import RunConfig, save_json
    model = tiny_model(encoder_no_residual=0)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    src, tgt, lang = torch.randint(4, 50, (2, 7)), torch.randint(4, 50, (2, 5)), model.language_ids(["fr", "de"])
    for _ in range(3):
        logits, _ = model.train()(src, tgt, lang)
        logits.float().logsumexp(-1).mean().backward()
        optimizer.step()
        optimizer.zero_grad()
    model.eval()
    save_checkpoint(tmp_path, 3, model, optimizer, {})
    (tmp_path / "config.json").write_text(save_json(RunConfig(model=model.config)))
    reloaded = load_model(tmp_path, read_run_config(tmp_path), 3)
    assert [layer.attention_residual for layer in reloaded.encoder] == [False, True]
    with torch.no_grad():
        assert torch.equal(reloaded.encode(src), model.encode(src))
        assert torch.equal(reloaded(src, tgt, lang)[0], model(src, tgt, lang)[0])


@pytest.mark.slow  # a real 40-step run of the tiny recipe
def test_the_tiny_recipe_trains_without_one_residual(tmp_path):
    from test_train import GOLDEN_CORPUS, logged
    from interlingua.api import Translator
    from interlingua.config import load_config
    from interlingua.train import train
    config = load_config("tiny", ["model.encoder_layers=2", "model.encoder_no_residual=1", "max_steps=40",
                                  "log_every=5", "eval_every=1000", "save_every_minutes=0"])
    run = train(GOLDEN_CORPUS, tmp_path / "run", config)
    losses = [r["loss"] for r in logged(run)]
    assert losses[-1] < losses[0] - 0.5, losses
    translator = Translator.load(run)
    assert [layer.attention_residual for layer in translator.model.encoder] == [True, False]
    assert translator.translate(["Open file"], to="fr")
