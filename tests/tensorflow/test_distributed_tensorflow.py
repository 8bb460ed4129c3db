"""PruningCallback and QuantizationAwareCallback under MirroredStrategy with two CPU replicas."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def test_callbacks_under_mirrored_strategy():
    job = Path(__file__).with_name("tf_dist_job.py")
    out = subprocess.run([sys.executable, str(job)], capture_output=True, text=True, timeout=300, check=True)
    found = json.loads(out.stdout.strip().splitlines()[-1])
    assert found["replicas"] == 2
    for name, kernel in found["kernels"].items():
        assert kernel["equal"], f"{name}: replicas disagree"
        assert all(abs(s - 0.7) <= 0.01 for s in kernel["sparsity"]), (name, kernel)
    assert found["int8_layers"] == ["conv1", "fc"]
    assert found["accuracy"] > 0.9
