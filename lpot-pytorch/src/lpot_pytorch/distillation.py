"""Knowledge distillation as a loss module for the user's own loop.

    kd = DistillationLoss(teacher, student, {"temperature": 4, "loss_weights": [0.3, 0.7]})
    loss = kd(student(x), x, y)          # teacher runs inside, without gradients
    loss = kd(student(x), x, y, teacher_logits=t)   # or give its outputs, computed ahead of time

Terms (``loss_types`` with ``loss_weights``): ``CE`` hard-label cross entropy, ``KL`` on
temperature-softened logits (scaled by T^2, Hinton et al. 2015, so its gradients keep their size
as T changes), ``MSE`` between logits. ``layers: {student_layer: teacher_layer}`` adds an MSE between
intermediate outputs, captured with forward hooks (shapes must match).
"""

from __future__ import annotations

import weakref
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from lpot.compression.config import distillation_config
from lpot.errors import ConfigError
from lpot_pytorch.tensors import call, first_output


class DistillationLoss(nn.Module):
    def __init__(self, teacher: nn.Module, student: nn.Module | None = None, config: Any = None) -> None:
        super().__init__()
        self.config = distillation_config(config)
        # the teacher runs under no_grad: its parameters stay as the caller has them (freezing them
        # here froze the user's model for good, breaking whoever trains it later)
        self.teacher = teacher.eval()
        self._student_feats: dict[str, torch.Tensor] = {}
        self._teacher_feats: dict[str, torch.Tensor] = {}
        if self.config.layers:
            if student is None:
                raise ConfigError(
                    "distillation.layers needs the student model: DistillationLoss(teacher, student, ...)"
                )
            handles = self._hook(student, self.config.layers.keys(), self._student_feats, "student")
            try:
                handles += self._hook(teacher, self.config.layers.values(), self._teacher_feats, "teacher")
            except ConfigError:
                _remove_all(handles)
                raise
            # the hooks live as long as this loss: left on the user's models they kept its tensors
            # alive and made the models unpicklable (closures) for good
            weakref.finalize(self, _remove_all, handles)

    @staticmethod
    def _hook(model: nn.Module, names: Any, store: dict[str, torch.Tensor], role: str) -> list[Any]:
        modules = dict(model.named_modules())
        missing = [name for name in names if name not in modules]
        if missing:
            raise ConfigError(f"distillation.layers: the {role} has no layer '{missing[0]}'")
        handles = []
        for name in names:

            def hook(_m: nn.Module, _i: Any, out: Any, name: str = name) -> None:
                store[name] = out

            handles.append(modules[name].register_forward_hook(hook))
        return handles

    def forward(
        self,
        student_logits: torch.Tensor,
        inputs: Any,
        labels: torch.Tensor | None = None,
        teacher_logits: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``teacher_logits``: the teacher's outputs when the caller already has them (computed
        once ahead of training, as LPOT 1.x's ``on_post_forward(inputs, teacher_output)`` allows);
        the teacher then does not run, so intermediate ``layers`` cannot be compared."""
        if teacher_logits is None:
            with torch.no_grad():
                teacher_logits = first_output(call(self.teacher, inputs))
        elif self.config.layers:
            raise ConfigError(
                "distillation.layers compares intermediate outputs of a teacher forward pass: "
                "do not pass precomputed teacher_logits"
            )
        teacher_logits = teacher_logits.detach()
        t = self.config.temperature
        total = student_logits.new_zeros(())
        for kind, weight in zip(self.config.loss_types, self.config.loss_weights, strict=True):
            if weight == 0:
                continue
            if kind == "CE":
                if labels is None:
                    raise ConfigError(
                        "the CE distillation term needs labels: kd(student_logits, inputs, labels)"
                    )
                term = F.cross_entropy(student_logits, labels)
            elif kind == "KL":
                term = F.kl_div(
                    F.log_softmax(student_logits / t, -1),
                    F.softmax(teacher_logits / t, -1),
                    reduction="batchmean",
                ) * (t * t)
            else:
                term = F.mse_loss(student_logits, teacher_logits)
            total = total + weight * term
        for s_name, t_name in self.config.layers.items():
            s, tt = self._student_feats.get(s_name), self._teacher_feats.get(t_name)
            if s is None or tt is None:
                continue
            if s.shape != tt.shape:
                raise ConfigError(
                    f"distillation.layers: student '{s_name}' output {tuple(s.shape)} and teacher '{t_name}' "
                    f"output {tuple(tt.shape)} differ; map layers of equal shape"
                )
            total = total + self.config.layer_weight * F.mse_loss(s, tt.detach())
        return total


def _remove_all(handles: list[Any]) -> None:
    for handle in handles:
        handle.remove()
