"""aksar.data: datasets, preprocessing, batching, pre-generation and the fixed validation set.

Modules: ``preprocess`` (shared image preprocessing), ``collate`` (batches, width buckets),
``onthefly`` (rendering dataset, epoch sampler, train loader), ``readers`` (labels.tsv, pre-generated,
LMDB), ``formats`` (tesstrain, trdg, docTR), ``files`` (image decoding, path check), ``lmdb_io``, ``stats``, ``generate`` (``aksar generate``), ``valset`` (``aksar valset``).
Import the submodules directly; this package imports nothing heavy.
"""
