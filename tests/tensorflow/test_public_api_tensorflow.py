"""lpot_tensorflow's public names, as its README uses them; importing it loads no TensorFlow."""

from conformance.public_api import check_public_surface, readme_names


def test_the_readme_names_resolve_and_import_loads_no_tensorflow():
    assert {"QuantizationAwareCallback", "convert", "TensorFlowBackend"} <= readme_names("lpot_tensorflow")
    check_public_surface("lpot_tensorflow", ("tensorflow", "keras"))
