"""scikit-learn MLPClassifiers on digits, exported by skl2onnx in both of its usual forms.

skl2onnx writes two outputs for a classifier, the predicted label (int64, N) first, then the
probabilities: by default ``output_label`` and ``output_probability`` as a ZipMap (a sequence of
{class: probability} maps); with ``options={id(clf): {"zipmap": False}}`` ``label`` and
``probabilities``, an N x 10 float tensor. Users score the second output.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from lpot_zoo.cache import cached_file
from lpot_zoo.digits import digits_split

MADE_BY = ("scikit-learn", "numpy")
SHALLOW = (64,)
DEEP = (128, 64, 64, 32)  # four hidden layers
MAX_ITER = 150  # part of every cache key: another training is another model


def train_mlp(hidden: tuple[int, ...] = SHALLOW, seed: int = 0) -> Any:
    """An MLPClassifier trained on the digits' training split (about a second)."""
    from sklearn.neural_network import MLPClassifier

    x, y, _, _ = digits_split(seed)
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from threadpoolctl import threadpool_limits

    # one BLAS thread: these matrices are tiny, and two threads on a busy machine ran 3-10x slower
    with warnings.catch_warnings(), threadpool_limits(1):
        warnings.simplefilter("ignore", ConvergenceWarning)  # 150 epochs: > 95 % on validation
        return MLPClassifier(hidden_layer_sizes=hidden, max_iter=MAX_ITER, random_state=seed).fit(x, y)


def output_names(*, zipmap: bool) -> tuple[str, str]:
    """skl2onnx's names for a classifier's (label, probabilities) outputs."""
    return ("output_label", "output_probability") if zipmap else ("label", "probabilities")


@cache
def mlp_classifier(hidden: tuple[int, ...] = SHALLOW, seed: int = 0) -> Any:
    """The trained classifier, once per process (deterministic for a seed: the cached ONNX file
    holds the same weights)."""
    return train_mlp(hidden, seed)


def mlp_onnx(*, zipmap: bool = True, hidden: tuple[int, ...] = SHALLOW, seed: int = 0) -> Path:
    """The classifier as ONNX: input ``input`` (N x 64 float32); outputs :func:`output_names`."""

    def build(path: Path) -> None:
        from skl2onnx import to_onnx
        from skl2onnx.common.data_types import FloatTensorType

        clf = mlp_classifier(hidden, seed)
        options = None if zipmap else {id(clf): {"zipmap": False}}
        onx = to_onnx(clf, initial_types=[("input", FloatTensorType([None, 64]))], options=options)
        path.write_bytes(onx.SerializeToString())

    name = f"mlp_digits_{'zipmap' if zipmap else 'tensor'}.onnx"
    return cached_file(name, (*MADE_BY, "skl2onnx", "onnx"), build, extra=f"{hidden}/{seed}/{MAX_ITER}")
