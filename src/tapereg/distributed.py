"""Training across workers: shards of the input, and the sums that join them.

Each worker reads its own shard of the rows. What the engines need from all rows
is a sum over rows (moments, loss and gradient), so a shard's partial sums are
added across workers (an all-reduce) and every worker then holds the same numbers
a single process would have computed, up to the order of the additions.

This module holds the pieces that do not depend on the transport: which rows a
worker reads, and how per-shard moments are pooled given a ``sum_across`` that adds
a NumPy array over all workers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

from .gram import Moments


class ShardedBlocks:
    """The blocks of a re-iterable stream that belong to worker ``index`` of
    ``count``: every ``count``-th block, starting at ``index``.

    Blocks are row ranges of the files (about 16 MB of text each), so a worker's
    shard is a set of row ranges and its size differs from another's by at most
    one block. Attributes of the stream (names, ``no_rows_error``) pass through.
    """

    def __init__(self, blocks: Iterable, index: int, count: int):
        if not 0 <= index < count:
            raise ValueError(f"worker index {index} is not in 0..{count - 1}")
        self.blocks, self.index, self.count = blocks, index, count

    def __iter__(self):
        for k, block in enumerate(self.blocks):
            if k % self.count == self.index:
                yield block

    def __getattr__(self, name):
        return getattr(self.blocks, name)


def pooled_moments(
    local: Moments | None,
    n_columns: int,
    n_features: int,
    sum_across: Callable[[np.ndarray], np.ndarray],
) -> Moments:
    """The moments of every worker's rows, from each worker's own (``local``; None
    for a worker without rows), with two sums across workers.

    Means are pooled by weight; centred second moments by the parallel-variance
    formula ``M = Σ_k [M_k + w_k·(m_k − m)(m_k − m)ᵀ]``, which never forms raw
    second moments about 0 (they would cancel catastrophically for offset data).
    """
    p = n_columns
    weight = 0.0 if local is None else local.total_weight
    first = np.zeros(p + 3)
    if local is not None:
        first[:3] = (weight, local.n_samples, float(local.weighted))
        first[3:] = weight * local.mean
    first = sum_across(first)
    total, n_samples = float(first[0]), round(float(first[1]))
    mean = first[3:] / total
    second = np.zeros((p, p))
    if local is not None:
        delta = local.mean - mean
        second = weight * (local.covariance + np.outer(delta, delta))
    second = sum_across(second)
    return Moments(
        total,
        n_samples,
        mean,
        second / total,
        n_features,
        bool(first[2] > 0),
    )
