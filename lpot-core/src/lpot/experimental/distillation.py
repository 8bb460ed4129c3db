"""``Distillation``: LPOT 1.x's knowledge distillation over ``lpot_pytorch.distillation.DistillationLoss``.

    distiller = Distillation("distill.yaml")       # distillation.train.criterion.KnowledgeDistillationLoss
    distiller.model = common.Model(student)        # or distiller.student_model
    distiller.teacher_model = common.Model(teacher)

    def train(model):
        distiller.pre_epoch_begin()
        for epoch in range(epochs):
            for x, y in loader:
                output = model(x)
                distiller.on_post_forward(x)       # or (x, teacher_logits) computed ahead of time
                loss = distiller.criterion(output, y)
                optimizer.zero_grad(); loss.backward(); optimizer.step()
            distiller.on_epoch_end()

    distiller.train_func = train
    distilled = distiller()                        # .model: the best student seen

``criterion`` defaults to the config's loss (temperature, CE/KL/MSE weights); a script may set its
own. With an evaluation (``eval_func`` or data + metric), ``pre_epoch_begin`` scores teacher and
student, each ``on_epoch_end`` the student, and the best-scoring student is returned.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

from lpot.errors import ConfigError
from lpot.experimental.common import Model
from lpot.experimental.component import Component, _inference
from lpot.experimental.pruning import require_pytorch, require_training_loop

log = logging.getLogger("lpot")


class KnowledgeDistillationLoss:
    """LPOT 1.x's ``criterion(student_outputs, targets)`` over lpot's
    ``DistillationLoss(student_outputs, inputs, labels)``: ``on_post_forward`` hands it the inputs
    (and, if given, the teacher's outputs) of the batch."""

    def __init__(self, loss: Any) -> None:
        self.loss = loss
        self.inputs: Any = None
        self.teacher_outputs: Any = None

    def __call__(self, student_outputs: Any, targets: Any = None) -> Any:
        if self.inputs is None and self.teacher_outputs is None:
            raise ConfigError(
                "distiller.criterion(outputs, labels) needs the batch first: call "
                "distiller.on_post_forward(inputs) after the student's forward pass"
            )
        return self.loss(student_outputs, self.inputs, targets, teacher_logits=self.teacher_outputs)


class Distillation(Component):
    def __init__(self, conf_fname: Any = None) -> None:
        super().__init__(conf_fname)
        self._teacher: Model | None = None
        self.criterion: Any = None
        self.optimizer: Any = None  # kept for 1.x scripts; their training loop uses its own
        self._evaluate: Any = None
        self._best: tuple[float, Any] | None = None
        self._epochs_run = 0

    @property
    def teacher_model(self) -> Model | None:
        return self._teacher

    @teacher_model.setter
    def teacher_model(self, user_model: Any) -> None:
        self._teacher = self._as_model(user_model, "teacher_model")

    @property
    def student_model(self) -> Model | None:
        return self._model

    @student_model.setter
    def student_model(self, user_model: Any) -> None:
        self.model = user_model

    def fit(self) -> Model:
        from lpot.experimental._imports import framework_module

        student = self._require_model()
        require_pytorch(student, "Distillation", "lpot_tensorflow.DistillationCallback(teacher) in model.fit")
        if self._teacher is None:
            raise ConfigError(
                "distiller.teacher_model is not set: distiller.teacher_model = common.Model(teacher)"
            )
        if self._train_func is None:
            require_training_loop("Distillation", "distillation.train", "distiller.train_func")
        if self.criterion is None:
            kd = framework_module("lpot_pytorch.distillation", "lpot-pytorch")
            self.criterion = KnowledgeDistillationLoss(
                kd.DistillationLoss(self._teacher.model, student.model, self.cfg)
            )
        self._evaluate, self._best, self._epochs_run = self._evaluator(), None, 0
        self._train_func(student.model)  # type: ignore[misc]
        best = self._best[1] if self._best is not None else student.model
        self._log_score(self._evaluate, "Distilled model", _inference(best))
        return Model.produced(best, student.backend)

    # LPOT 1.x's callbacks ------------------------------------------------------------------------
    def pre_epoch_begin(self) -> None:
        """Score the teacher and the untrained student (when there is an evaluation)."""
        self._log_score(self._evaluate, "Teacher model", _inference(self._teacher.model))  # type: ignore[union-attr]
        self._keep_if_best(self._require_model().model, "Initial student model")

    def on_post_forward(self, input: Any, teacher_output: Any = None) -> None:  # noqa: A002 (1.x's name)
        """The batch the student just ran on; ``teacher_output`` when the script computed it."""
        criterion = self.criterion
        if isinstance(criterion, KnowledgeDistillationLoss):
            criterion.inputs, criterion.teacher_outputs = input, teacher_output
        elif teacher_output is not None and hasattr(criterion, "teacher_outputs"):
            criterion.teacher_outputs = teacher_output
        elif callable(getattr(criterion, "teacher_model_forward", None)):  # a 1.x criterion object
            criterion.teacher_model_forward(input, teacher_model=self._teacher.model)  # type: ignore[union-attr]
        else:
            raise ConfigError(
                "distiller.on_post_forward: the criterion set takes no teacher outputs; leave "
                "distiller.criterion unset (the config's KnowledgeDistillationLoss is used)"
            )

    def on_epoch_end(self) -> None:
        self._epochs_run += 1
        self._keep_if_best(self._require_model().model, f"Student model of epoch {self._epochs_run}")

    def _keep_if_best(self, native: Any, what: str) -> None:
        if self._evaluate is None:
            return
        was_training = getattr(native, "training", None)
        value = self._log_score(self._evaluate, what, _inference(native))
        if was_training is True:
            native.train()  # the script's loop goes on training
        if value is None:
            return
        lower_is_better = self.cfg.tuning.accuracy_criterion.higher_is_better is False
        if self._best is None or (value < self._best[0] if lower_is_better else value > self._best[0]):
            self._best = (value, copy.deepcopy(native))

    def __repr__(self) -> str:
        return "Distillation"
