"""ISA detection and its caps: what backends shape their search spaces from."""

from __future__ import annotations

import pytest

from lpot import isa
from lpot.errors import ConfigError

XEON_AMX = isa.parse_cpuinfo_flags({"avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile"})


def test_flags_of_an_avx2_only_zen3():
    zen3 = isa.parse_cpuinfo_flags({"sse4_2", "avx", "avx2", "fma"})
    assert zen3 == isa.CpuFeatures(avx2=True)
    assert zen3.int8_may_saturate and not zen3.fast_bf16
    assert isa.parse_cpuinfo_flags({"avx2", "avx_vnni"}).vnni  # Alder Lake's VEX VNNI counts


@pytest.mark.parametrize(
    ("cap", "expected"),
    [
        ("AVX2", isa.CpuFeatures(avx2=True)),
        ("avx512_core_vnni", isa.CpuFeatures(avx2=True, avx512=True, vnni=True)),
        ("AVX512_CORE_BF16", isa.CpuFeatures(avx2=True, avx512=True, vnni=True, avx512_bf16=True)),
        ("ALL", XEON_AMX),
    ],
)
def test_a_cap_removes_what_it_forbids_and_adds_nothing(cap, expected):
    assert isa.cap_features(XEON_AMX, cap) == expected
    assert isa.cap_features(isa.CpuFeatures(avx2=True), cap) == isa.CpuFeatures(avx2=True)


def test_cpu_features_honours_lpot_max_isa_then_onednn(monkeypatch):
    monkeypatch.setattr(isa, "_detected", lambda: XEON_AMX)
    for var in ("LPOT_MAX_ISA", "ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA"):
        monkeypatch.delenv(var, raising=False)

    def features():
        isa.cpu_features.cache_clear()
        return isa.cpu_features()

    assert features() == XEON_AMX
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")  # oneDNN capped: its BF16 would be emulated
    assert not features().fast_bf16
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "SOMETHING_NEWER")  # oneDNN's to judge, not ours
    assert features() == XEON_AMX
    monkeypatch.setenv("LPOT_MAX_ISA", "avx512_core_vnni")
    assert features() == isa.CpuFeatures(avx2=True, avx512=True, vnni=True)
    monkeypatch.setenv("LPOT_MAX_ISA", "avx3")
    with pytest.raises(ConfigError, match=r"LPOT_MAX_ISA='avx3': expected one of SSE41, AVX, AVX2"):
        features()
    isa.cpu_features.cache_clear()
