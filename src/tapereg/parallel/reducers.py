"""The all-reduce across workers, on ``tf.distribute``: the reducer training takes.

Training code adds up its sums through a reducer (see :mod:`tapereg.core.reducer`):
in one process the identity, here the sum over every worker of a
``tf.distribute`` strategy. :func:`reducer_for` turns the estimator's ``strategy``
parameter into one. Every call is one all-reduce, so every worker must make the
same calls in the same order.
"""

from __future__ import annotations

import numpy as np

from ..core.reducer import LOCAL
from .cluster import resolve_strategy, worker_index

_reducers: dict = {}  # id(strategy) -> (strategy, its reducer): traced once


def reducer_for(strategy):
    """The reducer of the estimator's ``strategy`` parameter: the identity for None
    or "none" (no TensorFlow import), else the strategy's all-reduce."""
    if strategy is None or (isinstance(strategy, str) and strategy == "none"):
        return LOCAL
    strategy = resolve_strategy(strategy)
    known = _reducers.get(id(strategy))
    if known is None or known[0] is not strategy:
        known = _reducers[id(strategy)] = (strategy, StrategyReducer(strategy))
    return known[1]


class StrategyReducer:
    """Sums over the workers of a ``tf.distribute`` strategy.

    Each worker contributes its values once, whatever its number of local replicas
    (every local replica holds the same values, so the replica sum is divided by
    their number), except rows split over local devices (:meth:`rows`), whose
    parts each replica sums on its own device.
    """

    lockstep = True

    def __init__(self, strategy):
        import tensorflow as tf

        self.strategy = strategy
        self.index, self.count = worker_index(strategy)
        self._local_replicas = len(strategy.extended.worker_devices)

        # Traced (eagerly the collective strategy warns of its overhead) once for
        # every length: arrays travel flattened.
        @tf.function(reduce_retracing=True)
        def reduce(value):
            return self._all_reduce(value)

        self._reduce = reduce

    def __repr__(self) -> str:
        return f"StrategyReducer({type(self.strategy).__name__})"

    # -- NumPy values, between the passes of a fit ---------------------------------

    def sum(self, array) -> np.ndarray:
        import tensorflow as tf

        array = np.asarray(array, np.float64)
        return self._reduce(tf.constant(array.ravel())).numpy().reshape(array.shape)

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

    def broadcast(self, array) -> np.ndarray:
        """The chief's array on every worker: one sum in which the others add 0."""
        array = np.asarray(array, np.float64)
        return self.sum(array if self.index == 0 else np.zeros_like(array))

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

    # -- tensors, inside the compiled epochs ---------------------------------------

    def sums(self, fn, *args):
        """``fn(*args)`` (a nest of tensors) summed over the workers, packed into
        one vector for one all-reduce. Rows split over local devices are summed
        on each device (``strategy.run``), the parts with the workers'."""
        import tensorflow as tf

        if any(isinstance(a, tf.distribute.DistributedValues) for a in args):
            shapes = []

            def packed_on_replica(*replica_args):
                values = fn(*replica_args)
                shapes.append(values)
                return _packed(values)

            total = self.strategy.reduce(
                tf.distribute.ReduceOp.SUM,
                self.strategy.run(packed_on_replica, args=args),
                axis=None,
            )
            return _unpacked(total, shapes[0])
        values = fn(*args)
        return _unpacked(self._all_reduce(_packed(values)), values)

    def _all_reduce(self, vector):
        import tensorflow as tf

        total = self.strategy.reduce(
            # identity: one tensor per replica (one tensor shared by all is not a
            # per-replica value, and cannot be reduced with several replicas)
            tf.distribute.ReduceOp.SUM,
            self.strategy.run(lambda: tf.identity(vector)),
            axis=None,
        )
        return total / self._local_replicas

    def rows(self, columns):
        """Arrays split by rows over this worker's devices (the replicas of a
        ``MirroredStrategy`` on several GPUs), one part on each; None with one
        device (plain tensors then)."""
        import tensorflow as tf

        devices = self.strategy.extended.worker_devices
        if len(devices) < 2:
            return None
        parts = [np.array_split(c, len(devices)) for c in columns]

        def on_device(k, context):
            local = context.replica_id_in_sync_group % len(devices)
            with tf.device(devices[local]):
                return tf.identity(parts[k][local])

        def column(k):
            return self.strategy.experimental_distribute_values_from_function(
                lambda context: on_device(k, context)
            )

        return tuple(column(k) for k in range(len(columns)))

    def first_part(self, tensor):
        """The first device's part of rows split by :meth:`rows` (else ``tensor``)."""
        import tensorflow as tf

        if isinstance(tensor, tf.distribute.DistributedValues):
            return tensor.values[0]
        return tensor


def _packed(values):
    """A nest of tensors as one vector."""
    import tensorflow as tf

    return tf.concat([tf.reshape(v, [-1]) for v in tf.nest.flatten(values)], axis=0)


def _unpacked(vector, like):
    """:func:`_packed`'s vector back in the nest and shapes of ``like``."""
    import tensorflow as tf

    flat = tf.nest.flatten(like)
    parts = tf.split(vector, [v.shape.num_elements() for v in flat])
    return tf.nest.pack_sequence_as(
        like, [tf.reshape(p, v.shape) for p, v in zip(parts, flat, strict=True)]
    )
