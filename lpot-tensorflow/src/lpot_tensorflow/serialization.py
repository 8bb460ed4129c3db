"""Saving without pickle: ``model.tflite`` (self-describing: lpot's layer table is in its metadata)
for TFLite recipes, ``model.keras`` (Keras' zip of JSON config + weights) for Keras ones, and a
copy of the SavedModel folder (``saved_model/``, which remembers the tuned signature) for an FP32
result of SavedModel input."""

from __future__ import annotations

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


def content_bytes(model: Any) -> bytes:
    """What defines the model, deterministically: TFLite bytes; a SavedModel's signature and files;
    a Keras model's class, config and each weight's path, dtype, shape and values (as stored: INT8
    kernels of Keras int8 layers are 1 byte each). Hashed for resume, counted as the model's size."""
    if isinstance(model, TFLiteModel):
        return model.content
    if isinstance(model, SavedModel):
        return model.content_bytes()
    if not is_keras(model):
        raise ModelError(f"cannot serialize {type(model).__name__}")
    import json

    parts = [
        type(model).__qualname__.encode(),
        json.dumps(model.get_config(), default=str, sort_keys=True).encode(),
    ]
    for variable in model.weights:
        value = np.asarray(variable.value.numpy())  # np.asarray(variable) warns under numpy 2
        parts.append(f"{variable.path}:{value.shape}:{value.dtype};".encode())
        parts.append(np.ascontiguousarray(value).tobytes())
    return b"".join(parts)
