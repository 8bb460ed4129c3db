"""Knowledge distillation as a Keras callback: ``model.fit(..., callbacks=[DistillationCallback(teacher)])``.

Keras computes the training loss in ``Model.compute_loss(x, y, y_pred, ...)``; for the duration of
``fit`` the callback gives the student an instance-level ``compute_loss`` that adds the teacher
terms to the compiled loss, and rebuilds the train function so the traced step uses it. At the
end of training the student's own ``compute_loss`` is back. The compiled loss is the ``CE`` term
(hard labels); ``KL`` compares temperature-softened distributions (scaled by T^2); ``MSE`` compares
logits. The student and the teacher must output logits (``from_logits=True`` losses).
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from lpot.compression.config import distillation_config
from lpot.errors import ConfigError


class DistillationCallback(keras.callbacks.Callback):
    def __init__(self, teacher: keras.Model, config: Any = None) -> None:
        super().__init__()
        self.teacher = teacher
        self.config = distillation_config(config)
        if self.config.layers:
            raise ConfigError(
                "distillation.layers (intermediate features) is supported by lpot-pytorch only so far"
            )

    def _loss(self, student_compute_loss: Any) -> Any:
        cfg = self.config
        weights = dict(zip(cfg.loss_types, cfg.loss_weights, strict=True))
        t = cfg.temperature

        def compute_loss(
            x: Any = None, y: Any = None, y_pred: Any = None, sample_weight: Any = None, training: bool = True
        ) -> Any:
            total = weights.get("CE", 0.0) * student_compute_loss(
                x, y, y_pred, sample_weight, training=training
            )
            teacher_logits = ops.stop_gradient(self.teacher(x, training=False))
            if weights.get("KL"):
                p_teacher = ops.softmax(teacher_logits / t, axis=-1)
                log_p_student = ops.log_softmax(y_pred / t, axis=-1)
                log_p_teacher = ops.log_softmax(teacher_logits / t, axis=-1)
                kl = ops.mean(ops.sum(p_teacher * (log_p_teacher - log_p_student), axis=-1))
                total = total + weights["KL"] * kl * (t * t)
            if weights.get("MSE"):
                total = total + weights["MSE"] * ops.mean(ops.square(y_pred - teacher_logits))
            return total

        return compute_loss

    def on_train_begin(self, logs: Any = None) -> None:
        if "CE" in self.config.loss_types and self.model.loss is None:
            raise ConfigError(
                "distillation: the CE term is the compiled loss; compile the student with a loss"
            )
        self.model.compute_loss = self._loss(type(self.model).compute_loss.__get__(self.model))
        self.model.make_train_function(force=True)

    def on_train_end(self, logs: Any = None) -> None:
        self.model.__dict__.pop("compute_loss", None)
        self.model.make_train_function(force=True)
