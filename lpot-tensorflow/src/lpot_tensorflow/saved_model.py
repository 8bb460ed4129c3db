"""SavedModel input: one signature of a TF SavedModel folder, tuned op by op in its TFLite graph.

A SavedModel has no Keras layers, so lpot tunes the weighted ops of the TFLite graph the converter
makes from the signature (see :mod:`~lpot_tensorflow.saved_model_graph`) and leaves out what needs
layers (keras_int8, keras_bf16, QAT). ``SavedModel`` is the FP32 model ``eval_func`` receives for the
baseline; it keeps the contract of the ``TFLiteModel`` the INT8 trials get:

- ``model(x)`` / ``model.predict(x, batch_size=None)`` take one array (single-input signature), a
  list in the sorted order of the signature's input names (``model.input_order``) or a dict keyed
  by input name;
- they return numpy: one array for a single-output signature, else a list of the outputs ordered
  by the numeric suffix of their names (``output_0``, ``output_1``), then by name.

Loading runs ``tf.saved_model.load`` (a graph and variables: nothing is unpickled). A copy lpot
saves remembers its signature in ``assets.extra/lpot.json`` (the folder TensorFlow leaves to
libraries; the graph never loads it), so reloading it, e.g. in a benchmark instance, runs the
signature that was tuned.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from lpot.errors import ModelError
from lpot_tensorflow.runtime import KerasLike, named_feeds, ordered_outputs

GRAPH_FILE = "saved_model.pb"
DEFAULT_SIGNATURE = "serving_default"
LPOT_FILE = Path("assets.extra") / "lpot.json"


def is_saved_model(path: Path) -> bool:
    return path.is_dir() and (path / GRAPH_FILE).is_file()


def enclosing_saved_model(path: Path) -> Path | None:
    """The SavedModel folder a file lies in (``saved_model.pb``, ``variables/variables.index``)."""
    for parent in list(path.parents)[:2]:
        if is_saved_model(parent):
            return parent
    return None


def check_folder(path: Path) -> None:
    """One-line errors for what is not a SavedModel folder, naming the path."""
    root = enclosing_saved_model(path) if path.is_file() else None
    if root is not None:
        raise ModelError(f"{path}: a file inside the SavedModel folder {root}; pass the folder itself")
    if not path.exists():
        raise ModelError(f"{path}: no such SavedModel folder")
    if not is_saved_model(path):
        raise ModelError(f"{path}: not a TF SavedModel folder (no {GRAPH_FILE} in it)")


def stored_signature(path: Path) -> str | None:
    """The signature an lpot-saved copy was tuned with (None for other folders)."""
    try:
        return json.loads((path / LPOT_FILE).read_text())["signature"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def store_signature(path: Path, signature: str) -> None:
    (path / LPOT_FILE).parent.mkdir(exist_ok=True)
    (path / LPOT_FILE).write_text(json.dumps({"signature": signature}))


def load_saved_model(path: Path | str, signature: str | None = None) -> SavedModel:
    """The ``signature`` of the SavedModel folder ``path``: the one asked for, else the one an
    lpot-saved copy stored, else ``serving_default``."""
    path = Path(path)
    check_folder(path)
    import tensorflow as tf

    try:
        loaded = tf.saved_model.load(str(path))
    except Exception as exc:
        from lpot_tensorflow.tflite import first_line

        raise ModelError(f"{path}: TensorFlow cannot load this SavedModel ({first_line(exc)})") from exc
    signatures = dict(loaded.signatures)
    if not signatures:
        raise ModelError(
            f"{path}: the SavedModel has no signature, so its inputs are unknown; export it with one "
            "(Keras: model.export(path); tf.saved_model.save(obj, path, signatures=obj.f.get_concrete_function(...)))"
        )
    key = signature or stored_signature(path) or DEFAULT_SIGNATURE
    if key not in signatures:
        raise ModelError(
            f"{path}: no signature {key!r}; available: {', '.join(map(repr, sorted(signatures)))} "
            "(choose one with TensorFlowBackend(signature=...))"
        )
    return SavedModel(path, key, loaded, signatures[key])


class SavedModel(KerasLike):
    """One signature of a loaded SavedModel, callable like the TFLite models tuned from it."""

    def __init__(self, path: Path, signature: str, loaded: Any, function: Any) -> None:
        self.path = Path(path)
        self.signature = signature
        self._loaded = loaded  # keeps the signature's variables alive
        self.function = function
        args, kwargs = function.structured_input_signature
        if args:
            raise ModelError(
                f"{path}: signature {signature!r} takes positional inputs; lpot needs named ones"
            )
        self.specs: dict[str, Any] = dict(kwargs)
        # A signature's inputs are a map (Keras' export lists a model's inputs [a, b] as [b, a]):
        # a list of arrays follows the names sorted, as TensorFlow flattens a dict.
        self.input_order = sorted(self.specs)
        self._dtypes = {n: spec.dtype.as_numpy_dtype for n, spec in self.specs.items()}
        self._source: Any = None

    @property
    def source(self) -> Any:
        """Its :class:`~lpot_tensorflow.saved_model_graph.SavedModelGraph` (float graph cached there)."""
        if self._source is None:
            from lpot_tensorflow.saved_model_graph import SavedModelGraph

            self._source = SavedModelGraph(self)
        return self._source

    def feeds(self, inputs: Any) -> dict[str, np.ndarray]:
        return named_feeds(inputs, self.input_order, self._dtypes)

    def __call__(self, inputs: Any, training: bool = False) -> Any:
        import tensorflow as tf

        out = self.function(**{k: tf.constant(v) for k, v in self.feeds(inputs).items()})
        return ordered_outputs({k: v.numpy() for k, v in out.items()})

    def files(self) -> list[Path]:
        """The folder's files but lpot's own note: a saved copy has the original's fingerprint."""
        return sorted(p for p in self.path.rglob("*") if p.is_file() and p != self.path / LPOT_FILE)

    def content_bytes(self) -> bytes:
        """The signature's float TFLite graph: the FP32 model in the format INT8 results take, so
        sizes compare like with like. Not the folder: Keras' export writes each variable twice into
        the checkpoint (measured: 759 KB of variables for 383 KB of digits-CNN weights), which would
        double FP32 in every size ratio."""
        return f"SavedModel:{self.signature};".encode() + self.source.float_model().content

    def __repr__(self) -> str:
        return f"SavedModel({str(self.path)!r}, signature={self.signature!r})"
