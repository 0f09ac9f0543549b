"""On-the-fly dataset: samples determined by (seed, epoch, index), across processes and workers."""
from __future__ import annotations

import hashlib
import subprocess
import sys

import numpy as np
import pytest
import torch

from aksar.data.onthefly import EpochSampler, OnTheFlyDataset, make_train_loader, set_loader_epoch
from aksar.render.synth import SynthConfig

SYNTH = SynthConfig(fonts=["Khmer OS", "Noto Sans Khmer", "Khmer OS Siemreap"])

_CHILD = """
import hashlib, sys
from aksar.data.onthefly import OnTheFlyDataset
from aksar.render.synth import SynthConfig
ds = OnTheFlyDataset(sys.argv[1], SynthConfig(fonts=["Khmer OS", "Noto Sans Khmer", "Khmer OS Siemreap"]), 40, seed=7)
for key in [(0, 0), (0, 13), (3, 13)]:
    item = ds[key]
    print(hashlib.sha256(item["image"].tobytes()).hexdigest(), item["text"], sep="\\t")
"""


def _digest(item) -> str:
    return hashlib.sha256(item["image"].tobytes()).hexdigest()


@pytest.fixture(scope="module")
def otf(khmer_corpus_dir):
    return OnTheFlyDataset(khmer_corpus_dir, SYNTH, samples_per_epoch=40, seed=7)


def test_same_key_same_sample_across_processes(otf, khmer_corpus_dir):
    out = subprocess.run([sys.executable, "-c", _CHILD, str(khmer_corpus_dir)], capture_output=True, text=True,
                         check=True).stdout.splitlines()
    here = [f"{_digest(otf[k])}\t{otf[k]['text']}" for k in [(0, 0), (0, 13), (3, 13)]]
    assert out == here


def test_epochs_and_indices_give_different_samples(otf):
    a = [otf[(0, i)] for i in range(8)]
    b = [otf[(1, i)] for i in range(8)]
    assert len({_digest(x) for x in a + b}) == 16
    assert [x["text"] for x in a] != [x["text"] for x in b]
    # lines are walked without repetition within one pass over the corpus
    texts = [otf.text_for(0, i) for i in range(40)]
    assert len(otf.lines) > 40 and len(set(texts)) == 40
    item = a[0]
    assert item["image"].dtype == np.uint8 and item["image"].shape[0] == SYNTH.render.height
    assert item["meta"]["epoch"] == 0 and item["meta"]["index"] == 0 and item["meta"]["font"]


def test_epoch_sampler_ranks_disjoint_and_resume():
    parts = [list(EpochSampler(10, epoch=2, rank=r, world_size=2)) for r in range(2)]
    assert parts[0] == [(2, i) for i in (0, 2, 4, 6, 8)] and parts[1] == [(2, i) for i in (1, 3, 5, 7, 9)]
    s = EpochSampler(10, epoch=0, shuffle=True, seed=1)
    full = list(s)
    assert sorted(i for _, i in full) == list(range(10)) and full != [(0, i) for i in range(10)]
    s.set_epoch(0, start=4)
    assert list(s) == full[4:] and len(s) == 6
    s.set_epoch(1)
    assert all(e == 1 for e, _ in s)


def test_loader_workers_give_the_same_batches_as_no_workers(otf):
    def collect(workers: int) -> list:
        loader = make_train_loader(otf, batch_size=8, num_workers=workers, drop_last=True)
        out = []
        for epoch in (0, 1):  # persistent workers follow the epoch through the keys
            set_loader_epoch(loader, epoch, start_batch=3 if epoch == 1 else 0)
            out += [(b["texts"], b["images"].numpy().tobytes(), [(m["epoch"], m["index"]) for m in b["meta"]])
                    for b in loader]
        return out

    serial, parallel = collect(0), collect(2)
    assert len(serial) == 5 + 2
    assert serial == parallel
    keys = [k for _, _, ks in serial for k in ks]
    assert len(set(keys)) == len(keys) and keys[40] == (1, 24)  # resumed after 3 batches of epoch 1
    assert isinstance(make_train_loader(otf, 4, num_workers=0).batch_sampler, torch.utils.data.BatchSampler)


def test_workers_start_after_the_parent_used_opencvs_thread_pool(tmp_path):
    """A loader forks its workers after the parent ran OpenCV's thread pool (validation, a workers=0 pass):
    the workers keep OpenCV to one thread without deadlocking (setting it in a forked child used to hang)."""
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent("""
        import cv2, numpy as np, torch
        from aksar.data.onthefly import make_train_loader
        from aksar.render.image_ops import one_thread_per_worker

        cv2.setNumThreads(2)
        a = np.zeros((1500, 1500), np.uint8)
        for _ in range(3):
            cv2.GaussianBlur(a, (0, 0), 3)            # the parent's pool is running

        class Threads(torch.utils.data.Dataset):
            def __len__(self):
                return 4
            def widths(self, cfg):
                return [32] * 4
            def __getitem__(self, i):
                one_thread_per_worker()               # as a render worker's Synthesizer would run
                cv2.GaussianBlur(a, (0, 0), 3)
                return {"image": np.full((32, 32), 255, np.uint8), "text": str(cv2.getNumThreads()), "meta": {}}

        loader = make_train_loader(Threads(), 2, num_workers=2, shuffle=False, persistent_workers=False)
        print(sorted(t for batch in loader for t in batch["texts"]))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "['1', '1', '1', '1']"
