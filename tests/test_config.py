import pytest

from interlingua.config import load_config, presets
from interlingua.errors import InterlinguaError


@pytest.mark.parametrize("name", presets())
def test_every_preset_loads(name):
    config = load_config(name)
    assert config.model.d_model % config.model.n_heads == 0
    assert config.model.bridge_queries >= 0  # 0: no bridge (small, base)


def test_presets_exist():
    assert {"tiny", "small", "base"} <= set(presets())


def test_overrides_take_types_and_sections():
    config = load_config("tiny", ["lr=0.01", "model.d_model=64", "languages=fr,de", "align_weight=0.5"])
    assert config.train.lr == 0.01 and config.model.d_model == 64
    assert config.train.languages == ["fr", "de"] and config.train.align_weight == 0.5


def test_every_problem_reported_at_once_with_valid_keys(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("model:\n  d_modle: 3\ntrain:\n  lr: fast\n")
    with pytest.raises(InterlinguaError) as err:
        load_config(str(bad), ["bogus=1"])
    message = str(err.value)
    assert "d_modle" in message and "lr" in message and "bogus" in message and "model.d_model" in message


def test_unknown_preset_names_the_presets():
    with pytest.raises(InterlinguaError, match="tiny"):
        load_config("huge")


def test_a_word_setting_takes_only_its_words():
    assert load_config("tiny", ["precision=bf16"]).train.precision == "bf16"
    with pytest.raises(InterlinguaError, match="precision must be one of auto, fp32, bf16, got 'fp16'"):
        load_config("tiny", ["precision=fp16"])
