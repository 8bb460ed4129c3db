"""MXNet INT8 and BF16: FP32 vs lpot vs hand-made ``quantize_net`` / AMP, on a ResNet-18 Gluon net.

Runs standalone in an MXNet environment (``nox -s bench_mxnet``; mxnet 1.9.1 needs numpy < 1.24).
The net is Gluon's model-zoo ``resnet18_v1`` with random weights (no download): latency depends on
the topology, not the weights. Both INT8 nets are built from the same 32 calibration images with
naive (min/max) calibration and ``auto`` dtype, so the comparison is like with like. Timings are
medians, the nets interleaved per round so that machine noise hits them alike.

BF16 rows: lpot's recipe with every conv/FC in bf16 (AMP on the unfused graph, then oneDNN fusion),
MXNet's own ``amp.convert_hybrid_block`` of the whole net, and lpot's mixed recipe (INT8 with the
first conv in BF16, what a fallback of that conv gives where BF16 is in the space). MXNet 1.9.1's
oneDNN uses AMX only when asked before its first primitive: run once plain and once with ``--amx``
(``lpot_mxnet.enable_amx()``) to see both.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import numpy as np


def _graph_key(block) -> list:
    """A graph's nodes without the variable version counters JSON edges carry (no effect on compute)."""
    import json

    def strip(node: dict) -> dict:
        node = dict(node, inputs=[e[:2] for e in node.get("inputs", [])])
        if "subgraphs" in node:
            node["subgraphs"] = [dict(g, nodes=[strip(n) for n in g["nodes"]]) for g in node["subgraphs"]]
        return node

    return [strip(n) for n in json.loads(block._cached_graph[1].tojson())["nodes"]]


