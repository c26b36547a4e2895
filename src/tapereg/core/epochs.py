"""Epochs of the training step inside one compiled function, one kind per data.

:class:`EpochLoop` runs any number of epochs in a ``tf.range`` loop, so Python is
visited once per *chunk* of epochs, not once per step. There is one epoch function
per kind of data (the gram engine's moments, rows in memory, blocks streamed from a
cache, shuffled mini-batches), and each is the same locally and across workers:
the rows' sums (Σs·r² per target, its gradient, Σs) go through the reducer it was
given (identity in one process, an all-reduce across workers) before the update.
Early-stopping state and settings live in variables, so chunking does not change a
bit of the result. Nothing here prints or touches files.

Determinism: on CPU every op used here (matmul, reductions, the sequential tf.data
pipelines) gives the same bits on every run, so a fit with a seed repeats bit for
bit without ``tf.config.experimental.enable_op_determinism()`` (process-wide, and it
makes every unseeded random op in the user's program raise). Mini-batch order
depends on the fit's seed alone, never on ``tf.random.set_seed``
(see :func:`seeded_shuffle`).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import tensorflow as tf

from .losses import RowLoss
from .model import LinearModel
from .reducer import LOCAL
from .step import apply_update, compile_function, data_loss, gradients_of, gram_loss
from .step import step as gradient_step

RAN_OUT, CONVERGED, DIVERGED = 0, 1, 2
STILL_RUNNING = -1  # a checkpoint's stop reason while training goes on
# A loss this many times the first epoch's is divergence even while still finite.
DIVERGENCE_FACTOR = 1e6
# Rounding jitter of the gram engine's loss, in ε of the first loss (see _run).
GRAM_LOSS_JITTER = 16


class GramTensors(NamedTuple):
    """The gram engine's moments as tensors (the fields of ``numerics.gram.Gram``)."""

    xx: tf.Tensor
    xy: tf.Tensor
    x_mean: tf.Tensor
    y_mean: tf.Tensor
    yy: tf.Tensor


class MiniBatches(NamedTuple):
    """Rows for mini-batch training, shuffled afresh each epoch.

    The order of epoch k depends only on (seed, k), so a resumed run continues the
    uninterrupted run's order exactly.
    """

    rows: tf.data.Dataset
    batch_size: tf.Tensor
    seed: tf.Tensor
    # Rows shuffled within a window this long; None for all of them (in memory).
    window: tf.Tensor | None = None
    # Steps per epoch when every worker must make the same number (padded with
    # empty batches); None: one step per batch.
    steps: tf.Tensor | None = None


class StreamedBlocks(NamedTuple):
    """Full-batch data read a block of rows at a time (data bigger than memory).

    ``blocks`` yields ``(X, y)`` or ``(X, y, sample_weight)`` tensors; an epoch adds
    up each block's sums and then makes one update: the full-batch step exactly.
    """

    blocks: tf.data.Dataset


def data_kind(data) -> str:
    """The kind of training data: "gram", "full", "streamed" or "batches"."""
    if isinstance(data, GramTensors):
        return "gram"
    if isinstance(data, StreamedBlocks):
        return "streamed"
    return "batches" if isinstance(data, MiniBatches) else "full"


@tf.autograph.experimental.do_not_convert
def seeded_shuffle(rows: tf.data.Dataset, window, seed) -> tf.data.Dataset:
    """``rows.shuffle(window, seed=seed)``, in an order that ``seed`` alone decides.

    ``Dataset.shuffle`` pairs its seed with the graph-level seed, which a traced
    function takes from ``tf.random.set_seed`` when it is traced. So a user's
    ``tf.random.set_seed`` changed the order that a ``random_state`` gives, and only
    for loops traced after the call (traced loops are cached), and
    ``tf.random.set_seed(0)`` made tracing fail (TensorFlow compares the tensor
    seed with 0 in Python). Building the shuffle with the graph seed unset pairs
    the seed with TensorFlow's fixed default graph seed instead: the order every
    fit got without a global seed. (A loop run eagerly, under
    ``tf.config.run_functions_eagerly``, still pairs it with the global seed.)
    """
    if tf.executing_eagerly():
        return rows.shuffle(window, seed=seed)
    graph = tf.compat.v1.get_default_graph()
    saved, graph.seed = graph.seed, None
    try:
        return rows.shuffle(window, seed=seed)
    finally:
        graph.seed = saved


