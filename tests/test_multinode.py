"""Two torchrun agents (``--nnodes 2``, c10d rendezvous) on this machine, gloo on CPU: every rank and
DataLoader worker draws disjoint on-the-fly samples, and the ranks end with identical weights."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from fixtures.train import tiny_config_dict, write_config

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("train")]

FIXTURES = Path(__file__).parent / "fixtures"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_nodes_disjoint_samples_identical_weights(train_data, tmp_path):
    # a relative output_dir: each node writes under its own working directory, as on a per-node disk
    cfg = tiny_config_dict(train_data, Path("run"), run={"epochs": 2, "val_every_steps": 0, "device": "cpu"},
                           data={"num_workers": 2})
    config = write_config(tmp_path / "config.yaml", cfg)
    journal = tmp_path / "journal"
    journal.mkdir()
    port = _free_port()
    env = dict(os.environ, AKSAR_SAMPLE_JOURNAL=str(journal), OMP_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join([str(FIXTURES.parent.parent / "src"), os.environ.get("PYTHONPATH", "")]))
    agents = []
    for node in (0, 1):
        cwd = tmp_path / f"node{node}"
        cwd.mkdir()
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--nproc-per-node", "1",
               "--node-rank", str(node), "--rdzv-backend", "c10d", "--rdzv-endpoint", f"127.0.0.1:{port}",
               "--rdzv-id", "aksar-test", str(FIXTURES / "torchrun_train.py"), str(config), str(tmp_path)]
        agents.append(subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                       text=True))
    for node, agent in enumerate(agents):
        out, _ = agent.communicate(timeout=240)
        assert agent.returncode == 0, f"node {node}:\n{out[-4000:]}"

    r0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    r1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    # node 1 holds global rank 1 but local rank 0: the data share comes from RANK, the device from LOCAL_RANK
    assert r0["env"] == {"RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "2", "GROUP_RANK": "0"}
    assert r1["env"] == {"RANK": "1", "LOCAL_RANK": "0", "WORLD_SIZE": "2", "GROUP_RANK": "1"}
    # 64 samples per epoch over 2 ranks: 4 batches of 8 per rank and epoch, 8 steps in 2 epochs
    assert r0["step"] == r1["step"] == 8
    for name, t in r0["state"].items():
        assert torch.equal(t, r1["state"][name]), name

    # what each node, rank and worker drew (the sample journal, written where the samples are rendered)
    drawn: dict[tuple[int, int], tuple[int, int, int | None]] = {}
    for path in sorted(journal.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            rec = json.loads(line)
            key = (rec["epoch"], rec["index"])
            assert key not in drawn, f"{key} drawn by {drawn[key]} and {rec}"
            drawn[key] = (rec["node"], rec["rank"], rec["worker"])
    assert set(drawn) == {(e, i) for e in range(2) for i in range(64)}  # every sample exactly once
    assert {v for v in drawn.values()} == {(n, n, w) for n in (0, 1) for w in (0, 1)}  # both workers of both nodes
    for rank, r in ((0, r0), (1, r1)):  # a rank trained on what its own workers drew
        assert {tuple(k) for k in r["keys"]} == {k for k, v in drawn.items() if v[1] == rank}

    # only global rank 0 writes: node 1's disk has no checkpoint
    assert (tmp_path / "node0" / "run" / "checkpoints" / "latest.pt").is_file()
    assert not (tmp_path / "node1" / "run" / "checkpoints").exists()
