"""The training losses (losses.py) against their plain definitions: the chunked output layer against
cross-entropy of whole logits, the adversary's two gradients against the losses they stand for."""
import pytest
import torch


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_the_chunked_output_layer_loss_equals_the_plain_one_in_value_and_gradients(smoothing):
    from interlingua.losses import output_layer_loss, translation_loss
    torch.manual_seed(0)
    hidden = torch.randn(2, 350, 32, requires_grad=True)
    weight = torch.randn(300, 32, requires_grad=True)
    target = torch.randint(4, 300, (2, 350))
    target[:, 300:] = 0  # padding is left out of the mean
    plain = translation_loss(hidden @ weight.T, target, smoothing)
    chunked = output_layer_loss(hidden, weight, target, smoothing, chunk=256)  # chunks that cut a row
    assert chunked.item() == pytest.approx(plain.item(), rel=1e-6)
    for a, b in zip(torch.autograd.grad(2 * plain, (hidden, weight)), torch.autograd.grad(2 * chunked, (hidden, weight))):
        assert torch.allclose(a, b, atol=1e-7, rtol=1e-5)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        plain = translation_loss(hidden @ weight.T, target, smoothing)
        chunked = output_layer_loss(hidden, weight, target, smoothing)
    assert chunked.item() == pytest.approx(plain.item(), rel=1e-3)


def test_the_language_adversary_learns_while_the_encoder_learns_to_confuse_it():
    from interlingua.config import ModelConfig
    from interlingua.model import Interlingua
    from interlingua.losses import adversary_loss
    torch.manual_seed(0)
    model = Interlingua(ModelConfig(vocab_size=50, d_model=16, n_heads=2, d_ff=32, encoder_layers=1,
                                    decoder_layers=1, bridge_queries=2, dropout=0.0,
                                    target_languages=["en", "fr"], language_adversary=True))
    thought = torch.randn(4, 2, 16, requires_grad=True)
    language = torch.tensor([0, 1, 0, 1])
    adversary_loss(model, thought, language, 0.5).backward()
    encoder_grad, classifier_grad = thought.grad.clone(), model.language_adversary.weight.grad.clone()
    # The classifier gets exactly the gradient of telling the language...
    thought.grad, model.language_adversary.weight.grad = None, None
    torch.nn.functional.cross_entropy(model.language_adversary(thought.flatten(1)), language).backward()
    torch.testing.assert_close(classifier_grad, model.language_adversary.weight.grad)
    # ...and the thought exactly that of pushing the classifier's answer towards uniform.
    thought.grad = None
    logits = model.language_adversary(thought.flatten(1))
    (0.5 * -torch.log_softmax(logits, -1).mean()).backward()
    torch.testing.assert_close(encoder_grad, thought.grad)
