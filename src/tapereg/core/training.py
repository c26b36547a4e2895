"""The training loop: the seeds' GradientTape step, compiled once, run for many epochs.

The step is the tutorial's: the loss inside ``tf.GradientTape``, ``tape.gradient``, then
the update. :class:`EpochLoop` runs any number of epochs inside one compiled function
(a ``tf.range`` loop), so Python is visited once per *chunk* of epochs, not once per
step: the whole fit is one call when nobody needs progress, and a few calls with
progress. Early-stopping state and settings live in variables, so chunking does not
change a bit of the result, and a loop traced once is kept (by the structure of the
problem) and reused by later fits. Across workers (a ``tf.distribute`` strategy) each
update all-reduces the shards' loss and gradient sums inside the same compiled loop.
Nothing here prints or touches files.

Determinism: on CPU every op used here (matmul, reductions, the sequential tf.data
pipelines) gives the same bits on every run, so a fit with a seed repeats bit for
bit without ``tf.config.experimental.enable_op_determinism()``. That switch is not
turned on: it changed no bit of any fit, and it is process-wide (it makes every
unseeded random op in the user's program raise). Mini-batch order depends on the
fit's seed alone, never on ``tf.random.set_seed`` (see :func:`_seeded_shuffle`).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import tensorflow as tf

from ..errors import DivergenceError
from .blocked import blocked_per_target_mse
from .losses import per_target_gram_mse, per_target_mse
from .model import LinearModel
from .optimizers import Momentum, make_optimizer

RAN_OUT, CONVERGED, DIVERGED = 0, 1, 2
STILL_RUNNING = -1  # a checkpoint's stop reason while training goes on
# A loss this many times the first epoch's is divergence even while still finite.
DIVERGENCE_FACTOR = 1e6
# Mini-batches from a stream are shuffled within this many blocks of rows.
SHUFFLE_WINDOW_BLOCKS = 4
# With progress reporting, chunks grow until one takes about this long.
CHUNK_SECONDS = 0.2
# Across workers chunks cannot follow a clock (each worker's would differ).
DISTRIBUTED_CHUNK = 16


def compile_function(fn, *, jit_compile: bool = False):
    """The one place that decides how training code is compiled (graph, or XLA).

    ``reduce_retracing`` lets a second data size relax the traced shapes instead of
    tracing once per number of rows.
    """
    return tf.function(fn, jit_compile=jit_compile, reduce_retracing=True)


@dataclass(frozen=True)
class Penalty:
    """Elastic-net penalty on the weights, per coefficient, in the training units.

    Target k's objective is ``mse_k + Σ_j l2_jk·w_jk² + Σ_j l1_jk·|w_jk|``. The L2 part
    is differentiated by the tape; the L1 part is applied by the proximal step
    ``w ← sign(w)·max(|w| − threshold, 0)`` after the update, which is what makes
    coefficients exactly zero. ``threshold`` = learning rate · l1 / n_targets.
    """

    l2: tf.Tensor | None
    l1: tf.Tensor | None
    threshold: tf.Tensor | None


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
    # Across workers, every worker makes this many steps an epoch (each with its
    # own ``batch_size`` of rows, padded with empty batches); None: one process.
    steps: tf.Tensor | None = None


class StreamedBlocks(NamedTuple):
    """Full-batch data read a block of rows at a time (data bigger than memory).

    ``blocks`` yields ``(X, y)`` or ``(X, y, sample_weight)`` tensors; an epoch adds
    up each block's gradient, weighted by its share of ``total_weight`` (Σs, or the
    number of rows), and then makes one update: the full-batch step exactly.
    """

    blocks: tf.data.Dataset
    total_weight: tf.Tensor


# Rounding jitter of the gram engine's loss, in ε of the first loss (see _run).
GRAM_LOSS_JITTER = 16


class GramTensors(NamedTuple):
    """The gram engine's statistics as tensors (the fields of ``GramStatistics``)."""

    xx: tf.Tensor
    xy: tf.Tensor
    x_mean: tf.Tensor
    y_mean: tf.Tensor
    yy: tf.Tensor


def train_step(model: LinearModel, optimizer, X, y, sample_weight=None, penalty=None):
    """One gradient step as the seeds write it; returns the per-target loss of the tape.

    The loss is computed before the update, so it is the loss of the weights the step
    started from (what the tutorial prints as epoch k). With a penalty the per-target
    loss is the whole objective, penalty included.
    """
    return _step(model, optimizer, _data_loss(model, X, y, sample_weight), penalty)[0]


