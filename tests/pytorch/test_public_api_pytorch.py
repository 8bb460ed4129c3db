"""lpot_pytorch's public names, as its README uses them (``PyTorchBackend``, ``fx``)."""

from conformance.public_api import check_public_surface, readme_names


def test_the_readme_names_resolve_and_import_loads_no_torch():
    assert {"PyTorchBackend", "fx"} <= readme_names("lpot_pytorch")
    check_public_surface("lpot_pytorch", ("torch",))


def test_pytorch_backend_is_the_engine():
    from lpot_pytorch import PyTorchBackend, PyTorchEngine

    assert PyTorchBackend is PyTorchEngine
