"""Evaluation functions over the zoo's data, one per framework, as an lpot user writes them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from lpot_zoo.agreement import evaluate, mean_cosine, top1_agreement
from lpot_zoo.batches import Batches


def onnx_runner(model: Any, output: int | str = 0) -> Any:
    """``inputs -> output`` for an ``onnx.ModelProto`` (what lpot hands an ONNX eval_func)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    wanted = output if isinstance(output, str) else names[output]
    first = session.get_inputs()[0].name

    def run(inputs: Any) -> np.ndarray:
        feed = dict(inputs) if isinstance(inputs, dict) else {first: inputs}
        return np.asarray(session.run([wanted], feed)[0])

    return run


def torch_embedding(model: Any) -> Any:
    """``inputs -> mean-pooled last hidden state`` for a BertModel-like torch model (dict / ModelOutput)."""
    import torch
    from lpot_zoo.minilm import mean_pool

    def run(inputs: dict[str, np.ndarray]) -> np.ndarray:
        feed = {k: torch.from_numpy(v) for k, v in inputs.items()}
        with torch.no_grad():
            out = model(**feed)
        hidden = out["last_hidden_state"] if not isinstance(out, torch.Tensor) else out
        return mean_pool(hidden, feed["attention_mask"]).numpy()

    return run


@dataclass(frozen=True)
class Scored:
    """``eval_func(model) -> metric(runner(model) over data)``; picklable (module-level parts), so
    lpot's local executor can send it to its worker processes."""

    data: Batches
    runner: Callable[[Any], Any]
    metric: Callable[[Any, Any], float]

    def __call__(self, model: Any) -> float:
        return evaluate(self.data, self.runner(model), self.metric)


def agreement_eval(data: Batches, runner: Any) -> Scored:
    """``eval_func(model) -> top-1 agreement with FP32`` (labels of ``data`` are FP32's classes)."""
    return Scored(data, runner, top1_agreement)


def cosine_eval(data: Batches, runner: Any) -> Scored:
    """``eval_func(model) -> mean cosine vs FP32`` (labels of ``data`` are FP32's embeddings)."""
    return Scored(data, runner, mean_cosine)


def minilm_onnx_data(count: int = 24) -> tuple[Any, Batches]:
    """The MiniLM export and ``count`` sentences labelled with its FP32 embeddings."""
    from lpot_zoo.agreement import reference_labelled
    from lpot_zoo.exports import minilm_onnx, ort_predictor
    from lpot_zoo.minilm import sentence_loader

    path = minilm_onnx()
    return path, reference_labelled(sentence_loader(count), ort_predictor(path))


def gluon_runner(net: Any) -> Any:
    """``inputs -> logits`` for a Gluon block (what lpot hands an MXNet eval_func)."""
    import mxnet as mx

    return lambda x: net(mx.nd.array(x)).asnumpy()


def tune_gluon_on_photos(title: str, net: Any, max_trials: int) -> Any:
    """lpot-mxnet static basic on 16 photo crops, scored by top-1 agreement with ``net``; prints trials."""
    from _repro import config, run, trial_table
    from lpot_zoo.agreement import top1_labelled
    from lpot_zoo.photos import photo_loader

    photos = top1_labelled(photo_loader(16), gluon_runner(net))
    result = run(
        title,
        net,
        q_dataloader=photos.take(1),
        eval_func=agreement_eval(photos, gluon_runner),
        config=config("mxnet", max_trials=max_trials),
    )
    if result is not None:
        trial_table(result)
    return result