def _data_loss(model, X, y, sample_weight, *, blocked=False):
    """The per-target MSE of the model on the rows; ``blocked``: in one cache-blocked
    pass over X that also makes the gradient (the full-batch epochs' loss, 2-3x
    faster for narrow X; not under XLA, see :mod:`tapereg.blocked`)."""
    if blocked:
        return lambda: blocked_per_target_mse(X, y, model.w, model.b, sample_weight)
    return lambda: per_target_mse(y, model(X), sample_weight)


def _gram_loss(model, statistics):
    return lambda: per_target_gram_mse(statistics, model.w, model.b)


def _step(model: LinearModel, optimizer, per_target_loss, penalty):
    """Loss in the tape, ``tape.gradient``, the update, then the L1 proximal step.

    Returns the per-target loss and the gradient's norm (for the training logs).
    """
    per_target, gradients = _gradients(model, per_target_loss, penalty)
    return _apply(model, optimizer, per_target, gradients, penalty)


def _gradients(model: LinearModel, per_target_loss, penalty):
    """The per-target loss (L2 penalty included) and its gradient, by the tape."""
    with tf.GradientTape() as tape:
        per_target = per_target_loss()
        if penalty is not None and penalty.l2 is not None:
            per_target += tf.reduce_sum(penalty.l2 * tf.square(model.w), axis=0)
        loss = tf.reduce_mean(per_target)
    gradients = tape.gradient(
        loss, model.parameters, unconnected_gradients=tf.UnconnectedGradients.ZERO
    )
    return per_target, gradients


def _apply(model: LinearModel, optimizer, per_target, gradients, penalty):
    """The update and the L1 proximal step; the objective and the gradient norm."""
    if penalty is not None and penalty.l1 is not None:
        per_target += tf.reduce_sum(penalty.l1 * tf.abs(model.w), axis=0)
    optimizer.apply(gradients, model.parameters)
    if penalty is not None and penalty.l1 is not None:
        w = model.w
        w.assign(tf.sign(w) * tf.maximum(tf.abs(w) - penalty.threshold, 0))
    return per_target, tf.linalg.global_norm(gradients)


def make_train_step(
    model: LinearModel,
    optimizer="gd",
    learning_rate: float = 0.01,
    *,
    momentum: float = 0.9,
    nesterov: bool = False,
    compiled: bool = True,
    jit_compile: bool = False,
):
    """Return ``step(X, y, sample_weight=None) -> loss``, one full-batch update.

    Parameters
    ----------
    model : LinearModel
    optimizer : {"gd", "momentum", "adam"} or an object with ``build`` and ``apply``
        ``"gd"`` is the seeds' ``assign_sub(learning_rate * grad)``.
    learning_rate : float
    momentum, nesterov : used by ``"momentum"``.
    compiled : bool, default=True
        Wrap the step in ``tf.function`` (traced once); ``False`` runs it eagerly.
    jit_compile : bool, default=False
        Compile the step with XLA.

    Returns
    -------
    callable
        ``X`` of shape (n_samples, n_features), ``y`` of shape (n_samples,) or
        (n_samples, n_targets); returns the scalar loss computed in the tape.

    Examples
    --------
    >>> model = LinearModel(n_features=1)
    >>> step = make_train_step(model, "gd", learning_rate=0.01)
    >>> loss = step(tf.constant([[1.0], [2.0]]), tf.constant([2.0, 4.0]))
    """
    update = (
        make_optimizer(optimizer, learning_rate, momentum=momentum, nesterov=nesterov)
        if isinstance(optimizer, str)
        else optimizer
    )
    update.build(model.parameters)
    dtype = model.w.dtype

    def step(X, y, sample_weight=None):
        X = tf.cast(X, dtype)
        y = tf.cast(y, dtype)
        if y.shape.rank == 1:
            y = y[:, None]
        if sample_weight is not None:
            sample_weight = tf.cast(sample_weight, dtype)
        return tf.reduce_mean(train_step(model, update, X, y, sample_weight))

    return compile_function(step, jit_compile=jit_compile) if compiled else step


@tf.autograph.experimental.do_not_convert
def _seeded_shuffle(rows: tf.data.Dataset, window, seed) -> tf.data.Dataset:
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