def _columns(batch):
    """(X, y, sample_weight) of a batch of two or three columns."""
    return batch if len(batch) == 3 else (*batch, None)


def _weight_of(X, sample_weight):
    """Σs over these rows (their number without weights)."""
    if sample_weight is None:
        return tf.cast(tf.shape(X)[0], X.dtype)
    return tf.reduce_sum(sample_weight)


class EpochLoop(tf.Module):
    """Runs epochs of the train step inside one compiled function.

    ``run(n_epochs, data)`` takes ``data`` as an argument: :class:`GramTensors` (the
    gram engine, one step an epoch), a tuple ``(X, y, sample_weight)`` of tensors
    (full batch, one step an epoch), :class:`StreamedBlocks` (full batch from
    blocks) or :class:`MiniBatches` (a step per shuffled batch). The epoch loss is
    the tape's loss: for mini-batches the weighted mean of the batches' losses. The
    settings (``tol``, ``n_iter_no_change`` and ``loss_scale``, which converts each
    target's loss to the units the caller wants recorded) and the early-stopping
    state are variables: chunked runs give the one-call result bit for bit, and one
    traced loop serves every fit of the same structure. ``reducer`` adds the rows'
    sums over workers (see :mod:`tapereg.core.reducer`).
    """

    def __init__(
        self,
        model: LinearModel,
        optimizer,
        *,
        tol: float | None,
        n_iter_no_change: int,
        loss_scale,
        penalty=None,
        jit_compile: bool = False,
        reducer=LOCAL,
        loss: RowLoss | None = None,
    ):
        super().__init__()
        dtype = model.w.dtype
        self.reducer = reducer
        # The rows' loss (None: the squared error, with its cache-blocked kernel).
        self.loss = loss
        self.model = model
        self._optimizer = optimizer
        self._penalty = penalty
        self._uses_tol = tol is not None
        self.tol = tf.Variable(
            0.0 if tol is None else tol, dtype=dtype, trainable=False
        )
        self.n_iter_no_change = tf.Variable(n_iter_no_change, dtype=tf.int32)
        self.loss_scale = tf.Variable(tf.constant(loss_scale, dtype=dtype))
        self._epsilon = float(np.finfo(dtype.as_numpy_dtype).eps)
        self._rise_tolerance = float(np.sqrt(self._epsilon))
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False)
        self.best_loss = tf.Variable(np.inf, dtype=dtype, trainable=False)
        self.first_loss = tf.Variable(np.inf, dtype=dtype, trainable=False)
        self.n_no_improvement = tf.Variable(0, dtype=tf.int32, trainable=False)
        self._jit_compile = jit_compile
        self.run = compile_function(self._run, jit_compile=jit_compile)

    def state(self) -> dict[str, tf.Variable | list]:
        """The variables a resumed fit continues from (what a checkpoint keeps)."""
        return {
            "w": self.model.w,
            "b": self.model.b,
            "epoch": self.epoch,
            "best_loss": self.best_loss,
            "first_loss": self.first_loss,
            "n_no_improvement": self.n_no_improvement,
            "slots": list(self._optimizer.slots),
        }

    def reset(self, *, tol: float | None, n_iter_no_change: int, loss_scale) -> None:
        """Start a new fit: new settings, early-stopping state back to the start."""
        if (tol is not None) != self._uses_tol:
            raise ValueError("this loop was built for the other kind of tol")
        self.tol.assign(0.0 if tol is None else tol)
        self.n_iter_no_change.assign(n_iter_no_change)
        self.loss_scale.assign(loss_scale)
        self.epoch.assign(0)
        self.best_loss.assign(np.inf)
        self.first_loss.assign(np.inf)
        self.n_no_improvement.assign(0)

    @property
    def update(self):
        """The update rule (its learning rate and slots are variables)."""
        return self._optimizer

    def next_stage(self, tol: float) -> None:
        """Start a stage of a smoothed loss (``core.train``): the early-stopping
        state back to the start, the epochs and the first loss kept."""
        self.tol.assign(tol)
        self.best_loss.assign(np.inf)
        self.n_no_improvement.assign(0)

    # -- one epoch per kind of data: (per-target objective, gradient norm) ----------

    def _epoch(self, data):
        if isinstance(data, GramTensors):
            # The moments are already every worker's: nothing to add up.
            loss = gram_loss(self.model, data)
            return gradient_step(self.model, self._optimizer, loss, self._penalty)
        if isinstance(data, MiniBatches):
            return self._minibatch_epoch(data)
        if isinstance(data, StreamedBlocks):
            sums = self.reducer.sums(self._streamed_sums, data.blocks)
        else:
            sums = self.reducer.sums(self._full_batch_sums, *data)
        return self._update_from(sums)[:2]

    def _full_batch_sums(self, X, y, sample_weight):
        """The sums over rows in memory, from the cache-blocked pass (its mean
        times the weight)."""
        if self.loss is not None:
            return self._row_sums(X, y, sample_weight)
        weight = _weight_of(X, sample_weight)
        loss = data_loss(self.model, X, y, sample_weight, blocked=not self._jit_compile)
        return self._summed_gradients(lambda: loss() * weight, weight)

    def _streamed_sums(self, blocks):
        """The sums over every block of rows, one tape per block."""
        model = self.model
        total = (
            tf.zeros_like(self.loss_scale),
            tuple(tf.zeros_like(p) for p in model.parameters),
            tf.constant(0, model.w.dtype),
        )
        for block in blocks:
            part = self._row_sums(*_columns(block))
            total = (
                total[0] + part[0],
                tuple(g + h for g, h in zip(total[1], part[1], strict=True)),
                total[2] + part[2],
            )
        return total

    def _row_sums(self, X, y, sample_weight):
        """(Σs·loss(r) per target, its gradient, Σs) over these rows, by the tape;
        the loss is r² unless the loop was given another."""
        model = self.model
        row_loss = tf.square if self.loss is None else self.loss
        weights = (
            tf.ones_like(X[:, :1]) if sample_weight is None else sample_weight[:, None]
        )
        return self._summed_gradients(
            lambda: tf.reduce_sum(weights * row_loss(model(X) - y), axis=0),
            tf.reduce_sum(weights),
        )

    def _summed_gradients(self, loss_sum, weight):
        """(per-target ``loss_sum()``, its gradient by the tape, ``weight``)."""
        model = self.model
        with tf.GradientTape() as tape:
            per_target = loss_sum()
            loss = tf.reduce_mean(per_target)  # the targets' mean, as in the step
        gradients = tape.gradient(
            loss, model.parameters, unconnected_gradients=tf.UnconnectedGradients.ZERO
        )
        return per_target, tuple(gradients), weight

    def _minibatch_epoch(self, data: MiniBatches):
        """A step per shuffled batch (``data.steps`` steps when given, the last
        ones on empty batches); the epoch's means are weighted by batch weight."""
        order = data.seed * 1_000_003 + self.epoch
        window = data.rows.cardinality() if data.window is None else data.window
        batches = seeded_shuffle(data.rows, window, order).batch(data.batch_size)
        if data.steps is not None:
            empty = tuple(
                tf.zeros([0, *spec.shape], spec.dtype)
                for spec in data.rows.element_spec
            )
            batches = batches.concatenate(
                tf.data.Dataset.from_tensors(empty).repeat()
            ).take(data.steps)
        dtype = self.model.w.dtype
        total = tf.zeros_like(self.loss_scale)
        total_norm = tf.constant(0, dtype=dtype)
        total_weight = tf.constant(0, dtype=dtype)
        for batch in batches:
            sums = self.reducer.sums(self._row_sums, *_columns(batch))
            per_target, norm, weight = self._update_from(sums)
            total += per_target * weight
            total_norm += norm * weight
            total_weight += weight
        return total / total_weight, total_norm / total_weight

    def _update_from(self, sums):
        """The update from the sums over all rows: divide by Σs, add the penalty
        (its own tape: it depends on the weights only), apply. Returns the
        objective per target, the gradient's norm and Σs."""
        loss_sum, gradient_sums, weight = sums
        per_target = loss_sum / weight
        gradients = [g / weight for g in gradient_sums]
        if self._penalty is not None:
            per_target, penalty_gradients = gradients_of(
                self.model, lambda: per_target, self._penalty
            )
            gradients = [
                g + h for g, h in zip(gradients, penalty_gradients, strict=True)
            ]
        per_target, norm = apply_update(
            self.model, self._optimizer, per_target, gradients, self._penalty
        )
        return per_target, norm, weight

    # -- the loop -----------------------------------------------------------------

    def _run(self, n_epochs, data):
        """Run up to ``n_epochs``; return losses, gradient norms, why it stopped."""
        losses = tf.TensorArray(self.loss_scale.dtype, size=0, dynamic_size=True)
        norms = tf.TensorArray(self.loss_scale.dtype, size=0, dynamic_size=True)
        reason = tf.constant(RAN_OUT)
        for i in tf.range(n_epochs):
            per_target, norm = self._epoch(data)
            loss = tf.reduce_mean(per_target)
            losses = losses.write(i, tf.reduce_mean(per_target * self.loss_scale))
            norms = norms.write(i, norm)
            if self.epoch == 0:
                self.first_loss.assign(loss)
            self.epoch.assign_add(1)
            if self._uses_tol:
                self._count_no_improvement(loss, isinstance(data, GramTensors))
            self.best_loss.assign(tf.minimum(self.best_loss, loss))
            if (
                not tf.math.is_finite(loss)
                or loss > DIVERGENCE_FACTOR * self.first_loss
            ):
                reason = tf.constant(DIVERGED)
                break
            settled = self.n_no_improvement >= self.n_iter_no_change
            if self._uses_tol:
                # A perfect fit: the residuals have fallen to tol of where they
                # began (the loss to tol²), while the loss's relative decrease may
                # never drop below tol. (At tol·first, a fit with R² > 1 − tol
                # stopped short of its optimum.)
                settled = settled or loss <= self.tol * self.tol * self.first_loss
            if settled:
                reason = tf.constant(CONVERGED)
                break
        return losses.stack(), norms.stack(), reason

    def _count_no_improvement(self, loss, gram: bool) -> None:
        """Count epochs that settled: the loss neither fell below the best by more
        than tol (relative) nor rose above it by more than √ε; a rising loss means
        a momentum method is still swinging, not that it has converged.

        The gram loss, yy − 2wᵀxy + wᵀxxw, is a difference: near a near-perfect fit
        it jitters by a few ε·yy (yy ≈ the first loss), and that jitter is neither
        an improvement nor a swing.
        """
        jitter = GRAM_LOSS_JITTER * self._epsilon * self.first_loss if gram else 0.0
        improved = loss < self.best_loss * (1 - self.tol) - jitter
        rising = loss > self.best_loss * (1 + self._rise_tolerance) + jitter
        self.n_no_improvement.assign(
            tf.where(tf.logical_or(improved, rising), 0, self.n_no_improvement + 1)
        )
