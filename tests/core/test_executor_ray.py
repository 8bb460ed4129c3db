"""The ``ray`` executor on a local Ray cluster of 2 CPUs (started once for this module)."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from test_executor_common import DETERMINISTIC, assert_same_as_serial, history, tune
from test_strategy_common import Accuracy

from lpot.errors import ConfigError

ray = pytest.importorskip("ray")
RAY2 = {"name": "ray", "workers": 2}


@pytest.fixture(scope="module", autouse=True)
def cluster():
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


class KillMe(Accuracy):
    """The first evaluation in a Ray worker writes its pid to ``<folder>/victim`` and waits to be
    killed; every other evaluation (including the retry of that trial) is normal."""

    def __init__(self, folder: Path) -> None:
        super().__init__()
        self.folder = str(folder)
        self.driver = os.getpid()

    def __call__(self, model: Any) -> float:
        if os.getpid() != self.driver:
            try:
                fd = os.open(os.path.join(self.folder, "victim"), os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                pass
            else:
                os.write(fd, str(os.getpid()).encode())
                os.close(fd)
                time.sleep(60)  # killed long before this ends
        return super().__call__(model)


@pytest.mark.parametrize("strategy", DETERMINISTIC)
def test_two_ray_workers_reach_the_serial_answer(tmp_path, strategy):
    serial = tune(tmp_path / "serial", strategy)
    parallel = tune(tmp_path / "ray", strategy, RAY2)
    assert_same_as_serial(serial, parallel, tmp_path / "ray")


def test_a_ray_worker_killed_mid_trial_loses_no_trial_and_duplicates_none(tmp_path):
    serial = tune(tmp_path / "serial", "basic")
    victim = tmp_path / "victim"
    killed: list[int] = []

    def killer() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if victim.exists() and victim.read_text():
                pid = int(victim.read_text())
                time.sleep(0.2)  # well inside its trial
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                return
            time.sleep(0.02)

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    parallel = tune(tmp_path / "ray", "basic", RAY2, evaluate=KillMe(tmp_path))
    thread.join(5)
    assert killed, "the worker was not killed"
    assert all(t.status == "ok" for t in parallel.trials)  # the killed trial was retried, not failed
    assert_same_as_serial(serial, parallel, tmp_path / "ray")
    assert len(history(tmp_path / "ray")) == len(parallel.trials)


def test_a_closure_over_something_unpicklable_is_a_clear_error(tmp_path):
    lock, data = threading.Lock(), Accuracy()

    def evaluate(model: Any) -> float:
        with lock:
            return data(model)

    with pytest.raises(ConfigError) as info:
        tune(tmp_path, "basic", RAY2, evaluate=evaluate)
    message = str(info.value)
    assert "'ray' executor" in message and "eval_func" in message and "lock" in message
    assert "tuning.executor: serial" in message