class EpochLoop(tf.Module):
    """Runs epochs of the train step inside one compiled function.

    ``run(n_epochs, data)`` takes ``data`` as an argument: :class:`GramTensors` (the
    gram engine, one step an epoch), a tuple ``(X, y, sample_weight)`` of tensors (full
    batch, one step an epoch) or :class:`MiniBatches` (a step per shuffled batch).
    The epoch loss is the tape's loss: for mini-batches the weighted mean of the
    batches' losses. The settings (``tol``, ``n_iter_no_change`` and ``loss_scale``,
    which converts each target's loss to the units the caller wants recorded) and the
    early-stopping state are variables: chunked runs give the one-call result bit for
    bit, and one traced loop serves every fit of the same structure.
    """

    def __init__(
        self,
        model: LinearModel,
        optimizer,
        *,
        tol: float | None,
        n_iter_no_change: int,
        loss_scale,
        penalty: Penalty | None = None,
        jit_compile: bool = False,
        strategy=None,
    ):
        super().__init__()
        dtype = model.w.dtype
        self._strategy = strategy
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

    @property
    def distributed(self) -> bool:
        return self._strategy is not None

    def state(self) -> list[tf.Variable]:
        """The variables a resumed fit continues from (as in a checkpoint)."""
        return [
            self.model.w,
            self.model.b,
            self.epoch,
            self.best_loss,
            self.first_loss,
            self.n_no_improvement,
            *self._optimizer.slots,
        ]

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

    def _epoch(self, data):
        """One epoch: the per-target loss computed in the tape and the gradient norm.

        For mini-batches both are means over the batches, weighted by batch weight.
        """
        if self._strategy is not None:
            return self._distributed_epoch(data)
        if isinstance(data, GramTensors):
            loss = _gram_loss(self.model, data)
            return _step(self.model, self._optimizer, loss, self._penalty)
        if isinstance(data, MiniBatches):
            return self._minibatch_epoch(data)
        if isinstance(data, StreamedBlocks):
            return self._streamed_epoch(data)
        loss = _data_loss(self.model, *data, blocked=not self._jit_compile)
        return _step(self.model, self._optimizer, loss, self._penalty)

    def _streamed_epoch(self, data: StreamedBlocks):
        """One full-batch step, its gradient summed block by block (one tape each)."""
        model = self.model
        dtype = model.w.dtype
        per_target = tf.zeros_like(self.loss_scale)
        gradients = tuple(tf.zeros_like(p) for p in model.parameters)
        for block in data.blocks:
            X, y, sample_weight = block if len(block) == 3 else (*block, None)
            if sample_weight is None:
                weight = tf.cast(tf.shape(X)[0], dtype)
            else:
                weight = tf.reduce_sum(sample_weight)
            share = weight / data.total_weight
            part, block_gradients = _gradients(
                model,
                lambda X=X, y=y, s=sample_weight, share=share: (
                    per_target_mse(y, model(X), s) * share
                ),
                None,
            )
            per_target += part
            gradients = tuple(
                g + h for g, h in zip(gradients, block_gradients, strict=True)
            )
        # The penalty depends on the weights only: its own tape, added once.
        per_target, penalty_gradients = _gradients(
            model, lambda: per_target, self._penalty
        )
        gradients = [g + h for g, h in zip(gradients, penalty_gradients, strict=True)]
        return _apply(model, self._optimizer, per_target, gradients, self._penalty)

    def _minibatch_epoch(self, data: MiniBatches):
        """A step per shuffled batch; the means are weighted by batch weight."""
        order = data.seed * 1_000_003 + self.epoch
        window = data.rows.cardinality() if data.window is None else data.window
        batches = _seeded_shuffle(data.rows, window, order).batch(data.batch_size)
        dtype = self.model.w.dtype
        total = tf.zeros_like(self.loss_scale)
        total_norm = tf.constant(0, dtype=dtype)
        total_weight = tf.constant(0, dtype=dtype)
        for batch in batches:
            X, y, sample_weight = batch if len(batch) == 3 else (*batch, None)
            per_target, norm = _step(
                self.model,
                self._optimizer,
                _data_loss(self.model, X, y, sample_weight),
                self._penalty,
            )
            if sample_weight is None:
                batch_weight = tf.cast(tf.shape(X)[0], dtype)
            else:
                batch_weight = tf.reduce_sum(sample_weight)
            total += per_target * batch_weight
            total_norm += norm * batch_weight
            total_weight += batch_weight
        return total / total_weight, total_norm / total_weight

    # Across workers (a strategy): each worker's tape gives the sums over its own
    # rows, Σs·r² per target, their gradient and Σs; one all-reduce of the three,
    # packed in one vector, gives every worker the sums over all rows, and the same
    # update. (Sums, not means: a worker's share may be an empty batch.)

    def _distributed_epoch(self, data):
        """One epoch across workers: the full-batch step from the sums of every
        shard (streamed block by block, or in memory), or ``data.steps`` steps."""
        if isinstance(data, MiniBatches):
            return self._distributed_minibatch_epoch(data)
        if isinstance(data, StreamedBlocks):
            sums = self._zero_sums()
            for block in data.blocks:
                X, y, sample_weight = block if len(block) == 3 else (*block, None)
                sums = _added(sums, self._local_sums(X, y, sample_weight))
        else:
            X, y, sample_weight = data
            if isinstance(X, tf.distribute.DistributedValues):
                # Rows split over this worker's devices (replica_rows): each
                # replica's sums are packed where they are made, and one reduce
                # adds the parts of every replica on every worker.
                packed = self._strategy.reduce(
                    tf.distribute.ReduceOp.SUM,
                    self._strategy.run(
                        lambda X, y, s: _packed(self._full_batch_sums(X, y, s)),
                        args=(X, y, sample_weight),
                    ),
                    axis=None,
                )
                return self._update_from(packed)[:2]
            sums = self._full_batch_sums(X, y, sample_weight)
        return self._joint_step(sums)[:2]

    def _full_batch_sums(self, X, y, sample_weight):
        """The sums over in-memory rows, in the cache-blocked pass (its mean
        times the weight)."""
        weight = _weight_of(X, sample_weight)
        return _summed_gradients(
            self.model,
            lambda: (
                _data_loss(
                    self.model, X, y, sample_weight, blocked=not self._jit_compile
                )()
                * weight
            ),
            weight,
        )

    def _distributed_minibatch_epoch(self, data: MiniBatches):
        """``data.steps`` steps on every worker; each joins the workers' batches."""
        order = data.seed * 1_000_003 + self.epoch
        window = data.rows.cardinality() if data.window is None else data.window
        empty = tuple(
            tf.zeros([0, *spec.shape], spec.dtype) for spec in data.rows.element_spec
        )
        batches = iter(
            _seeded_shuffle(data.rows, window, order)
            .batch(data.batch_size)
            .concatenate(tf.data.Dataset.from_tensors(empty).repeat())
        )
        dtype = self.model.w.dtype
        total = tf.zeros_like(self.loss_scale)
        total_norm = tf.constant(0, dtype=dtype)
        total_weight = tf.constant(0, dtype=dtype)
        for _ in tf.range(data.steps):
            batch = next(batches)
            X, y, sample_weight = batch if len(batch) == 3 else (*batch, None)
            sums = self._local_sums(X, y, sample_weight)
            per_target, norm, weight = self._joint_step(sums)
            total += per_target * weight
            total_norm += norm * weight
            total_weight += weight
        return total / total_weight, total_norm / total_weight

    def _zero_sums(self):
        zeros = tf.zeros_like(self.loss_scale)
        return (
            zeros,
            tuple(tf.zeros_like(p) for p in self.model.parameters),
            tf.constant(0, self.model.w.dtype),
        )

    def _local_sums(self, X, y, sample_weight):
        """(Σs·r² per target, its gradient, Σs) over these rows, by the tape."""
        model = self.model
        if sample_weight is None:
            weights = tf.ones_like(X[:, :1])
        else:
            weights = sample_weight[:, None]
        return _summed_gradients(
            model,
            lambda: tf.reduce_sum(weights * tf.square(model(X) - y), axis=0),
            tf.reduce_sum(weights),
        )

    def _joint_step(self, sums):
        """Add ``sums`` over the workers, divide by the total weight, then the
        penalty (the same on every worker, its own tape) and the update; returns
        the objective per target, the gradient's norm and the total weight."""
        return self._update_from(self._sum_across(_packed(sums)))

    def _update_from(self, packed):
        """The update from the sums over all rows, packed as :func:`_packed`."""
        model = self.model
        sizes = [tf.size(self.loss_scale)] + [tf.size(p) for p in model.parameters]
        parts = tf.split(packed, [*sizes, 1])
        weight = parts[-1][0]
        per_target = parts[0] / weight
        gradients = [
            tf.reshape(g, tf.shape(p)) / weight
            for g, p in zip(parts[1:-1], model.parameters, strict=True)
        ]
        per_target, penalty_gradients = _gradients(
            model, lambda: per_target, self._penalty
        )
        gradients = [g + h for g, h in zip(gradients, penalty_gradients, strict=True)]
        per_target, norm = _apply(
            model, self._optimizer, per_target, gradients, self._penalty
        )
        return per_target, norm, weight

    def _sum_across(self, values):
        """The sum of ``values`` over the workers: one all-reduce (each worker's
        local replicas hold the same values, so their sum is divided by their
        number)."""
        strategy = self._strategy
        total = strategy.reduce(
            tf.distribute.ReduceOp.SUM,
            strategy.run(lambda: tf.identity(values)),
            axis=None,
        )
        return total / len(strategy.extended.worker_devices)

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
                # Settled: the loss neither fell below the best by more than tol
                # (relative) nor rose above it by more than √ε; a rising loss means a
                # momentum method is still swinging, not that it has converged.
                # The gram loss, yy − 2wᵀxy + wᵀxxw, is a difference: near a
                # near-perfect fit it jitters by a few ε·yy (yy ≈ the first loss),
                # and that jitter is neither an improvement nor a swing.
                jitter = 0.0
                if isinstance(data, GramTensors):
                    jitter = GRAM_LOSS_JITTER * self._epsilon * self.first_loss
                improved = loss < self.best_loss * (1 - self.tol) - jitter
                rising = loss > self.best_loss * (1 + self._rise_tolerance) + jitter
                self.n_no_improvement.assign(
                    tf.where(improved or rising, 0, self.n_no_improvement + 1)
                )
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


