"""Prepare missing training data before a run (``aksar train`` on a fresh clone just works).

- no ``corpus_dir/train.txt`` and ``data.preset`` set: build the corpus from the preset
  (``aksar.text.corpus.build_corpus``); with ``data.max_text_length: 1`` (single-character models) the
  line corpus goes to ``corpus_dir/lines`` and ``corpus_dir`` gets one character per line.
- no validation set in ``data.val_dir``: build the fixed validation set (``aksar.data.valset.build_valset``)
  with ``data.val_samples`` images.

``prepare_corpus`` (the first step alone) serves tasks without a line validation set (detection).
Every action is logged; nothing is rebuilt when it exists.
"""
from __future__ import annotations

import logging
import unicodedata
from collections import Counter
from pathlib import Path

from aksar.core.errors import AksarError
from aksar.core.io import atomic_write_json, atomic_write_text
from aksar.train.config import TrainConfig

log = logging.getLogger("aksar.train")


def _standalone(ch: str) -> bool:
    """A character that renders on its own (no combining mark, no space/control)."""
    return not unicodedata.category(ch).startswith(("M", "Z", "C"))


def build_char_corpus(lines_dir: Path, out_dir: Path, script: str) -> dict:
    """Single-character corpus: each split lists the standalone characters of the line corpus's split."""
    from aksar.text.charset import Charset
    from aksar.text.corpus import SPLITS, read_split

    counts: dict[str, Counter] = {}
    for split in SPLITS:
        counts[split] = Counter(ch for line in read_split(lines_dir, split) for ch in line if _standalone(ch))
    train_chars = sorted(counts["train"])
    if not train_chars:
        raise AksarError(f"{lines_dir}/train.txt: no standalone characters for a single-character corpus")
    out_dir.mkdir(parents=True, exist_ok=True)
    for split in SPLITS:
        # val/test fall back to the training characters (a character classifier is tested on new renderings)
        chars = sorted(c for c in counts[split] if c in counts["train"]) or train_chars
        atomic_write_text(out_dir / f"{split}.txt", "".join(c + "\n" for c in chars))
    charset = Charset(train_chars)
    charset.save(out_dir / "charset.txt")
    stats = {"script": script, "kind": "single-character", "source": str(lines_dir),
             "splits": {s: len(read_split(out_dir, s)) for s in SPLITS}, "charset_size": len(charset),
             "charset_fingerprint": charset.fingerprint()}
    atomic_write_json(out_dir / "stats.json", stats)
    return stats


def prepare_corpus(cfg: TrainConfig) -> list[str]:
    """Build the corpus of ``data.corpus_dir`` from ``data.preset`` when it is missing (any task)."""
    d = cfg.data
    actions: list[str] = []
    corpus = Path(d.corpus_dir)
    if not (corpus / "train.txt").is_file():
        if not d.preset:
            from aksar.text.presets import PRESETS

            raise AksarError(f"data.corpus_dir: {corpus / 'train.txt'} not found; build a corpus with "
                             f"`aksar corpus build`, or set data.preset ({', '.join(sorted(PRESETS))}) to build it here")
        from aksar.text.corpus import build_corpus

        char_mode = d.max_text_length == 1
        target = corpus / "lines" if char_mode else corpus
        if not (target / "train.txt").is_file():
            log.info("preparing data: building the %r corpus in %s (data.preset, max_length %d)", d.preset,
                     target, d.corpus.max_length)
            stats = build_corpus(None, d.corpus, target, preset=d.preset, progress=True)
            actions.append(f"built corpus {target} ({stats['kept']} lines)")
            log.info("corpus %s: %s lines kept (train/val/test %s), %d dropped", target, stats["kept"],
                     "/".join(str(v) for v in stats["splits"].values()), stats["dropped_total"])
        if char_mode:
            from aksar.text.corpus import corpus_script

            stats = build_char_corpus(target, corpus, corpus_script(target))
            actions.append(f"built single-character corpus {corpus} ({stats['charset_size']} characters)")
            log.info("preparing data: single-character corpus %s with %d characters", corpus,
                     stats["charset_size"])
    return actions


def prepare_data(cfg: TrainConfig) -> list[str]:
    """Build what the config needs and is missing; returns the actions taken (also logged)."""
    d = cfg.data
    if d.train_dataset:
        from aksar.data.shards import is_shard_spec, resolve_shards

        if is_shard_spec(d.train_dataset):
            resolve_shards(d.train_dataset)  # every shard there (and as long as index.json says)
        elif not Path(d.train_dataset).exists():
            raise AksarError(f"data.train_dataset: {d.train_dataset} not found")
    actions = prepare_corpus(cfg)
    corpus = Path(d.corpus_dir)
    charset = d.charset_path()
    if not charset.is_file():
        raise AksarError(f"data.charset: {charset} not found")
    val = Path(d.val_dir)
    if not val.exists() or not any(val.iterdir()):
        from aksar.data.valset import ValsetConfig, build_valset

        log.info("preparing data: building the fixed validation set %s (%d samples from %s/val.txt, seed %d)",
                 val, d.val_samples, corpus, d.val_seed)
        vcfg = ValsetConfig(corpus_dir=str(corpus), output_dir=str(val), num_samples=d.val_samples,
                            random_seed=d.val_seed, augment=d.val_augment, synth=d.synth)
        build_valset(vcfg)
        actions.append(f"built validation set {val} ({d.val_samples} samples)")
    return actions


__all__ = ["prepare_data", "prepare_corpus", "build_char_corpus"]
