"""Which SIMD features this CPU has, read at run time.

Machines of the same kind differ (AVX2-only Zen3, AVX512-VNNI/BF16 Zen4), and the fastest INT8
and BF16 kernels depend on it, so backends shape their search spaces from this, never from an
assumption.
"""

from __future__ import annotations

import functools
import platform
from dataclasses import dataclass
from pathlib import Path


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


@functools.cache
def cpu_features() -> CpuFeatures:
    """Features of the CPU we run on (x86 Linux via /proc/cpuinfo; empty elsewhere)."""
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