def _weight_of(X, sample_weight):
    if sample_weight is None:
        return tf.cast(tf.shape(X)[0], X.dtype)
    return tf.reduce_sum(sample_weight)


def _summed_gradients(model, loss_sum, weight):
    """(per-target ``loss_sum()``, its gradient by the tape, ``weight``)."""
    with tf.GradientTape() as tape:
        per_target = loss_sum()
        loss = tf.reduce_mean(per_target)  # as in _gradients: the targets' mean
    gradients = tape.gradient(
        loss, model.parameters, unconnected_gradients=tf.UnconnectedGradients.ZERO
    )
    return per_target, tuple(gradients), weight


def _packed(sums):
    """(per-target sums, gradients, weight) as one vector: one all-reduce."""
    per_target, gradients, weight = sums
    return tf.concat(
        [tf.reshape(per_target, [-1])]
        + [tf.reshape(g, [-1]) for g in gradients]
        + [tf.reshape(weight, [1])],
        axis=0,
    )


def _added(a, b):
    return (
        a[0] + b[0],
        tuple(x + y for x, y in zip(a[1], b[1], strict=True)),
        a[2] + b[2],
    )


@dataclass(frozen=True)
class EpochChunk:
    """What a training callback receives after each chunk of epochs.

    Attributes
    ----------
    first : int
        The epoch number of ``losses[0]``.
    losses, gradient_norms : ndarray of shape (n_epochs_in_chunk,)
        The tape's loss (recorded units) and the gradient's norm at each epoch.
    learning_rate : float
    """

    first: int
    losses: np.ndarray
    gradient_norms: np.ndarray
    learning_rate: float


