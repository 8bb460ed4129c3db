"""Histogram calibration in numpy: streaming per-tensor histograms and the ranges read from them.

The TFLite calibrator records min/max only, so for ``kl`` and ``percentile`` lpot histograms the
activations itself (:mod:`lpot_tensorflow.calibration` feeds them) and turns each histogram into a
range. Both algorithms work on the histogram of ``|x|``: a tensor that never goes negative (after
a ReLU) gets ``(0, T)``, any other ``(-T, T)``; a range never reaches past what was observed.

One pass, bounded memory: the histogram has a fixed number of bins over ``[0, top)``; when a batch
goes past ``top``, ``top`` grows by a power of two and neighbouring bins are summed, which gives
exactly the histogram the larger range would have counted from the start.
"""

from __future__ import annotations

import numpy as np

BINS = 8192  # the lowest KL threshold is 1/32-1/16 of max |x| (1/64-1/32 for signed tensors)
SIGNED_LEVELS = 128  # INT8 levels on one side of zero for a (-T, T) range
UNSIGNED_LEVELS = 256  # INT8 levels over a (0, T) range
PERCENTILE = 99.999  # ONNX Runtime's default
KL_CANDIDATES = 512  # thresholds the KL search tries at most


class MagnitudeHistogram:
    """Counts of ``|x|`` over ``[0, top)`` in :data:`BINS` bins, plus the observed min and max."""

    def __init__(self, bins: int = BINS) -> None:
        if bins & (bins - 1):
            raise ValueError(f"bins must be a power of two, got {bins}")
        self.counts = np.zeros(bins, dtype=np.int64)
        self.top = 0.0
        self.low = np.inf
        self.high = -np.inf

    def add(self, values: np.ndarray) -> None:
        values = np.asarray(values, dtype=np.float64).ravel()
        values = values[np.isfinite(values)]
        if values.size == 0:
            return
        self.low = min(self.low, float(values.min()))
        self.high = max(self.high, float(values.max()))
        magnitude = np.abs(values)
        self._grow(float(magnitude.max()))
        if self.top == 0.0:  # only zeros so far: bin 0 whatever the range becomes
            self.counts[0] += magnitude.size
            return
        index = np.minimum((magnitude * (len(self.counts) / self.top)).astype(np.int64), len(self.counts) - 1)
        self.counts += np.bincount(index, minlength=len(self.counts))

    def _grow(self, peak: float) -> None:
        """Widen ``[0, top)`` to hold ``peak``: by a power of two, so old bins merge exactly."""
        if peak <= self.top:
            return
        if self.top == 0.0:
            self.top = peak
            return
        factor = max(2, 1 << int(np.ceil(np.log2(peak / self.top))))
        n = len(self.counts)
        merged = self.counts.reshape(-1, min(factor, n)).sum(axis=1)
        self.counts = np.zeros(n, dtype=np.int64)
        self.counts[: len(merged)] = merged
        self.top *= factor

    @property
    def signed(self) -> bool:
        return self.low < 0.0

    def range(self, algorithm: str) -> tuple[float, float]:
        """The ``(min, max)`` to quantize this tensor with: ``kl`` or ``percentile`` thresholds."""
        if not np.isfinite(self.low):  # never saw a value
            return 0.0, 0.0
        if self.top == 0.0:
            return self.low, self.high
        width = self.top / len(self.counts)
        if algorithm == "kl":
            edge = kl_threshold_bin(self.counts, SIGNED_LEVELS if self.signed else UNSIGNED_LEVELS)
        elif algorithm == "percentile":
            edge = percentile_bin(self.counts, PERCENTILE)
        else:
            raise ValueError(f"no histogram algorithm {algorithm!r}; use 'kl' or 'percentile'")
        threshold = edge * width
        return max(self.low, -threshold), min(self.high, threshold)


def percentile_bin(counts: np.ndarray, percentile: float) -> int:
    """The bin edge below which ``percentile`` % of the counts lie (ONNX Runtime's symmetric
    percentile calibration, on the same ``|x|`` histogram)."""
    cdf = np.cumsum(counts) / max(int(counts.sum()), 1)
    return min(int(np.searchsorted(cdf, percentile / 100.0)) + 1, len(counts))


def kl_threshold_bin(counts: np.ndarray, levels: int, candidates: int = KL_CANDIDATES) -> int:
    """The bin edge where clipping minimizes the KL divergence between the histogram and its
    ``levels``-level quantized version: TensorRT's entropy calibration (Migacz, "8-bit inference
    with TensorRT", GTC 2017) as NVIDIA's pytorch-quantization runs it on ``|x|`` (MXNet and ONNX
    Runtime run the same search on a two-sided histogram).

    For each candidate edge ``i``: P is the first ``i`` bins with everything beyond added to the
    last one (clipping); Q merges those ``i`` bins into ``levels`` equal groups and spreads each
    group's count evenly over the group's non-empty bins of P. Bin 0 counts as bin 1 (a ReLU's
    zeros would otherwise dominate the divergence and pull the threshold down, as NVIDIA's code
    does); an empty Q bin under a non-empty P bin is smoothed to a small count (MXNet). Edges are
    tried at every bin, or at :data:`KL_CANDIDATES` geometrically spaced ones when there are more
    (a speed trade like the stride of NVIDIA's pytorch-quantization, at <1% relative steps).
    """
    nonzero = np.flatnonzero(counts)
    if nonzero.size == 0:
        return levels
    used = int(nonzero[-1]) + 1
    if used <= levels:  # the whole distribution already fits the levels: nothing to clip
        return used
    hist = counts[:used].astype(np.float64)
    hist[0] = hist[1]
    beyond = np.concatenate([np.cumsum(hist[::-1])[::-1][1:], [0.0]])  # beyond[i-1]: mass past bin i-1
    if used - levels < candidates:
        edges = np.arange(levels, used + 1)
    else:  # geometric steps: as fine relative to the threshold at the low end as at the high end
        edges = np.unique(np.round(np.geomspace(levels, used, candidates)).astype(np.int64))
    divergences = [_divergence(hist[:i], beyond[i - 1], levels) for i in edges]
    return int(edges[int(np.argmin(divergences))])


def _divergence(sliced: np.ndarray, outliers: float, levels: int) -> float:
    p = sliced.copy()
    p[-1] += outliers
    filled = p > 0
    size = len(sliced)
    starts = np.ceil(np.linspace(0, size, levels + 1)[:-1]).astype(np.int64)
    lengths = np.diff(np.append(starts, size))
    sums = np.add.reduceat(sliced, starts)
    spread = np.add.reduceat(filled.astype(np.float64), starts)
    per_bin = np.divide(sums, spread, out=np.zeros_like(sums), where=spread > 0)
    q = np.repeat(per_bin, lengths)
    q[~filled] = 0.0
    q[filled & (q == 0.0)] = 1e-4  # MXNet's smoothing: an empty quantized bin costs, but finitely
    p, q = p[filled] / p.sum(), q[filled] / q.sum()
    return float(np.sum(p * np.log(p / q)))
