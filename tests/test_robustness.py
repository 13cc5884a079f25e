"""Property-based tests: whatever bytes or values a user feeds in, deepq answers with one clear
error (CheckpointError / ConfigError), never a traceback from deep inside, never a hang."""

import io
import math

import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deepq.checkpoint import CHECKPOINT_FORMAT, FORMAT_VERSION, CheckpointError, load_file
from deepq.config import (
    FIELD_NAMES,
    ConfigError,
    DQNConfig,
    build_config,
    parse_overrides,
    set_field,
)

# derandomize: the same examples on every run, so CI is reproducible (hypothesis still shrinks).
FAST = settings(max_examples=60, deadline=2000, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


def valid_bytes():
    buffer = io.BytesIO()
    torch.save({"format": CHECKPOINT_FORMAT, "version": FORMAT_VERSION, "env_id": "CartPole-v1",
                "obs_shape": [4], "n_actions": 2, "q_net": {"w": torch.randn(4, 2)}}, buffer)
    return buffer.getvalue()


VALID = valid_bytes()


def load_or_clear_error(path, content):
    path.write_bytes(content)
    try:
        data = load_file(path)
    except CheckpointError as error:
        message = str(error)
        assert "\n" not in message and str(path) in message
        return None
    return data


@FAST
@given(content=st.binary(max_size=4096))
def test_random_bytes_give_a_clear_error(tmp_path, content):
    assert load_or_clear_error(tmp_path / "random.pt", content) is None


def test_short_pickle_opcodes_give_a_clear_error(tmp_path):
    # found by hypothesis in CI: a lone BININT opcode made torch's unpickler raise struct.error
    for content in (b"J", b"K", b"M\x01", b"\x80\x02J"):
        assert load_or_clear_error(tmp_path / "short.pt", content) is None


@FAST
@given(cut=st.integers(min_value=0, max_value=len(VALID) - 1))
def test_every_truncation_gives_a_clear_error(tmp_path, cut):
    assert load_or_clear_error(tmp_path / "cut.pt", VALID[:cut]) is None


@FAST
@given(position=st.integers(min_value=0, max_value=len(VALID) - 1), byte=st.integers(0, 255))
def test_a_flipped_byte_loads_or_gives_a_clear_error(tmp_path, position, byte):
    content = bytearray(VALID)
    content[position] = byte
    data = load_or_clear_error(tmp_path / "flipped.pt", bytes(content))
    assert data is None or data["format"] == CHECKPOINT_FORMAT


config_values = st.one_of(
    st.text(max_size=30), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(), st.none(), st.lists(st.integers(min_value=-5, max_value=600), max_size=4),
)


@settings(max_examples=300, deadline=1000, derandomize=True)
@given(key=st.one_of(st.sampled_from(FIELD_NAMES), st.text(max_size=20)), value=config_values)
def test_random_config_values_are_accepted_in_range_or_refused_clearly(key, value):
    config = DQNConfig()
    try:
        set_field(config, key, value)
        config.validate()
    except ConfigError as error:
        assert "\n" not in str(error) and str(error)
        return
    assert key in FIELD_NAMES
    number = getattr(config, key)
    if isinstance(number, float):
        assert math.isfinite(number)


@settings(max_examples=200, deadline=1000, derandomize=True)
@given(pairs=st.lists(st.text(max_size=25), max_size=4))
def test_random_set_arguments_are_parsed_or_refused_clearly(pairs):
    try:
        build_config("CartPole-v1", None, parse_overrides(pairs))
    except ConfigError as error:
        assert "\n" not in str(error) and str(error)