def _median_ms(block, x, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        block(x).wait_to_read()
        times.append((time.perf_counter() - start) * 1000.0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=224, help="input height and width")
    parser.add_argument("--iterations", type=int, default=20, help="timed calls per net and batch size")
    parser.add_argument(
        "--amx", action="store_true", help="let MXNet's oneDNN use AMX (lpot_mxnet.enable_amx)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="10 timed calls (as bench_mxnet -- --quick passes)"
    )
    args = parser.parse_args()
    if args.quick:
        args.iterations = min(args.iterations, 10)

    warnings.filterwarnings("ignore")
    if args.amx:
        from lpot_mxnet import enable_amx

        if not enable_amx():
            raise SystemExit("this CPU/kernel cannot run AMX")
    import mxnet as mx
    from mxnet.contrib import amp
    from mxnet.contrib.quantization import quantize_net
    from mxnet.gluon.model_zoo import vision

    import lpot
    from lpot import plugins
    from lpot.engine import CalibrationSpec
    from lpot.isa import cpu_features
    from lpot.recipe import OpConfig, TensorConfig
    from lpot.space import build_space
    from lpot_mxnet.amx import amx_enabled, bf16_speedup
    from lpot_mxnet.bf16 import bf16_layers

    rng = np.random.default_rng(0)
    mx.random.seed(0)
    calib_x = rng.random((32, 3, args.size, args.size), dtype=np.float32)
    net = vision.get_model("resnet18_v1", pretrained=False, classes=1000)
    net.initialize(mx.init.Xavier(), ctx=mx.cpu())
    net.hybridize(static_alloc=True, static_shape=True)
    net(mx.nd.array(calib_x[:1]))

    backend = plugins.backend_by_name("mxnet")
    start = time.perf_counter()
    stats = backend.calibrate(
        net,
        lpot.ArrayLoader(calib_x, None, batch_size=16),
        CalibrationSpec(algorithm="minmax", sampling_size=32),
    )
    calib_s = time.perf_counter() - start
    space = build_space(backend.capability(net), approach="post_training_static_quant")
    recipe = space.default_recipe()
    start = time.perf_counter()
    ours = backend.quantize(net, recipe, {"minmax": stats}, space.tensors)
    quantize_s = time.perf_counter() - start

    start = time.perf_counter()
    calib_data = mx.gluon.data.DataLoader(
        mx.gluon.data.SimpleDataset([(mx.nd.array(x),) for x in calib_x]), batch_size=16
    )
    hand = quantize_net(
        net,
        quantized_dtype="auto",
        calib_mode="naive",
        calib_data=calib_data,
        num_calib_examples=32,
        ctx=mx.cpu(),
    )
    hand_s = time.perf_counter() - start
    bf16 = OpConfig(activation=TensorConfig(dtype="bf16"))
    weighted = [op for op in recipe.ops if op.op_type in ("Convolution", "FullyConnected")]
    all_bf16 = recipe.with_ops({op: bf16 for op in weighted}).fallback(
        [op for op in recipe.ops if op not in weighted]
    )
    ours_bf16 = backend.quantize(net, all_bf16, {})
    mixed = backend.quantize(net, recipe.with_ops({weighted[0]: bf16}), {"minmax": stats})
    assert len(bf16_layers(ours_bf16._cached_graph[1])) == len(weighted)
    hand_bf16 = amp.convert_hybrid_block(
        net, target_dtype="bfloat16", ctx=mx.cpu(), cast_optional_params=True
    )
    for block in (ours, hand, ours_bf16, hand_bf16, mixed):
        block.hybridize(static_alloc=True, static_shape=True)

    nets = {
        "fp32": net,
        "lpot int8": ours,
        "quantize_net int8": hand,
        "lpot bf16": ours_bf16,
        "amp bf16": hand_bf16,
        "lpot int8+bf16": mixed,
    }
    sizes = {k: backend.model_size(v) for k, v in nets.items()}
    eval_x = mx.nd.array(rng.random((16, 3, args.size, args.size), dtype=np.float32))
    ref = net(eval_x).asnumpy().argmax(1)
    agree = {k: float((backend.predict(v, eval_x).argmax(1) == ref).mean()) for k, v in nets.items()}

    print(
        f"CPU: {cpu_features().describe()}; MXNet {mx.__version__}; input {args.size}x{args.size}; "
        f"AMX for oneDNN: {'on' if amx_enabled() else 'off'}; "
        f"probe conv BF16 speedup over FP32 {bf16_speedup():.2f}x"
    )
    print(
        f"lpot: calibration {calib_s:.2f} s once, then {quantize_s:.2f} s per recipe; "
        f"quantize_net: {hand_s:.2f} s per call (recalibrates every time)\n"
    )
    rows = []
    for batch in (1, 16):
        x = mx.nd.array(rng.random((batch, 3, args.size, args.size), dtype=np.float32))
        for block in nets.values():
            for _ in range(3):  # warm up: oneDNN builds its primitives, INT8 convs quantize their weights
                block(x).wait_to_read()
        times: dict[str, list[float]] = {k: [] for k in nets}
        for _ in range(5):  # interleaved rounds
            for name, block in nets.items():
                times[name].append(_median_ms(block, x, max(1, args.iterations // 5)))
        lat = {k: statistics.median(v) for k, v in times.items()}
        for name in nets:
            rows.append(
                (batch, name, lat[name], lat["fp32"] / lat[name], sizes["fp32"] / sizes[name], agree[name])
            )
    header = f"{'batch':>5}  {'model':<18} {'latency ms':>10}  {'speedup':>7}  {'size ratio':>10}  {'top-1 agree':>11}"
    print(header)
    print("-" * len(header))
    for batch, name, ms, speed, size, ag in rows:
        print(f"{batch:>5}  {name:<18} {ms:>10.2f}  {speed:>6.2f}x  {size:>9.2f}x  {ag:>11.3f}")
    print(f"\nsizes (bytes): {sizes}")
    same = _graph_key(ours) == _graph_key(hand)
    print(
        f"lpot and quantize_net built {'the same' if same else 'different'} INT8 graphs (ops, attributes, edges)"
    )
    lat_ratio = {
        b: next(r[2] for r in rows if r[0] == b and r[1] == "quantize_net int8")
        / next(r[2] for r in rows if r[0] == b and r[1] == "lpot int8")
        for b in (1, 16)
    }
    print(
        "lpot vs quantize_net latency (>1: lpot faster): "
        + ", ".join(f"b{b} {v:.2f}x" for b, v in lat_ratio.items())
    )


if __name__ == "__main__":
    main()
