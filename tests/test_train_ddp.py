"""DDP with 2 CPU processes (gloo): ranks train on disjoint on-the-fly samples and end with identical weights."""
from __future__ import annotations

import socket

import pytest
import torch
import torch.multiprocessing as mp

from fixtures.train import ddp_worker, tiny_config_dict

pytestmark = pytest.mark.xdist_group("train")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_ranks_disjoint_samples_identical_weights(train_data, tmp_path):
    cfg = tiny_config_dict(train_data, tmp_path / "run", run={"epochs": 2, "val_every_steps": 3})
    mp.spawn(ddp_worker, args=(2, _free_port(), cfg, str(tmp_path)), nprocs=2, join=True)
    r0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    r1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    # 64 samples per epoch split over 2 ranks: 4 batches of 8 each per epoch, 8 steps over 2 epochs
    assert r0["step"] == r1["step"] == 8
    k0, k1 = {tuple(k) for k in r0["keys"]}, {tuple(k) for k in r1["keys"]}
    assert len(k0) == len(r0["keys"]) == 64 and len(k1) == 64
    assert not k0 & k1
    assert k0 | k1 == {(e, i) for e in range(2) for i in range(64)}
    for name, t in r0["state"].items():
        assert torch.equal(t, r1["state"][name]), name
    # the weights moved: training happened on both ranks
    init = torch.load(tmp_path / "run" / "checkpoints" / "latest.pt", weights_only=True)
    assert init["world_size"] == 2 and init["step"] == 8
    log = (tmp_path / "run" / "metrics.jsonl").read_text()
    assert '"type": "val"' in log
