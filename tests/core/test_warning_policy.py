"""The suite's warning policy (``pytest.ini``): lpot's own deprecated calls fail, others' do not."""

from __future__ import annotations

import warnings

import pytest


def _warn_from(module: str) -> None:
    """A DeprecationWarning attributed to ``module``, as ``warnings.warn(stacklevel=...)`` does."""
    warnings.warn_explicit("old API", DeprecationWarning, f"{module}.py", 1, module=module)


@pytest.mark.parametrize("module", ["lpot", "lpot.api", "lpot_pytorch.serialization", "lpot_onnxrt"])
def test_a_deprecation_from_lpot_code_fails_the_test(module):
    with pytest.raises(DeprecationWarning, match="old API"):
        _warn_from(module)


@pytest.mark.parametrize("module", ["torch.jit", "mxnet.numpy", "lpotlike", "mylpot.core"])
def test_a_third_party_deprecation_stays_a_warning(module):
    with pytest.warns(DeprecationWarning, match="old API"):
        _warn_from(module)
