"""Whether MXNet's oneDNN runs BF16 faster than FP32 here, and opting in to AMX so that it does.

MXNet 1.9.1 bundles oneDNN 2.4.4. Out of the box that oneDNN stops at AVX512-BF16 kernels, which
on the machines measured are *slower* than its FP32 kernels (ResNet-18: 50.6 ms BF16 vs 28.5 ms
FP32 at batch 1). Its AMX kernels are 2.5-4.7x faster than FP32, but oneDNN 2.4 only uses them when
``DNNL_MAX_CPU_ISA`` allows AMX *and* the process holds Linux's AMX tile-data permission
(``arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA)``, Linux >= 5.16), which that oneDNN never
requests: the variable alone kills the process with SIGILL at the first AMX instruction.

:func:`enable_amx` does both, before oneDNN's first primitive (oneDNN reads the ISA limit once).
BF16 is offered in the tuning space only where :func:`bf16_is_fast` measures it faster than FP32,
so the space follows what this MXNet build does on this CPU, not what the CPU could do.
"""

from __future__ import annotations

import ctypes
import functools
import os
import platform
import time

SYS_ARCH_PRCTL = 158  # x86_64
ARCH_GET_XCOMP_PERM = 0x1022
ARCH_REQ_XCOMP_PERM = 0x1023
XFEATURE_XTILEDATA = 18
ISA_VARIABLES = ("DNNL_MAX_CPU_ISA", "ONEDNN_MAX_CPU_ISA")
AMX_ISAS = ("AVX512_CORE_AMX", "ALL")
SPEEDUP_REQUIRED = 1.2  # BF16 must beat FP32 by this much on the probe conv to be offered

_enabled = False


def _arch_prctl(code: int, arg: object) -> int:
    if platform.system() != "Linux" or platform.machine().lower() not in ("x86_64", "amd64"):
        return -1
    libc = ctypes.CDLL(None, use_errno=True)
    return int(libc.syscall(SYS_ARCH_PRCTL, code, arg))


def amx_permitted() -> bool:
    """True when this process may execute AMX tile instructions (the kernel granted XTILEDATA)."""
    bits = ctypes.c_ulong(0)
    if _arch_prctl(ARCH_GET_XCOMP_PERM, ctypes.byref(bits)) != 0:
        return False
    return bool(bits.value & (1 << XFEATURE_XTILEDATA))


def request_amx_permission() -> bool:
    """Ask Linux for AMX tile data in this process (lost on ``exec``: every process asks itself)."""
    return amx_permitted() or (_arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) == 0 and amx_permitted())


def isa_allows_amx() -> bool:
    return any(os.environ.get(v, "").upper() in AMX_ISAS for v in ISA_VARIABLES)


INHERIT = "LPOT_MXNET_AMX"


def amx_enabled() -> bool:
    """AMX is on for MXNet in this process: :func:`enable_amx` ran, or the user set the ISA variable
    before starting Python and the permission is held (lpot_mxnet asks for it at import then)."""
    return _enabled or (isa_allows_amx() and amx_permitted())


def enable_amx() -> bool:
    """Let MXNet's oneDNN use AMX (BF16 and INT8) in this process; True if it is on afterwards.

    Call it before running any MXNet model: oneDNN fixes its ISA at its first primitive, so a later
    call cannot change what it already picked (it still returns True; :func:`bf16_is_fast` tells).
    The ISA variable is set only while oneDNN initializes and then restored, so child processes
    that do not ask for the permission themselves (and would die on AMX) never inherit it.
    """
    global _enabled
    from lpot.isa import cpu_features

    if _enabled:
        return True
    if not cpu_features().amx or not request_amx_permission():
        return False
    saved = {v: os.environ.get(v) for v in ISA_VARIABLES}
    os.environ["DNNL_MAX_CPU_ISA"] = "AVX512_CORE_AMX"
    try:
        import mxnet as mx

        # the first oneDNN primitive makes oneDNN read (and cache) its ISA limit
        mx.nd.FullyConnected(
            mx.nd.ones((1, 16)), mx.nd.ones((16, 16)), num_hidden=16, no_bias=True
        ).wait_to_read()
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    _enabled = True
    os.environ[INHERIT] = "1"  # spawned benchmark instances ask for the permission themselves
    return True


def _median_ms(fn: object, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn().wait_to_read()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    times.sort()
    return times[len(times) // 2] * 1000.0


@functools.cache
def bf16_speedup() -> float:
    """FP32 / BF16 time of a ResNet-style 3x3 conv (batch 4, 64 channels, 28x28) in MXNet's oneDNN.

    Measured once per process (about 0.1 s): it is the only way to know what this MXNet build does
    with this CPU (AVX512-BF16 kernels: slower than FP32; AMX: several times faster).
    """
    import mxnet as mx
    from mxnet.contrib import amp

    # an explicit prefix: no draw from Gluon's name counters, so user nets keep their layer names
    fp32 = mx.gluon.nn.Conv2D(64, 3, padding=1, in_channels=64, use_bias=False, prefix="lpot_bf16_probe_")
    fp32.initialize(mx.init.Constant(0.01), ctx=mx.cpu())  # no draw from the global RNG
    fp32.hybridize(static_alloc=True, static_shape=True)
    x = mx.nd.ones((4, 64, 28, 28))
    fp32(x).wait_to_read()
    bf16 = amp.convert_hybrid_block(fp32, target_dtype="bfloat16", ctx=mx.cpu(), cast_optional_params=True)
    bf16.hybridize(static_alloc=True, static_shape=True)
    for net in (fp32, bf16, fp32, bf16):  # build the primitives, warm caches
        net(x).wait_to_read()
    return _median_ms(lambda: fp32(x), 15) / max(_median_ms(lambda: bf16(x), 15), 1e-6)


def bf16_is_fast() -> bool:
    """True where a BF16 conv runs clearly faster than FP32 through MXNet here (see module doc)."""
    try:
        return bf16_speedup() >= SPEEDUP_REQUIRED
    except Exception:  # an MXNet build without bfloat16 operators
        return False
