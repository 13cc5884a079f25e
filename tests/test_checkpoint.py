import os
import pickle
import zipfile

import pytest
import torch

from deepq.checkpoint import (
    CHECKPOINT_FORMAT,
    FORMAT_VERSION,
    CheckpointError,
    atomic_save,
    check_compatible,
    load_file,
)


def valid(**extra):
    return {"format": CHECKPOINT_FORMAT, "version": FORMAT_VERSION, "env_id": "CartPole-v1",
            "obs_shape": [4], "n_actions": 2, "weights": torch.ones(3), **extra}


def test_atomic_save_round_trip_leaves_no_temporary_files(tmp_path):
    path = tmp_path / "checkpoint.pt"
    atomic_save(valid(), path)
    atomic_save(valid(step=2), path)
    assert load_file(path)["step"] == 2
    assert os.listdir(tmp_path) == ["checkpoint.pt"]


def test_failed_save_keeps_the_previous_file(tmp_path):
    path = tmp_path / "checkpoint.pt"
    atomic_save(valid(step=1), path)
    with pytest.raises(Exception):
        atomic_save(valid(bad=lambda: 0), path)  # a lambda cannot be saved
    assert load_file(path)["step"] == 1
    assert os.listdir(tmp_path) == ["checkpoint.pt"]


class RunsCode:
    def __reduce__(self):
        return (os.system, ("touch /tmp/deepq-pwned",))


def test_a_file_that_carries_code_is_refused_and_the_code_never_runs(tmp_path):
    marker = "/tmp/deepq-pwned"
    if os.path.exists(marker):
        os.remove(marker)
    path = tmp_path / "evil.pt"
    torch.save(valid(payload=RunsCode()), path)
    with pytest.raises(CheckpointError, match="pickled Python objects"):
        load_file(path)
    assert not os.path.exists(marker)


@pytest.mark.parametrize("content", [b"", b"not a checkpoint", b"PK\x03\x04garbage"])
def test_garbage_is_reported_as_corrupt(tmp_path, content):
    path = tmp_path / "bad.pt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        load_file(path)


def test_truncated_file_is_corrupt(tmp_path):
    path = tmp_path / "checkpoint.pt"
    atomic_save(valid(), path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        load_file(path)


def test_other_files_and_versions_are_refused(tmp_path):
    path = tmp_path / "plain.pt"
    torch.save({"a": torch.ones(1)}, path)
    with pytest.raises(CheckpointError, match="not a deepq"):
        load_file(path)
    atomic_save(valid(version=99), path)
    with pytest.raises(CheckpointError, match="format version 99"):
        load_file(path)
    with pytest.raises(CheckpointError, match="no such file"):
        load_file(tmp_path / "missing.pt")


def test_compatibility_names_both_sides():
    check_compatible(valid(), "CartPole-v1", (4,), 2)
    with pytest.raises(CheckpointError, match="environment CartPole-v1, but this run has environment Acrobot-v1"):
        check_compatible(valid(), "Acrobot-v1", (4,), 2)
    with pytest.raises(CheckpointError, match="action count 2, but this run has action count 3"):
        check_compatible(valid(), "CartPole-v1", (4,), 3)


def test_zip_without_pickle_is_corrupt(tmp_path):
    path = tmp_path / "x.pt"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("x/data.pkl", pickle.dumps(1)[:3])
    with pytest.raises(CheckpointError):
        load_file(path)
