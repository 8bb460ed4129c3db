"""Pruning and QAT under torch DDP with two CPU processes (gloo): ranks end with the same masks and,
after sync_observers, the same INT8 model."""

from __future__ import annotations

import torch
import torch.multiprocessing as mp

import ddp_job


def test_two_rank_ddp_pruning_and_qat_agree(tmp_path):
    mp.spawn(ddp_job.run, args=(str(tmp_path / "store"), str(tmp_path)), nprocs=2, join=True)
    a = torch.load(tmp_path / "rank0.pt", weights_only=True)
    b = torch.load(tmp_path / "rank1.pt", weights_only=True)
    assert a["masks"].keys() == b["masks"].keys() and a["masks"]
    for name in a["masks"]:
        assert torch.equal(a["masks"][name], b["masks"][name]), name
        assert abs(a["masks"][name].float().mean().item() - 0.6) <= 0.01
    assert a["synced"] > 0 and a["synced"] == b["synced"]
    torch.testing.assert_close(a["outputs"], b["outputs"], rtol=0, atol=0)
