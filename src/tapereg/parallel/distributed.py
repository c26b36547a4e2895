"""Training across workers: shards of the input, and the sums that join them.

Each worker reads its own shard of the rows. What the engines need from all rows
is a sum over rows (moments, loss and gradient), so a shard's partial sums are
added across workers (an all-reduce) and every worker then holds the same numbers
a single process would have computed, up to the order of the additions. The exact
solver's triangular factors are not sums: they are gathered (each worker fills its
slot of a zero array, and the arrays are summed) and factored once more.

Which rows a worker reads (:class:`ShardedBlocks`, :func:`shard_of`) and how
per-shard moments are pooled (:func:`pooled_moments`) do not depend on the
transport: they take a ``sum_across`` that adds a NumPy array over all workers.
The transport is TensorFlow's: :func:`resolve_strategy` builds the
``tf.distribute`` strategy and :func:`strategy_sum` its all-reduce.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

from ..numerics.gram import Moments

STRATEGIES = ("none", "mirrored", "multi-worker")
# Seconds a collective may wait for a peer before it fails (a dead worker).
COLLECTIVE_TIMEOUT = 30.0
# How fast a dead worker is noticed: missed heartbeats, and peers that never join.
HEARTBEAT_TIMEOUT_MS = 3000
REGISTER_TIMEOUT_MS = 20000
_created: dict = {}  # TensorFlow allows one multi-worker strategy per process
_sums: dict = {}  # id(strategy) -> (strategy, its sum_across), traced once


def resolve_strategy(strategy):
    """A ``tf.distribute.Strategy`` for a name (None for "none"), or the one given.

    "multi-worker" reads the cluster from ``TF_CONFIG``; its collectives time out
    after ``COLLECTIVE_TIMEOUT`` seconds, so a dead worker stops the others with an
    error instead of a hang.
    """
    if strategy is None or strategy == "none":
        return None
    if not isinstance(strategy, str):
        return strategy
    if strategy not in _created:
        import tensorflow as tf

        if strategy == "mirrored":
            _created[strategy] = tf.distribute.MirroredStrategy()
        else:
            _configure_heartbeats(cluster_config()["cluster"])
            options = tf.distribute.experimental.CommunicationOptions(
                timeout_seconds=COLLECTIVE_TIMEOUT
            )
            _created[strategy] = tf.distribute.MultiWorkerMirroredStrategy(
                communication_options=options
            )
    return _created[strategy]


TF_CONFIG_EXAMPLE = (
    '{"cluster": {"worker": ["host1:2222", "host2:2222"]}, '
    '"task": {"type": "worker", "index": 0}}'
)


def cluster_config() -> dict:
    """``TF_CONFIG``, checked: a ClusterError naming what is wrong with it.

    TensorFlow's own resolver takes a missing or broken ``TF_CONFIG`` as a
    cluster of one, or fails deep inside with a traceback; a worker that was
    meant to join a cluster must say so instead.
    """
    import json
    import os

    from ..errors import ClusterError

    text = os.environ.get("TF_CONFIG", "").strip()
    if not text:
        raise ClusterError(
            "strategy multi-worker needs the cluster in the TF_CONFIG environment "
            f"variable, which is not set; for example {TF_CONFIG_EXAMPLE}"
        )
    try:
        config = json.loads(text)
    except json.JSONDecodeError as error:
        raise ClusterError(f"TF_CONFIG is not JSON ({error})") from None
    cluster = config.get("cluster") if isinstance(config, dict) else None
    jobs = {"chief", "worker"}
    addresses = (
        [cluster.get(job) or [] for job in jobs] if isinstance(cluster, dict) else []
    )
    if not any(addresses) or not all(
        isinstance(hosts, list) and all(isinstance(h, str) for h in hosts)
        for hosts in addresses
    ):
        raise ClusterError(
            'TF_CONFIG has no "cluster" with a "worker" list of "host:port" '
            f"addresses; for example {TF_CONFIG_EXAMPLE}"
        )
    others = sorted(set(cluster) - jobs - {"evaluator"})
    if others:
        raise ClusterError(
            f"TF_CONFIG's cluster has {', '.join(map(repr, others))} jobs; "
            "multi-worker training takes 'chief' and 'worker' jobs only"
        )
    task = config.get("task")
    kind = task.get("type") if isinstance(task, dict) else None
    index = task.get("index") if isinstance(task, dict) else None
    if kind not in jobs or not isinstance(index, int) or isinstance(index, bool):
        raise ClusterError(
            'TF_CONFIG has no "task" naming this worker, as {"type": "worker", '
            f'"index": 0}}; got {task!r}'
        )
    if not 0 <= index < len(cluster.get(kind) or []):
        raise ClusterError(
            f"TF_CONFIG's task is {kind} {index}, but its cluster has "
            f"{len(cluster.get(kind) or [])} {kind} address(es)"
        )
    return config


def joined_cluster() -> bool:
    """Whether this process built a multi-worker strategy (joined a TF cluster)."""
    return "multi-worker" in _created


def _configure_heartbeats(cluster: dict) -> None:
    """Make a dead worker an error within seconds, not a hang.

    By default a worker whose peer dies before they have all connected waits
    forever. TensorFlow's coordination service can time out registration and watch
    heartbeats, but only through its (private) context API, which must be set
    before the strategy is built; where that API is missing we go on without it
    and the collective timeout still bounds a dead peer once training has started.
    """
    n_workers = len(cluster.get("worker", [])) + len(cluster.get("chief", []))
    if n_workers < 2:
        return
    try:
        from tensorflow.compiler.xla.tsl.protobuf import (
            coordination_config_pb2 as coordination,
        )
        from tensorflow.python.eager import context

        leader = "chief" if "chief" in cluster else "worker"
        jobs = [
            coordination.CoordinatedJob(name=job, num_tasks=len(cluster[job]))
            for job in ("chief", "worker")
            if cluster.get(job)
        ]
        context.context().configure_coordination_service(
            service_type="standalone",
            service_leader=f"/job:{leader}/replica:0/task:0",
            heartbeat_timeout_in_ms=HEARTBEAT_TIMEOUT_MS,
            cluster_register_timeout_in_ms=REGISTER_TIMEOUT_MS,
            coordinated_jobs=jobs,
        )
        # Without the barrier the leader still waits forever for a dead peer.
        config = context.context()._coordination_service_config
        config.cluster_register_with_barrier = True
    except (ImportError, AttributeError, ValueError, RuntimeError):
        pass


def worker_index(strategy) -> tuple[int, int]:
    """(this worker's index, the number of workers); (0, 1) without a cluster."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or resolver.task_type is None:
        return 0, 1
    spec = resolver.cluster_spec().as_dict()
    workers = len(spec.get("worker", [])) + len(spec.get("chief", []))
    index = resolver.task_id + (
        len(spec.get("chief", [])) if resolver.task_type == "worker" else 0
    )
    return int(index), max(int(workers), 1)


def strategy_sum(strategy) -> Callable[[np.ndarray], np.ndarray]:
    """A ``sum_across`` that adds a float64 array over the strategy's workers.

    Each worker contributes its array once, whatever its number of local replicas
    (every local replica holds the same array, so the replica sum is divided by
    their number).
    """
    if id(strategy) in _sums and _sums[id(strategy)][0] is strategy:
        return _sums[id(strategy)][1]
    import tensorflow as tf

    local_replicas = len(strategy.extended.worker_devices)

    # Traced (eagerly, the collective strategy warns of its overhead) once for
    # every length: arrays travel flattened.
    @tf.function(reduce_retracing=True)
    def reduce(value):
        return strategy.reduce(
            # identity: one tensor per replica (one tensor shared by all is not
            # a per-replica value, and cannot be reduced with several replicas)
            tf.distribute.ReduceOp.SUM,
            strategy.run(lambda: tf.identity(value)),
            axis=None,
        )

    def sum_across(array: np.ndarray) -> np.ndarray:
        array = np.asarray(array, np.float64)
        total = reduce(tf.constant(array.ravel()))
        return total.numpy().reshape(array.shape) / local_replicas

    _sums[id(strategy)] = (strategy, sum_across)
    return sum_across


class Across:
    """What a worker needs from the others, given the strategy: sums, maxima and
    the mini-batch plan every worker follows. Each call is one all-reduce, so
    every worker must make the same calls in the same order."""

    def __init__(self, strategy):
        self.strategy = strategy
        self.index, self.count = worker_index(strategy)
        self.sum = strategy_sum(strategy)

    def gather(self, array) -> np.ndarray:
        """Every worker's array, stacked in worker order: shape (workers, ...).

        One sum of zero arrays in which each worker fills its own slot (what an
        all-gather sends, over the all-reduce the strategy already has).
        """
        array = np.asarray(array, np.float64)
        slots = np.zeros((self.count, *array.shape))
        slots[self.index] = array
        return self.sum(slots)

    def maximum(self, value: float) -> float:
        """The largest of the workers' values."""
        return float(self.gather(value).max())

    def batches(self, n_local: int, n_all: int, batch_size: int) -> tuple[int, int]:
        """(this worker's rows per step, steps per epoch) for mini-batches of about
        ``batch_size`` rows over all workers.

        An epoch takes ⌈n_all/batch_size⌉ steps and each worker gives each step an
        equal part of its rows, so shards of different sizes end together and a
        step's batch is about ``batch_size`` rows; workers whose rows run out
        early give empty batches to the last steps.
        """
        steps = -(-n_all // batch_size)
        local = max(1, -(-n_local // steps))
        return local, round(self.maximum(-(-n_local // local)))


class ShardedBlocks:
    """The blocks of any re-iterable stream that belong to worker ``index`` of
    ``count``: every ``count``-th block, starting at ``index``.

    Each block is still produced on every worker and dropped by the others; a
    TableStream is better sharded with :func:`shard_of`, which skips the other
    workers' blocks before parsing them. Attributes of the stream (names,
    ``no_rows_error``) pass through.
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


# Whole files make a shard when no worker then reads more than this times its
# share of the bytes; otherwise blocks of rows, which balance to one block.
FILE_SHARD_IMBALANCE = 1.1


def shard_of(stream, index: int, count: int):
    """Worker ``index``'s part of a TableStream: whole files when they can be
    dealt out evenly by size (each worker then opens only its own), otherwise
    blocks of rows of all files, dealt evenly by size
    (:class:`tapereg.data.BlockDealer`), the other workers' blocks skipped
    without being parsed. Every worker must see the same files."""
    import dataclasses
    import os

    from ..io.readers import BlockDealer

    if not 0 <= index < count:
        raise ValueError(f"worker index {index} is not in 0..{count - 1}")
    if count == 1:
        return stream
    if len(stream.files) >= count:
        # The largest file first, each to the worker with the fewest bytes so far.
        sizes = [os.path.getsize(path) for path in stream.files]
        dealer = BlockDealer(index, count)
        largest_first = sorted(range(len(sizes)), key=lambda f: (-sizes[f], f))
        mine = {f for f in largest_first if dealer(sizes[f])}
        if max(dealer.loads) <= FILE_SHARD_IMBALANCE * sum(sizes) / count:
            files = tuple(p for f, p in enumerate(stream.files) if f in mine)
            return dataclasses.replace(stream, files=files)
    return dataclasses.replace(stream, shard=(index, count))


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
