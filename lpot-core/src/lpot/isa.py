"""Which SIMD features this CPU has, read at run time.

Machines of the same kind differ (AVX2-only Zen3, AVX512-VNNI/BF16 Zen4), and the fastest INT8
and BF16 kernels depend on it, so backends shape their search spaces from this, never from an
assumption.

A cap narrows what is detected, the way oneDNN's ``ONEDNN_MAX_CPU_ISA`` does: lpot reads
``LPOT_MAX_ISA`` and, when that is unset, ``ONEDNN_MAX_CPU_ISA`` itself, because a user who caps
oneDNN at AVX2 gets emulated BF16 and must not see BF16 offered as fast. The same cap lets one
machine rehearse another (``ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2`` plays an AVX2-only
Zen3 on an AMX Xeon).
"""

from __future__ import annotations

import functools
import os
import platform
from dataclasses import dataclass, fields, replace
from pathlib import Path

from lpot.errors import ConfigError


@dataclass(frozen=True)
class CpuFeatures:
    """The instruction-set features that decide which low-precision kernels are fast."""

    avx2: bool = False
    avx512: bool = False
    vnni: bool = False  # AVX512-VNNI or AVX-VNNI: fused u8*s8 dot products, no saturation
    avx512_bf16: bool = False
    amx: bool = False

    @property
    def fast_bf16(self) -> bool:
        """BF16 kernels that beat FP32 (oneDNN needs AVX512-BF16 or AMX; otherwise emulated)."""
        return self.avx512_bf16 or self.amx

    @property
    def int8_may_saturate(self) -> bool:
        """u8s8 kernels without VNNI use vpmaddubsw, whose int16 sums can saturate."""
        return not self.vnni

    def describe(self) -> str:
        names = [n for n in ("avx2", "avx512", "vnni", "avx512_bf16", "amx") if getattr(self, n)]
        return ", ".join(names) or "no AVX2"


def parse_cpuinfo_flags(flags: set[str]) -> CpuFeatures:
    return CpuFeatures(
        avx2="avx2" in flags,
        avx512="avx512f" in flags,
        vnni="avx512_vnni" in flags or "avx_vnni" in flags,
        avx512_bf16="avx512_bf16" in flags,
        amx="amx_tile" in flags,
    )


# oneDNN's ISA names (case-insensitive) -> the features a cap at that level still allows.
_CAPS: dict[str, frozenset[str]] = {
    "sse41": frozenset(),
    "avx": frozenset(),
    "avx2": frozenset({"avx2"}),
    "avx2_vnni": frozenset({"avx2", "vnni"}),
    "avx2_vnni_2": frozenset({"avx2", "vnni"}),
    "avx512_core": frozenset({"avx2", "avx512"}),
    "avx512_core_vnni": frozenset({"avx2", "avx512", "vnni"}),
    "avx512_core_bf16": frozenset({"avx2", "avx512", "vnni", "avx512_bf16"}),
    "avx512_core_fp16": frozenset({"avx2", "avx512", "vnni", "avx512_bf16"}),
    "avx512_core_amx": frozenset({"avx2", "avx512", "vnni", "avx512_bf16", "amx"}),
    "avx512_core_amx_fp16": frozenset({"avx2", "avx512", "vnni", "avx512_bf16", "amx"}),
    "all": frozenset({"avx2", "avx512", "vnni", "avx512_bf16", "amx"}),
}


def cap_features(features: CpuFeatures, isa: str, source: str = "LPOT_MAX_ISA") -> CpuFeatures:
    """``features`` without what a cap at ``isa`` (a oneDNN ISA name) forbids."""
    allowed = _CAPS.get(isa.strip().lower())
    if allowed is None:
        raise ConfigError(f"{source}={isa!r}: expected one of {', '.join(n.upper() for n in _CAPS)}")
    return replace(features, **{f.name: False for f in fields(features) if f.name not in allowed})


def _detected() -> CpuFeatures:
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return CpuFeatures()
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return CpuFeatures()
    for line in text.splitlines():
        if line.startswith("flags"):
            return parse_cpuinfo_flags(set(line.split(":", 1)[1].split()))
    return CpuFeatures()


@functools.cache
def cpu_features() -> CpuFeatures:
    """Features of the CPU we run on (x86 Linux via /proc/cpuinfo; empty elsewhere), capped by
    ``LPOT_MAX_ISA`` or else ``ONEDNN_MAX_CPU_ISA`` (an unknown oneDNN value is oneDNN's business
    and ignored; an unknown ``LPOT_MAX_ISA`` is an error)."""
    features = _detected()
    if os.environ.get("LPOT_MAX_ISA"):
        return cap_features(features, os.environ["LPOT_MAX_ISA"])
    onednn = os.environ.get("ONEDNN_MAX_CPU_ISA") or os.environ.get("DNNL_MAX_CPU_ISA")
    if onednn and onednn.strip().lower() in _CAPS:
        return cap_features(features, onednn, "ONEDNN_MAX_CPU_ISA")
    return features