@dataclass(frozen=True)
class FitResult:
    """What gradient descent produced, in the units it trained in.

    Attributes
    ----------
    coef : ndarray of shape (n_features, n_targets)
    intercept : ndarray of shape (n_targets,)
    loss_history : ndarray of shape (n_iter,)
        The tape's loss at each epoch, before that epoch's update.
    n_iter : int
    converged : bool
        True when ``tol`` stopped training before ``max_iter``.
    learning_rate : float
    """

    coef: np.ndarray
    intercept: np.ndarray
    loss_history: np.ndarray
    n_iter: int
    converged: bool
    learning_rate: float


def fit_gradient_descent(
    X: np.ndarray,
    y: np.ndarray,
    sample_weight: np.ndarray | None = None,
    *,
    learning_rate: float,
    batch_size: int | None = None,
    seed: int = 0,
    steps: int | None = None,
    **options,
) -> FitResult:
    """Train a :class:`LinearModel` on arrays with the GradientTape loop (data engine).

    ``X`` (n_samples, n_features) and ``y`` (n_samples, n_targets) must already have the
    training dtype; they are used as given (no standardization here). Every epoch
    streams them through the tape: one step on the full batch, or one per shuffled
    mini-batch of ``batch_size`` (seeded by ``seed``). Across workers (a
    ``strategy`` in ``options``) mini-batches take ``steps`` steps an epoch, each
    with this worker's ``batch_size`` rows. ``options`` are those of :func:`_train`.

    Raises
    ------
    DivergenceError
        When the loss becomes non-finite or grows by ``DIVERGENCE_FACTOR``.
    """
    n_samples = X.shape[0]
    columns = (X, y) if sample_weight is None else (X, y, sample_weight)
    if steps is None and (batch_size is None or batch_size >= n_samples):
        strategy = options.get("strategy")
        if strategy is not None and len(strategy.extended.worker_devices) > 1:
            data = replica_rows(strategy, columns)
        else:
            data = tuple(_shared_tensor(c) for c in columns)
        if sample_weight is None:
            data = (*data, None)
    else:
        data = MiniBatches(
            tf.data.Dataset.from_tensor_slices(columns),
            tf.constant(batch_size, tf.int64),
            tf.constant(seed, tf.int64),
            steps=None if steps is None else tf.constant(steps, tf.int64),
        )
    return _train(data, X.shape[1], y.shape[1], X.dtype, learning_rate, **options)


def replica_rows(strategy, columns) -> tuple:
    """Arrays split by rows over this worker's devices (the replicas of a
    ``MirroredStrategy`` on several GPUs), one part on each: full-batch epochs
    then compute each part's sums on its own device.
    """
    devices = strategy.extended.worker_devices
    parts = [np.array_split(c, len(devices)) for c in columns]

    def on_device(k, context):
        local = context.replica_id_in_sync_group % len(devices)
        with tf.device(devices[local]):
            return tf.identity(parts[k][local])

    def column(k):
        return strategy.experimental_distribute_values_from_function(
            lambda context: on_device(k, context)
        )

    return tuple(column(k) for k in range(len(columns)))


