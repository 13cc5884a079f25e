import pytest

from deepq.config import PRESETS, ConfigError, DQNConfig, build_config, parse_overrides, set_field


def test_every_preset_is_valid_and_names_a_threshold():
    for preset in PRESETS.values():
        config = preset.config()
        # MinAtar has no agreed "solved" score: its presets are judged against the paper's curves
        assert config.solved_threshold is not None or preset.env_id.startswith("MinAtar/"), preset.name


def test_set_field_converts_strings_to_field_types():
    config = DQNConfig()
    set_field(config, "learning_rate", "5e-4")
    set_field(config, "batch_size", "1e2")
    set_field(config, "double", "true")
    set_field(config, "hidden_sizes", "60,40,25")
    set_field(config, "solved_threshold", "none")
    set_field(config, "optimizer", "RMSprop")
    assert config.learning_rate == 5e-4
    assert config.batch_size == 100 and isinstance(config.batch_size, int)
    assert config.double is True
    assert config.hidden_sizes == (60, 40, 25)
    assert config.solved_threshold is None
    assert config.optimizer == "rmsprop"


def test_unknown_key_suggests_the_closest():
    with pytest.raises(ConfigError, match="did you mean learning_rate"):
        set_field(DQNConfig(), "learning_rat", "1")


@pytest.mark.parametrize("key,value,message", [
    ("batch_size", "abc", "bad value for batch_size"),
    ("batch_size", "2.5", "integer"),
    ("double", "maybe", "true or false"),
    ("learning_rate", "nan", "finite"),
])
def test_bad_values_are_named(key, value, message):
    with pytest.raises(ConfigError, match=message):
        set_field(DQNConfig(), key, value)


@pytest.mark.parametrize("overrides,message", [
    ({"gamma": "1.5"}, "gamma must be in"),
    ({"batch_size": "64", "buffer_size": "10"}, "batch_size must be <= buffer_size"),
    ({"optimizer": "adamw"}, "choose one of adam"),
    ({"tau": "0"}, "tau must be"),
])
def test_out_of_range_values_are_refused(overrides, message):
    with pytest.raises(ConfigError, match=message):
        build_config("CartPole-v1", None, overrides)


def test_build_config_uses_the_env_default_preset_then_overrides():
    config, preset = build_config("CartPole-v1", None, {"gamma": "0.9"})
    assert preset is not None and preset.env_id == "CartPole-v1"
    assert config.gamma == 0.9
    assert config.hidden_sizes == PRESETS[preset.name].config().hidden_sizes


def test_a_preset_borrowed_for_another_env_takes_that_envs_threshold():
    config, preset = build_config("CartPole-v1", "rainbow-lite")  # a LunarLander preset
    assert preset.env_id == "LunarLander-v3" and config.solved_threshold == 475.0
    assert config.dueling and config.prioritized  # the preset's hyperparameters still apply
    config, _ = build_config("CartPole-v1", "rainbow-lite", {"solved_threshold": "300"})
    assert config.solved_threshold == 300.0
    config, _ = build_config("deepq/SandCar-v0", "rainbow-lite")  # no preset of its own: no threshold
    assert config.solved_threshold is None


def test_unknown_preset_suggests():
    with pytest.raises(ConfigError, match="did you mean cartpole"):
        build_config("CartPole-v1", "cartpol")


def test_parse_overrides():
    assert parse_overrides(["a=1", "b = x"]) == {"a": "1", "b": "x"}
    with pytest.raises(ConfigError, match="key=value"):
        parse_overrides(["novalue"])


def test_round_trip_through_dict():
    config = DQNConfig(hidden_sizes=(5, 7), double=True)
    assert DQNConfig.from_dict(config.to_dict()) == config
