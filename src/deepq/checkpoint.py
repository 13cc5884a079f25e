"""Checkpoints and model files: written atomically, loaded as weights only, checked for fit.

A checkpoint is a dict of tensors, numbers, strings, lists and dicts; it is loaded with
``torch.load(weights_only=True)``, which refuses any pickled code.
"""

from __future__ import annotations

import os
import pickle
import shutil
import tempfile
import warnings
import zipfile
from pathlib import Path
from typing import Any

import torch

from deepq.errors import CheckpointError  # noqa: F401 - raised here, importable from here

CHECKPOINT_FORMAT = "deepq-checkpoint"
MODEL_FORMAT = "deepq-model"
FORMAT_VERSION = 1


def atomic_save(data: dict[str, Any], path: Path) -> None:
    """Write ``data`` to ``path`` so that ``path`` is always either the old or the new file.

    The bytes go to a temporary file in the same directory, are flushed and fsynced, and the
    file is renamed over ``path``; the directory is fsynced so the rename itself survives.
    """
    path = Path(path)
    handle, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as tmp:
            torch.save(data, tmp)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def atomic_link(source: Path, path: Path) -> None:
    """Make ``path`` name the same file as ``source`` (a hard link, or a copy where links are
    not supported), replacing any old ``path`` in one rename."""
    tmp = path.with_name(f".{path.name}.link.tmp")
    tmp.unlink(missing_ok=True)
    try:
        os.link(source, tmp)
    except OSError:
        shutil.copyfile(source, tmp)
    os.replace(tmp, path)


def load_file(path: Path, expected_format: str | None = None) -> dict[str, Any]:
    """Load a deepq file safely, raising CheckpointError with a clear message for any problem."""
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"{path} is a directory; give a .pt file or use the run directory command")
    if not path.exists():
        raise CheckpointError(f"no such file: {path}")
    try:
        with warnings.catch_warnings():  # a damaged header makes torch warn before it fails
            warnings.simplefilter("ignore")
            data = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        if "GLOBAL" in str(error) or "Unsupported global" in str(error):
            raise CheckpointError(
                f"refusing to load {path}: it carries pickled Python objects (possibly code); "
                "deepq only loads weights. Re-save it from deepq or use a trusted file"
            ) from None
        raise CheckpointError(
            f"{path} is corrupt or truncated, or not a deepq file (unreadable pickle data); "
            "use an earlier checkpoint"
        ) from None
    except Exception as error:  # noqa: BLE001 - damaged bytes fail deep inside torch in many ways
        # (zip, struct, unicode, index, memory errors...): each is the same fact for the user.
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        if isinstance(error, OSError | zipfile.BadZipFile):
            first_line = "incomplete or damaged archive"
        raise CheckpointError(
            f"{path} is corrupt or truncated ({first_line}); use an earlier checkpoint or retrain"
        ) from None
    if not isinstance(data, dict) or data.get("format") not in (CHECKPOINT_FORMAT, MODEL_FORMAT):
        raise CheckpointError(f"{path} is not a deepq checkpoint or model file")
    if expected_format is not None and data["format"] != expected_format:
        raise CheckpointError(f"{path} is a {data['format']} file, expected a {expected_format} file")
    if data.get("version") != FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has format version {data.get('version')}; this deepq reads version {FORMAT_VERSION}"
        )
    return data


def check_compatible(data: dict[str, Any], env_id: str, obs_shape: tuple[int, ...], n_actions: int) -> None:
    """Refuse a file made for another environment, observation shape or action count."""
    pairs = [
        ("environment", data.get("env_id"), env_id),
        ("observation shape", tuple(data.get("obs_shape", ())), tuple(obs_shape)),
        ("action count", data.get("n_actions"), n_actions),
    ]
    for what, saved, wanted in pairs:
        if saved != wanted:
            raise CheckpointError(
                f"the file was made for {what} {saved}, but this run has {what} {wanted}"
            )
