"""Training across workers: shards and the pooled moments (transport-free parts)."""

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from conftest import correlated_problem

from tapereg.distributed import ShardedBlocks, pooled_moments
from tapereg.gram import data_moments


def _in_lockstep(n_workers):
    """A ``sum_across`` for n threads: each deposits its array, all get the sum."""
    barrier = threading.Barrier(n_workers)
    slots = [None] * n_workers

    def for_worker(k):
        def sum_across(array):
            slots[k] = array
            barrier.wait()
            total = sum(slots)
            barrier.wait()  # nobody overwrites a slot before all have summed
            return total

        return sum_across

    return for_worker


@pytest.mark.parametrize("weighted", [False, True])
def test_pooled_moments_equal_the_moments_of_all_rows(weighted):
    X, y, _ = correlated_problem(1001, 4, seed=3)
    X = X + 1e6  # offsets: raw second moments about 0 would cancel
    Y = np.column_stack([y, 2 * y])
    w = np.random.default_rng(0).uniform(0.5, 2.0, 1001) if weighted else None
    shards = [slice(0, 400), slice(400, 400), slice(400, 1001)]  # one is empty
    local = [
        data_moments(X[s], Y[s], None if w is None else w[s])
        if s.stop > s.start
        else None
        for s in shards
    ]
    sum_for = _in_lockstep(len(shards))
    with ThreadPoolExecutor(len(shards)) as pool:
        pooled = list(
            pool.map(
                lambda k: pooled_moments(local[k], 6, 4, sum_for(k)),
                range(len(shards)),
            )
        )
    whole = data_moments(X, Y, w)
    for result in pooled:
        assert result.n_samples == 1001 and result.n_features == 4
        assert result.weighted == weighted
        np.testing.assert_allclose(result.total_weight, whole.total_weight, rtol=1e-14)
        np.testing.assert_allclose(result.mean, whole.mean, rtol=1e-14)
        np.testing.assert_allclose(result.covariance, whole.covariance, rtol=1e-9)


def test_sharded_blocks_split_a_stream_round_robin():
    blocks = [(np.full((2, 1), k), np.zeros((2, 1))) for k in range(7)]
    shards = [ShardedBlocks(blocks, i, 3) for i in range(3)]
    seen = [[int(X[0, 0]) for X, _ in shard] for shard in shards]
    assert seen == [[0, 3, 6], [1, 4], [2, 5]]
    with pytest.raises(ValueError, match="worker index 3"):
        ShardedBlocks(blocks, 3, 3)