def _shared_tensor(array: np.ndarray) -> tf.Tensor:
    """The array as a tensor, sharing its memory when it is aligned (DLPack).

    ``tf.convert_to_tensor`` copies a large array, briefly twice; training data is
    the largest thing a fit holds, so it is handed over without a copy whenever
    TensorFlow can take it (C-contiguous, aligned: see ``preprocessing.aligned``).
    """
    from ..numerics.preprocessing import TENSOR_ALIGNMENT

    if (
        array.flags.c_contiguous
        and array.ctypes.data % TENSOR_ALIGNMENT == 0
        and array.dtype in (np.float32, np.float64)
        and array.size
    ):
        return tf.experimental.dlpack.from_dlpack(array.__dlpack__())
    return tf.convert_to_tensor(array)


def fit_gradient_descent_blocks(
    cache,
    n_features: int,
    n_targets: int,
    *,
    weighted: bool,
    total_weight: float,
    learning_rate: float,
    batch_size: int | None = None,
    seed: int = 0,
    steps: int | None = None,
    **options,
) -> FitResult:
    """The data engine on rows streamed from a :class:`~tapereg.streaming.RowCache`.

    Full batch: each epoch sums the blocks' gradients (:class:`StreamedBlocks`), the
    same step as on the whole array. Mini-batches: the rows of each epoch are
    shuffled within a window of ``SHUFFLE_WINDOW_BLOCKS`` blocks (seeded by
    ``seed`` and the epoch) and batched, as tf.data shuffles data it cannot hold.
    ``steps``: as for :func:`fit_gradient_descent`. ``options`` are those of
    :func:`_train`.
    """
    d, t = n_features, n_targets

    def split(rows):
        columns = (rows[:, :d], rows[:, d : d + t])
        return (*columns, rows[:, d + t]) if weighted else columns

    blocks = cache.blocks(split)
    dtype = cache.dtype
    if steps is None and (batch_size is None or batch_size >= cache.n_rows):
        data = StreamedBlocks(blocks, tf.constant(total_weight, dtype))
    else:
        data = MiniBatches(
            blocks.unbatch(),
            tf.constant(batch_size, tf.int64),
            tf.constant(seed, tf.int64),
            tf.constant(SHUFFLE_WINDOW_BLOCKS * cache.block_rows, tf.int64),
            None if steps is None else tf.constant(steps, tf.int64),
        )
    return _train(data, d, t, dtype, learning_rate, **options)


def fit_gradient_descent_gram(
    statistics, *, learning_rate: float, dtype="float64", **options
) -> FitResult:
    """Train with the same GradientTape step on the loss written through ``statistics``.

    ``statistics`` is a :class:`~tapereg.gram.GramStatistics`; each epoch costs O(d²)
    whatever the number of rows, and its loss equals the data engine's.
    ``options`` are those of :func:`_train`.
    """
    dtype = np.dtype(dtype)
    data = GramTensors(
        *(
            tf.constant(getattr(statistics, field), dtype=dtype)
            for field in GramTensors._fields
        )
    )
    n_features, n_targets = statistics.xy.shape
    return _train(data, n_features, n_targets, dtype, learning_rate, **options)


@dataclass
class _CompiledFit:
    """A model, its update, its penalty and its traced loop, reusable across fits."""

    model: LinearModel
    update: object
    penalty: Penalty | None
    loop: EpochLoop


# Traced loops by structure; an entry is taken out while a fit uses it, so two fits
# running at once never share variables.
_COMPILED: OrderedDict[_Structure, _CompiledFit] = OrderedDict()
_COMPILED_LOCK = threading.Lock()
_COMPILED_MAX = 8


class _Structure(NamedTuple):
    """What a traced loop depends on; fits that share it share the loop."""

    data_kind: str  # "gram", "full", "streamed" or "batches"
    dtype: str
    n_features: int
    n_targets: int
    fit_intercept: bool
    optimizer: str
    nesterov: bool
    has_l1: bool
    has_l2: bool
    uses_tol: bool
    jit_compile: bool
    strategy: object = None  # a loop that all-reduces works for its strategy only


def _data_kind(data) -> str:
    if isinstance(data, GramTensors):
        return "gram"
    if isinstance(data, StreamedBlocks):
        return "streamed"
    return "batches" if isinstance(data, MiniBatches) else "full"


