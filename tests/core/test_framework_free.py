"""lpot-core imports no deep-learning framework, even when all of its modules are loaded."""

from __future__ import annotations

import subprocess
import sys
import textwrap

BLOCKED = ("torch", "tensorflow", "keras", "onnx", "onnxruntime", "mxnet", "jax")


def test_importing_all_of_lpot_imports_no_framework():
    code = textwrap.dedent(
        f"""
        import importlib, pkgutil, sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in {BLOCKED!r}:
                    raise ImportError("blocked framework: " + name)
        sys.meta_path.insert(0, Block())
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
