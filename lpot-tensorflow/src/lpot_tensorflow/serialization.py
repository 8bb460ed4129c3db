"""Saving without pickle: ``model.tflite`` (self-describing: lpot's layer table is in its metadata)
for TFLite recipes, ``model.keras`` (Keras' zip of JSON config + weights) for Keras ones, and a
copy of the SavedModel folder (``saved_model/``, which remembers the tuned signature) for an FP32
result of SavedModel input."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from lpot.errors import ModelError
from lpot_tensorflow.runtime import TFLiteModel
from lpot_tensorflow.saved_model import (
    SavedModel,
    check_folder,
    enclosing_saved_model,
    is_saved_model,
    load_saved_model,
    store_signature,
)
from lpot_tensorflow.tensors import is_keras

TFLITE_FILE = "model.tflite"
KERAS_FILE = "model.keras"
SAVED_MODEL_DIR = "saved_model"


def _target(path: Path, default: str) -> Path:
    if path.suffix in (".tflite", ".keras"):
        path.parent.mkdir(parents=True, exist_ok=True)
        return path
    path.mkdir(parents=True, exist_ok=True)
    return path / default


def save(model: Any, path: Path) -> Path:
    if isinstance(model, TFLiteModel):
        file = _target(Path(path), TFLITE_FILE)
        file.write_bytes(model.content)
        return file
    if is_keras(model):
        file = _target(Path(path), KERAS_FILE)
        model.save(file)
        return file
    if isinstance(model, SavedModel):
        folder = _target(Path(path), SAVED_MODEL_DIR)
        shutil.copytree(model.path, folder, dirs_exist_ok=True)
        store_signature(folder, model.signature)
        return folder
    raise ModelError(
        f"cannot save {type(model).__name__}: expected a keras.Model, an lpot TFLiteModel or SavedModel"
    )


def load(path: Path, signature: str | None = None) -> Any:
    """A ``.tflite`` / ``.keras`` file, a SavedModel folder (its ``signature``; by default the one
    ``save`` stored with it), or a folder ``save`` wrote one of them into."""
    path = Path(path)
    if path.is_dir():
        if is_saved_model(path) or is_saved_model(path / SAVED_MODEL_DIR):
            return load_saved_model(path if is_saved_model(path) else path / SAVED_MODEL_DIR, signature)
        for name in (TFLITE_FILE, KERAS_FILE):
            if (path / name).is_file():
                path = path / name
                break
        else:
            raise ModelError(
                f"{path}: not a TF SavedModel folder (no saved_model.pb in it) and no {TFLITE_FILE} "
                f"or {KERAS_FILE} in it"
            )
    if not path.is_file():
        raise ModelError(f"{path}: no such file")
    if path.suffix == ".tflite":
        return TFLiteModel(path.read_bytes())
    if path.suffix == ".keras":
        import keras

        import lpot_tensorflow.qat  # noqa: F401  registers the fake-quant layer for deserialization

        try:
            return keras.models.load_model(path, safe_mode=True)
        except Exception as exc:
            raise ModelError(f"{path}: not a Keras archive Keras can load ({exc})") from exc
    if enclosing_saved_model(path) is not None:
        check_folder(path)  # says: a file inside a SavedModel folder, pass the folder
    raise ModelError(f"{path}: expected a .tflite or .keras file or a SavedModel folder")


def keras_bytes(model: Any) -> int:
    """Weight payload (each variable in its stored dtype) + JSON config.

    Not the ``.keras`` file length: its HDF5 container adds ~0.7 MB of fixed overhead (measured on
    an 84k-parameter MLP: 1.05 MB of file for 0.34 MB of FP32 weights) and keeps optimizer state for
    compiled models, which would swamp the difference between recipes on small models.
    """
    import json

    payload = sum(np.asarray(v.value.numpy()).nbytes for v in model.weights)
    return payload + len(json.dumps(model.get_config(), default=str))


def model_size(model: Any) -> int:
    if isinstance(model, TFLiteModel):
        return len(model.content)
    if is_keras(model):
        return keras_bytes(model)
    if isinstance(model, SavedModel):
        return model.size()
    raise ModelError(f"cannot size {type(model).__name__}")


def fingerprint(model: Any) -> str:
    """Content hash: TFLite bytes, a SavedModel's signature and files, or a Keras model's class,
    weight paths, dtypes and values."""
    if isinstance(model, (TFLiteModel, SavedModel)):
        return model.fingerprint()
    digest = hashlib.sha256(type(model).__qualname__.encode())
    for variable in model.weights:
        value = np.asarray(variable.value.numpy())  # np.asarray(variable) warns under numpy 2
        digest.update(f"{variable.path}:{value.shape}:{value.dtype}".encode())
        digest.update(np.ascontiguousarray(value).tobytes())
    return digest.hexdigest()[:16]
