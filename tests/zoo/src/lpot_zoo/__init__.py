"""lpot-zoo: real models and real data for lpot's tests and benchmarks.

Every weight comes from a PyPI wheel and every sample from a package's own files, so nothing is
downloaded at run time. Import the submodule you need; this package itself imports no framework:

- :mod:`lpot_zoo.photos`, :mod:`lpot_zoo.sentences`, :mod:`lpot_zoo.digits`: the data, as lpot
  dataloaders (:class:`lpot_zoo.batches.Batches`);
- :mod:`lpot_zoo.efficientnet`, :mod:`lpot_zoo.minilm`, :mod:`lpot_zoo.shapes`: torch models;
- :mod:`lpot_zoo.exports`, :mod:`lpot_zoo.sklearn_mlp`: ONNX files, exported once and cached;
- :mod:`lpot_zoo.keras_efficientnet`, :mod:`lpot_zoo.gluon_efficientnet`: rebuilds with the real weights;
- :mod:`lpot_zoo.agreement`: the metrics (top-1 agreement, embedding cosine) against FP32.
"""

from __future__ import annotations

__version__ = "0.1.0"
