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


def test_values_out_of_range_are_all_named_at_once_before_any_work():
    with pytest.raises(InterlinguaError) as caught:
        load_config("tiny", ["model.d_model=-3", "lr=-1", "label_smoothing=1.5", "max_tokens=0", "dropout=1"])
    message = str(caught.value)
    for needle in ("model.d_model must be at least 1, got -3", "train.lr must be above 0, got -1.0",
                   "train.label_smoothing must be at least 0 and below 1, got 1.5",
                   "train.max_tokens must be at least 1, got 0", "model.dropout must be at least 0 and below 1"):
        assert needle in message, message


def test_settings_that_contradict_each_other_are_named():
    with pytest.raises(InterlinguaError, match=r"model.n_heads \(3\) must divide model.d_model \(32\)"):
        load_config("tiny", ["model.n_heads=3"])
    with pytest.raises(InterlinguaError, match="adversary_weight needs a bridge"):
        load_config("tiny", ["model.bridge_queries=0", "adversary_weight=0.2"])
    with pytest.raises(InterlinguaError, match="lr_schedule=cosine decays over the run's budget"):
        load_config("tiny", ["lr_schedule=cosine"])
    load_config("tiny", ["lr_schedule=cosine", "max_steps=10"])  # with a budget it is fine


@pytest.mark.parametrize("index", ["2", "-2"])
def test_encoder_no_residual_names_a_layer_that_exists(index):
    with pytest.raises(InterlinguaError, match=rf"model.encoder_no_residual must be -1 \(none\) or an encoder "
                                               rf"layer's index, 0 to 1 \(model.encoder_layers=2\), got {index}$"):
        load_config("tiny", ["model.encoder_layers=2", f"model.encoder_no_residual={index}"])
    for fine in ("-1", "0", "1"):
        assert load_config("tiny", ["model.encoder_layers=2", f"model.encoder_no_residual={fine}"])


def test_a_saved_config_and_the_python_api_are_checked_too(tmp_path):
    from interlingua.config import RunConfig
    from interlingua.train import train
    with pytest.raises(InterlinguaError, match="model.n_heads must be at least 1"):
        RunConfig.from_dict({"model": {"n_heads": 0}}, "run/config.json")
    config = load_config("tiny")
    config.train.lr = 0.0
    with pytest.raises(InterlinguaError, match="train.lr must be above 0"):
        train(tmp_path / "corpus.jsonl", tmp_path / "run", config)
    assert not (tmp_path / "run").exists()


def test_a_bad_value_on_the_command_line_is_one_line(tmp_path):
    from conftest import assert_clean_error, run_cli
    result = run_cli("train", "--data", str(tmp_path / "c.jsonl"), "--out", str(tmp_path / "run"), "--config", "tiny",
                     "model.n_heads=3", "lr=-1", "model.encoder_no_residual=1")
    assert_clean_error(result, "model.n_heads (3) must divide", "train.lr must be above 0",
                       "model.encoder_no_residual must be -1 (none) or an encoder layer's index, 0 to 0")