def _build_compiled(structure: _Structure) -> _CompiledFit:
    """Create the variables and the loop for one structure (traced on first run)."""
    dtype = tf.as_dtype(structure.dtype)
    n_features, n_targets = structure.n_features, structure.n_targets
    model = LinearModel(
        n_features, n_targets, fit_intercept=structure.fit_intercept, dtype=dtype
    )
    update = make_optimizer(
        structure.optimizer,
        tf.Variable(0.0, dtype=dtype, trainable=False),
        momentum=tf.Variable(0.0, dtype=dtype, trainable=False),
        nesterov=structure.nesterov,
    )
    update.build(model.parameters)
    penalty = None
    if structure.has_l1 or structure.has_l2:

        def slot():
            return tf.Variable(
                tf.zeros([n_features, n_targets], dtype), trainable=False
            )

        penalty = Penalty(
            l2=slot() if structure.has_l2 else None,
            l1=slot() if structure.has_l1 else None,
            threshold=slot() if structure.has_l1 else None,
        )
    loop = EpochLoop(
        model,
        update,
        penalty=penalty,
        tol=0.0 if structure.uses_tol else None,
        n_iter_no_change=1,
        loss_scale=np.ones(n_targets),
        jit_compile=structure.jit_compile,
        strategy=structure.strategy,
    )
    return _CompiledFit(model, update, penalty, loop)


def _train(
    data,
    n_features: int,
    n_targets: int,
    dtype,
    learning_rate: float,
    *,
    fit_intercept: bool = True,
    optimizer: str = "gd",
    momentum: float = 0.9,
    nesterov: bool = False,
    max_iter: int = 1000,
    tol: float | None = None,
    n_iter_no_change: int = 5,
    loss_scale: np.ndarray | None = None,
    l1: np.ndarray | None = None,
    l2: np.ndarray | None = None,
    initial_coef: np.ndarray | None = None,
    initial_intercept: np.ndarray | None = None,
    callback=None,
    jit_compile: bool = False,
    checkpoint=None,
    strategy=None,
) -> FitResult:
    """Set up the model, the update and the loop for ``data``, then run the epochs.

    A loop already traced for the same structure (kind of data, sizes, dtype,
    optimizer, penalty terms) is reused with its variables reset, so repeated fits
    skip tracing. ``l1`` and ``l2`` (n_features, n_targets) are the elastic-net
    weights of :class:`Penalty`. ``callback(chunk)`` receives each
    :class:`EpochChunk` as soon as it ends; without one, all epochs run in one call.
    With a ``strategy`` (a ``tf.distribute.Strategy``) ``data`` is this worker's
    shard and every step all-reduces the workers' sums (see ``EpochLoop``).
    """
    dtype = tf.as_dtype(dtype)
    structure = _Structure(
        _data_kind(data),
        dtype.name,
        n_features,
        n_targets,
        fit_intercept,
        optimizer,
        bool(nesterov),
        l1 is not None,
        l2 is not None,
        tol is not None,
        jit_compile,
        strategy,
    )
    with _COMPILED_LOCK:
        compiled = _COMPILED.pop(structure, None)
    if compiled is None:
        compiled = _build_compiled(structure)
    model, update, penalty, loop = (
        compiled.model,
        compiled.update,
        compiled.penalty,
        compiled.loop,
    )
    np_dtype = dtype.as_numpy_dtype
    model.w.assign(
        np.zeros((n_features, n_targets), np_dtype)
        if initial_coef is None
        else np.asarray(initial_coef, np_dtype).reshape(n_features, n_targets)
    )
    model.b.assign(
        np.zeros(n_targets, np_dtype)
        if initial_intercept is None
        else np.asarray(initial_intercept, np_dtype).reshape(n_targets)
    )
    update.reset()
    update.learning_rate.assign(learning_rate)
    if isinstance(update, Momentum):
        update.momentum.assign(momentum)
    if penalty is not None:
        if penalty.l2 is not None:
            penalty.l2.assign(l2)
        if penalty.l1 is not None:
            penalty.l1.assign(l1)
            penalty.threshold.assign(learning_rate * np.asarray(l1) / n_targets)
    loop.reset(
        tol=tol,
        n_iter_no_change=n_iter_no_change,
        loss_scale=np.ones(n_targets) if loss_scale is None else loss_scale,
    )
    saver = None
    if checkpoint is not None:
        from ..runtime.checkpoints import TrainingCheckpoint, fingerprint

        problem = fingerprint(
            # The strategy's repr holds an address; its kind is what matters.
            structure._replace(strategy=type(strategy).__name__),
            learning_rate,
            momentum,
            tol,
            n_iter_no_change,
            l1,
            l2,
            initial_coef,
            initial_intercept,
            *_data_digest(data),
        )
        saver = TrainingCheckpoint(checkpoint, loop, update, problem)
    try:
        return _run_epochs(
            loop, data, max_iter, learning_rate, callback, saver, strategy=strategy
        )
    finally:
        with _COMPILED_LOCK:
            _COMPILED[structure] = compiled
            while len(_COMPILED) > _COMPILED_MAX:
                _COMPILED.popitem(last=False)


