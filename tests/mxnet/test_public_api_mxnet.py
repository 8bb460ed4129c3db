"""lpot_mxnet's public names; importing it loads no MXNet."""

from conformance.public_api import check_public_surface


def test_public_names_resolve_and_import_loads_no_mxnet():
    check_public_surface("lpot_mxnet", ("mxnet",))
