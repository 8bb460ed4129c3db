"""lpot-core imports no deep-learning framework, even when all of its modules are loaded."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

BLOCKED = ("torch", "tensorflow", "keras", "onnx", "onnxruntime", "mxnet", "jax")
# the first lines of each child process: importing a framework raises from then on
BLOCKER = f"""
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {BLOCKED!r}:
            raise ImportError("blocked framework: " + name)
sys.meta_path.insert(0, Block())
"""


def test_importing_all_of_lpot_imports_no_framework():
    code = BLOCKER + textwrap.dedent(
        """
        import importlib, pkgutil
        import lpot
        for info in pkgutil.walk_packages(lpot.__path__, "lpot."):
            importlib.import_module(info.name)
        lpot.tune, lpot.Config, lpot.load_config
        print("ok")
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_import_lpot_is_light():
    code = "import sys, lpot; print(sorted(m for m in sys.modules if m.split('.')[0] in ('numpy', 'yaml', 'tqdm')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"  # heavy imports wait until tune() is called


def test_a_1x_script_runs_with_every_framework_blocked(tmp_path):
    """``lpot.experimental`` (components, common, the legacy top level) needs no framework: a 1.x
    script tunes and benchmarks the toy backend's model with torch, tensorflow, onnx... unimportable."""
    code = BLOCKER + textwrap.dedent(
        f"""
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        import lpot
        assert "lpot.experimental" not in sys.modules  # import lpot stays light
        from lpot.experimental import Benchmark, Quantization, common
        import toy_job
        quantizer = Quantization({{"model": {{"name": "toy"}}, "tuning": {{"workspace": {{"path": {str(tmp_path)!r}}}}}}})
        quantizer.model = common.Model(toy_job.make_model())
        calib, evals = toy_job.loaders()
        quantizer.calib_dataloader = calib
        quantizer.eval_func = toy_job.PenalizingEval()
        q_model = quantizer()
        evaluator = Benchmark()
        evaluator.model = q_model
        evaluator.b_dataloader = evals
        evaluator("performance")
        assert lpot.Quantization is not None and lpot.common is common
        print("ok", q_model.result.status)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "ok met"
