"""Entry-point discovery: built-ins and a third-party plugin package are found the same way."""

from __future__ import annotations

import pytest

import toy_job
from lpot import plugins
from lpot.errors import BackendNotFoundError, PluginError


def test_builtins_and_third_party_plugins_are_listed():
    assert {"basic", "default_only"} <= set(plugins.available("lpot.strategies"))
    assert {"topk", "accuracy", "f1", "mae", "toy_mae"} <= set(plugins.available("lpot.metrics"))
    assert {"performance", "model_size", "footprint"} <= set(plugins.available("lpot.objectives"))
    toy = plugins.available("lpot.backends")["toy"]
    assert toy.distribution == "lpot-toy"


def test_backend_is_selected_by_accepts():
    backend = plugins.backend_for(toy_job.make_model())
    assert backend.name == "toy"


def test_no_backend_accepts_names_type_installed_and_install_hint():
    class Net:
        pass

    with pytest.raises(BackendNotFoundError) as info:
        plugins.backend_for(Net())
    message = str(info.value)
    assert "Net" in message
    assert "toy" in message and "broken (unavailable)" in message
    assert "packages named lpot-<framework>" in message


def test_broken_plugin_is_listed_as_unavailable_and_raises_when_asked():
    status = plugins.describe("lpot.backends")
    assert status["toy"] == "ok"
    assert status["broken"].startswith("unusable:") and "lpot-toy" in status["broken"]
    with pytest.raises(PluginError, match="failed to import"):
        plugins.backend_by_name("broken")


def test_missing_backend_says_which_package_to_install():
    with pytest.raises(BackendNotFoundError, match=r"pip install lpot-mxnet\)"):
        plugins.backend_by_name("mxnet")


def test_unknown_strategy_suggests_a_close_name():
    with pytest.raises(PluginError, match="did you mean 'basic'"):
        plugins.load("lpot.strategies", "basik")


def test_wrong_plugin_parameters_are_explained():
    with pytest.raises(PluginError, match="topk.*does not accept"):
        plugins.create("lpot.metrics", "topk", kk=1)


def test_a_backend_missing_protocol_methods_is_refused_by_name():
    with pytest.raises(
        PluginError,
        match=r"backend 'half' from lpot-toy .* Engine contract: missing name, aliases, features, accepts",
    ):
        plugins.backend_by_name("half")


def test_a_plugin_whose_optional_package_is_missing_is_listed_as_unusable(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "optuna" else real(name, *a)
    )
    status = plugins.describe("lpot.strategies")
    assert status["tpe"] == "unusable: needs pip install 'lpot-core[tpe]'"
    assert status["basic"] == "ok"
