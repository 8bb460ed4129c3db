"""ONNX faults: ops ONNX Runtime cannot run, external data (tuned and saved, locations outside the
model's folder refused, never resolved against the current directory), string data, and every
saved model passing ``onnx.checker``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from faults import lpot as run_lpot
from faults import one_line_error, onnx_data, onnx_mlp
from onnx import helper

import lpot
from lpot.errors import DataError, ModelError


def _agreement(reference):
    from lpot import plugins

    backend = plugins.backend_by_name("onnxrt")
    x, _ = onnx_data(64, seed=5)
    want = backend.predict(backend.load(reference), x).argmax(1)
    return lambda model: float((backend.predict(model, x).argmax(1) == want).mean())


def _config(tmp_path: Path, **model) -> dict:
    return {
        "model": {"name": "mlp", **model},
        "tuning": {"accuracy_criterion": {"relative": 0.2}, "workspace": {"path": str(tmp_path / "ws")}},
    }


def _cli_files(tmp_path: Path, model: onnx.ModelProto | None) -> tuple[Path, Path, Path]:
    path = tmp_path / "model.onnx"
    if model is not None:
        onnx.save_model(model, str(path))
    x, y = onnx_data()
    np.savez(tmp_path / "data.npz", x=x, y=y)
    conf = tmp_path / "conf.yaml"
    conf.write_text(
        f"evaluation: {{accuracy: {{metric: {{topk: 1}}}}}}\ntuning: {{workspace: {{path: {tmp_path / 'ws'}}}}}\n"
    )
    return path, tmp_path / "data.npz", conf


# ops ONNX Runtime cannot run ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("op", "domain", "fragment"),
    [("NoSuchOp", "", "'NoSuchOp'"), ("Foo", "com.acme", "'com.acme'")],
    ids=["unknown-op", "unknown-domain"],
)
def test_a_model_with_an_unregistered_op(tmp_path, op, domain, fragment):
    model = onnx_mlp(extra_nodes=[helper.make_node(op, ["y0"], ["y"], name="mystery", domain=domain)])
    x, _ = onnx_data()
    with pytest.raises(ModelError, match=rf"{fragment}.*'mystery'"):
        lpot.tune(
            model,
            lpot.ArrayLoader(x, None, 32),
            eval_func=lambda m: 1.0,
            config=_config(tmp_path),
            progress=False,
        )
    path, data, conf = _cli_files(tmp_path, model)
    one_line_error(
        run_lpot("tune", str(conf), "--model", str(path), "--data", str(data), "--quiet"),
        fragment,
        "'mystery'",
    )


# external data ---------------------------------------------------------------------------------
def _external(folder: Path, model: onnx.ModelProto | None = None, location: str = "weights.data") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "model.onnx"
    onnx.save_model(
        model or onnx_mlp(),
        str(path),
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location=location,
        size_threshold=0,
    )
    return path


def _relocate(path: Path, location: str) -> None:
    """Point every external tensor of the model file at ``location`` (as a crafted file would)."""
    model = onnx.load_model(str(path), load_external_data=False)
    for tensor in model.graph.initializer:
        for entry in tensor.external_data:
            if entry.key == "location":
                entry.value = location
    path.write_bytes(model.SerializeToString())


def test_a_model_with_external_data_is_tuned_and_saved(tmp_path):
    path = _external(tmp_path / "in")
    side_car = (tmp_path / "in" / "weights.data").read_bytes()
    x, _ = onnx_data()
    result = lpot.tune(
        str(path),
        lpot.ArrayLoader(x, None, 32),
        eval_func=_agreement(onnx_mlp()),
        config=_config(tmp_path),
        progress=False,
    )
    assert result.met and any(n.op_type == "QuantizeLinear" for n in result.model.graph.node)
    saved = result.save(tmp_path / "out")
    onnx.checker.check_model(str(saved), full_check=True)
    assert (tmp_path / "in" / "weights.data").read_bytes() == side_car  # the user's side-car untouched


def test_a_large_output_is_saved_with_external_data(tmp_path):
    from lpot_onnxrt.model_io import read_model, save_model

    model = onnx_mlp()
    saved = save_model(model, tmp_path / "out", external_above=0)  # what a model over 2 GB gets
    assert (tmp_path / "out" / "model.onnx.data").stat().st_size > 0
    onnx.checker.check_model(str(saved), full_check=True)
    again = read_model(saved)
    assert [onnx.numpy_helper.to_array(t).tolist() for t in again.graph.initializer] == [
        onnx.numpy_helper.to_array(t).tolist() for t in model.graph.initializer
    ]


@pytest.mark.parametrize(
    ("location", "fragment"),
    [
        ("/etc/passwd", "outside the model's folder"),
        ("../secret.data", "outside the model's folder"),
        ("gone.data", "does not exist"),
    ],
    ids=["absolute", "dot-dot", "missing"],
)
def test_external_data_outside_the_models_folder_is_refused(tmp_path, location, fragment):
    (tmp_path / "secret.data").write_bytes(b"\0" * 4096)
    path = _external(tmp_path / "in")
    _relocate(path, location)
    with pytest.raises(ModelError, match=rf"{location!r}.*{fragment}"):
        lpot.tune(str(path), eval_func=lambda m: 1.0, config=_config(tmp_path), progress=False)
    _, data, conf = _cli_files(tmp_path, None)
    one_line_error(
        run_lpot("tune", str(conf), "--model", str(path), "--data", str(data), "--quiet"),
        repr(location),
        fragment,
    )


def test_a_symlinked_side_car_leading_outside_is_refused(tmp_path):
    path = _external(tmp_path / "in")
    (tmp_path / "in" / "weights.data").unlink()
    (tmp_path / "in" / "weights.data").symlink_to("/etc/hostname")
    with pytest.raises(ModelError, match="outside the model's folder"):
        lpot.tune(str(path), eval_func=lambda m: 1.0, config=_config(tmp_path), progress=False)


@pytest.mark.parametrize("given", ["bytes", "ModelProto"])
def test_external_data_of_a_model_in_memory_never_resolves_against_the_cwd(tmp_path, monkeypatch, given):
    path = _external(tmp_path / "in", location="secret.txt")
    (tmp_path / "in" / "secret.txt").unlink()
    (tmp_path / "cwd").mkdir()
    (tmp_path / "cwd" / "secret.txt").write_bytes(b"root:x:0:0:root:/root:/bin/bash\n".ljust(4096, b"\0"))
    monkeypatch.chdir(tmp_path / "cwd")
    model = path.read_bytes() if given == "bytes" else onnx.load_model(str(path), load_external_data=False)
    with pytest.raises(ModelError, match="external data.*'secret.txt'.*pass the path of the .onnx file"):
        lpot.tune(
            model, eval_func=lambda m: 1.0, config=_config(tmp_path, framework="onnxrt"), progress=False
        )


# data and saved models -------------------------------------------------------------------------
def test_data_of_dtype_str_with_onnx(tmp_path):
    words = np.array([["a"] * 16] * 64)
    with pytest.raises(DataError, match=r"input 'x' .*tensor\(float\).*dtype <U1"):
        lpot.tune(
            onnx_mlp(),
            lpot.ArrayLoader(words, None, 32),
            eval_func=lambda m: 1.0,
            config=_config(tmp_path),
            progress=False,
        )


@pytest.mark.parametrize("framework", ["onnxrt_qdqops", "onnxrt_qlinearops", "onnxrt_integerops"])
def test_every_saved_model_passes_the_onnx_checker(tmp_path, framework):
    x, _ = onnx_data()
    model = onnx_mlp()
    result = lpot.tune(
        model,
        lpot.ArrayLoader(x, None, 32),
        eval_func=_agreement(model),
        config=_config(tmp_path, framework=framework),
        progress=False,
    )
    assert result.met and len(result.recipe.quantized_ops()) > 0
    onnx.checker.check_model(result.model, full_check=True)
    saved = result.save(tmp_path / "out")
    onnx.checker.check_model(str(saved), full_check=True)
    onnx.checker.check_model(str(tmp_path / "ws" / "best_model" / "model.onnx"), full_check=True)