def _start_from_chiefs_state(loop: EpochLoop, strategy, done: int, reason: int):
    """Give every worker the chief's state: one all-reduce in which the others
    add zeros. Returns (the chief's epochs so far, its stop reason)."""
    from ..parallel.distributed import strategy_sum, worker_index

    chief = worker_index(strategy)[0] == 0
    state = loop.state()
    vector = np.concatenate(
        [[done, reason]] + [np.ravel(v.numpy()).astype(np.float64) for v in state]
    )
    vector = strategy_sum(strategy)(vector if chief else np.zeros_like(vector))
    offset = 2
    for variable in state:
        size = int(np.prod(variable.shape))
        value = vector[offset : offset + size].reshape(variable.shape)
        variable.assign(value.astype(variable.dtype.as_numpy_dtype))
        offset += size
    return round(float(vector[0])), round(float(vector[1]))


def _data_digest(data) -> tuple:
    """A cheap digest of the training data, for checkpoint fingerprints."""
    if isinstance(data, GramTensors):
        return tuple(t.numpy() for t in data)
    if isinstance(data, MiniBatches):
        first = next(iter(data.rows.batch(4096)))
        return (*(t.numpy() for t in first), int(data.batch_size), int(data.seed))
    if isinstance(data, StreamedBlocks):
        first = next(iter(data.blocks))
        return (*(t[:4096].numpy() for t in first), float(data.total_weight))
    local = [
        t
        if t is None or not isinstance(t, tf.distribute.DistributedValues)
        else t.values[0]  # replica_rows: the first device's part
        for t in data
    ]
    return tuple(
        None if t is None else (tuple(t.shape), t[:4096].numpy()) for t in local
    )


def _run_epochs(
    loop: EpochLoop, data, max_iter, learning_rate, callback, saver=None, strategy=None
) -> FitResult:
    """Call the compiled loop in chunks (one chunk without a callback or checkpoints).

    With a checkpoint ``saver`` chunks stay within its interval; a resumed run starts
    from the restored epoch, and one that had already stopped returns at once.
    Across workers every worker must make the same all-reduces in the same order:
    all start from the chief's state (restored or not) and run the same chunks,
    1, 2, 4, … up to ``DISTRIBUTED_CHUNK`` epochs, whatever their callbacks.
    """
    history: list[np.ndarray] = []
    done, chunk, reason = 0, (max_iter if callback is None else 1), RAN_OUT
    if saver is not None:
        chunk = min(chunk, saver.plan.every_epochs)
        restored = saver.restore() if saver.plan.resume else None
        if restored is not None:
            losses, stopped = restored
            history, done = [losses], len(losses)
            if stopped == CONVERGED:  # running out of epochs is resumable, this not
                done, reason = max_iter, stopped
    if loop.distributed:
        chunk = 1
        restored_epochs, stopped = _start_from_chiefs_state(
            loop, strategy, done, reason
        )
        if restored_epochs != done:  # not the chief: its losses stay with it
            history = [np.full(restored_epochs, np.nan)]
        done = restored_epochs
        if stopped == CONVERGED:
            done, reason = max_iter, stopped
    while done < max_iter:
        n = min(chunk, max_iter - done)
        started = time.perf_counter()
        losses, norms, reason = loop.run(tf.constant(n, dtype=tf.int32), data)
        losses, reason = losses.numpy(), int(reason)
        if callback is not None:
            callback(EpochChunk(done, losses, norms.numpy(), float(learning_rate)))
        if loop.distributed:
            chunk = min(2 * chunk, DISTRIBUTED_CHUNK)
        elif callback is not None and time.perf_counter() - started < CHUNK_SECONDS:
            chunk *= 2
        history.append(losses)
        done += len(losses)
        if saver is not None and reason != DIVERGED:
            finished = reason == CONVERGED or done >= max_iter
            if finished or saver.due(done):
                saver.save(
                    np.concatenate(history), reason if finished else STILL_RUNNING
                )
        if reason == DIVERGED:
            raise DivergenceError(
                f"loss became {losses[-1]:.4g} at epoch {done - 1} "
                f"(learning_rate={learning_rate:.4g}); lower learning_rate or "
                "standardize the features"
            )
        if reason == CONVERGED:
            break
    losses = np.concatenate(history) if history else np.empty(0)
    return FitResult(
        coef=loop.model.w.numpy(),
        intercept=loop.model.b.numpy(),
        loss_history=losses,
        n_iter=len(losses),
        converged=reason == CONVERGED,
        learning_rate=float(learning_rate),
    )
