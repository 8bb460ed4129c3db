"""The benchmark harness' timing loop that all four backends share."""

from __future__ import annotations

import time

from lpot.instances import time_calls


def test_time_calls_warms_up_untimed_then_times_each_call_cycling_the_batches():
    seen = []

    def run(batch):
        seen.append(batch)
        time.sleep(0.002 if len(seen) > 2 else 0.3)  # slow warm-up calls must not be in the figures

    times = time_calls(run, ["a", "b", "c"], warmup=2, iterations=4)
    assert seen == ["a", "b", "c", "a", "b", "c"]
    assert len(times) == 4
    assert all(1.5 <= t < 250 for t in times)  # milliseconds, warm-up excluded
