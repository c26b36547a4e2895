"""The all-reduce that training is given: identity in one process.

Across workers only the sums differ: every pass adds up something over rows
(moments, a loss and its gradient, a maximum), and a reducer adds those partial
sums over the workers. Training code takes a reducer and never asks whether it
runs across workers; :class:`LocalReducer` is the one process's reducer, and
``tapereg.parallel.reducers.StrategyReducer`` the ``tf.distribute`` one. Both
have these members:

- ``index``, ``count``: this worker's index and the number of workers;
- ``lockstep``: every worker must run the same chunks of epochs (chunks then
  cannot follow a clock);
- ``sum``, ``gather``, ``maximum``, ``broadcast``: NumPy values over workers;
- ``batches``: this worker's rows per mini-batch step and the steps per epoch
  (None: one per batch);
- ``sums(fn, *args)``: inside compiled epochs, ``fn(*args)`` summed over workers
  (``fn`` returns tensors);
- ``rows(columns)``: in-memory rows placed for the full-batch epoch, or None
  for plain tensors; ``first_part(tensor)``: the first device's part of them.
"""

from __future__ import annotations

import numpy as np


class LocalReducer:
    """One process: every sum over workers is the value itself."""

    index, count = 0, 1
    lockstep = False

    def sum(self, array) -> np.ndarray:
        return np.asarray(array, np.float64)

    def gather(self, array) -> np.ndarray:
        """Every worker's array stacked: shape (1, ...)."""
        return np.asarray(array, np.float64)[None]

    def maximum(self, value: float) -> float:
        return float(value)

    def broadcast(self, array) -> np.ndarray:
        """The chief's array on every worker: this one."""
        return np.asarray(array, np.float64)

    def batches(self, n_local: int, n_all: int, batch_size: int):
        """(rows per step, steps per epoch): ``batch_size``, and None (one step per
        batch: no other worker to keep step with)."""
        return batch_size, None

    def sums(self, fn, *args):
        return fn(*args)

    def rows(self, columns):
        return None

    def first_part(self, tensor):
        return tensor

    def __repr__(self) -> str:
        return "LocalReducer()"


LOCAL = LocalReducer()
