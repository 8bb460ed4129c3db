"""lpot_onnxrt's public names; importing it loads neither onnx nor onnxruntime."""

from conformance.public_api import check_public_surface


def test_public_names_resolve_and_import_loads_no_runtime():
    check_public_surface("lpot_onnxrt", ("onnx", "onnxruntime"))
