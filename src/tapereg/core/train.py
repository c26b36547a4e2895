"""Training runs: set up the model, its update and a traced loop, run the epochs.

:func:`train` is the one entry for every kind of data; :func:`fit_gradient_descent`
(arrays), :func:`fit_gradient_descent_blocks` (a row cache) and
:func:`fit_gradient_descent_gram` (the moments) wrap their data for it. A loop
traced for one structure (kind of data, sizes, dtype, optimizer, penalty terms,
reducer) is kept and reused, its variables reset, so repeated fits skip tracing.
Checkpoints, progress and the reducer are passed in; nothing here knows about
files, clusters or the command line.
"""

from __future__ import annotations

import dataclasses
import hashlib
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import tensorflow as tf

from ..errors import DivergenceError
from ..numerics.arrays import TENSOR_ALIGNMENT
from .epochs import (
    CONVERGED,
    DIVERGED,
    RAN_OUT,
    STILL_RUNNING,
    EpochLoop,
    GramTensors,
    MiniBatches,
    StreamedBlocks,
    data_kind,
)
from .losses import RowLoss
from .model import LinearModel
from .optimizers import Momentum, make_optimizer
from .reducer import LOCAL
from .step import Penalty

# Mini-batches from a stream are shuffled within this many blocks of rows.
SHUFFLE_WINDOW_BLOCKS = 4
# Chunks of epochs grow until one takes about this long: progress shows and
# Ctrl-C acts between them.
CHUNK_SECONDS = 0.2
# In lockstep (across workers) chunks cannot follow a clock: 1, 2, 4, ... this.
LOCKSTEP_CHUNK = 16
# A loss with a kink trained without stages: an envelope this narrow (training
# units: a millionth of the target's σ) is the loss to rounding.
KINK_WIDTH = 1e-6
# The compiled loop counts a chunk's epochs in int32; larger max_iter runs in chunks.
MAX_CHUNK_EPOCHS = 2**31 - 1


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


def shared_tensor(array: np.ndarray) -> tf.Tensor:
    """The array as a tensor, sharing its memory when it is aligned (DLPack).

    ``tf.convert_to_tensor`` copies a large array, briefly twice; training data is
    the largest thing a fit holds, so it is handed over without a copy whenever
    TensorFlow can take it (C-contiguous, aligned: see ``numerics.arrays.aligned``).
    """
    if (
        array.flags.c_contiguous
        and array.ctypes.data % TENSOR_ALIGNMENT == 0
        and array.dtype in (np.float32, np.float64)
        and array.size
    ):
        return tf.experimental.dlpack.from_dlpack(array.__dlpack__())
    return tf.convert_to_tensor(array)


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
    mini-batch of ``batch_size`` (seeded by ``seed``); with ``steps``, that many
    steps an epoch (across workers every worker makes the same number).
    ``options`` are those of :func:`train`.

    Raises
    ------
    DivergenceError
        When the loss becomes non-finite or grows by ``DIVERGENCE_FACTOR``.
    """
    columns = (X, y) if sample_weight is None else (X, y, sample_weight)
    if steps is None and (batch_size is None or batch_size >= X.shape[0]):
        reducer = options.get("reducer", LOCAL)
        data = reducer.rows(columns) or tuple(shared_tensor(c) for c in columns)
        if sample_weight is None:
            data = (*data, None)
    else:
        data = MiniBatches(
            tf.data.Dataset.from_tensor_slices(columns),
            tf.constant(batch_size, tf.int64),
            tf.constant(seed, tf.int64),
            steps=None if steps is None else tf.constant(steps, tf.int64),
        )
    return train(data, X.shape[1], y.shape[1], X.dtype, learning_rate, **options)


def fit_gradient_descent_blocks(
    cache,
    n_features: int,
    n_targets: int,
    *,
    weighted: bool,
    learning_rate: float,
    batch_size: int | None = None,
    seed: int = 0,
    steps: int | None = None,
    **options,
) -> FitResult:
    """The data engine on rows streamed from a row cache (``runtime.row_cache``).

    Full batch: each epoch sums the blocks' gradients (:class:`StreamedBlocks`), the
    same step as on the whole array. Mini-batches: the rows of each epoch are
    shuffled within a window of ``SHUFFLE_WINDOW_BLOCKS`` blocks (seeded by
    ``seed`` and the epoch) and batched, as tf.data shuffles data it cannot hold.
    ``steps``: as for :func:`fit_gradient_descent`; ``options`` as for :func:`train`.
    """
    d, t = n_features, n_targets

    def split(rows):
        columns = (rows[:, :d], rows[:, d : d + t])
        return (*columns, rows[:, d + t]) if weighted else columns

    full_batch = steps is None and (batch_size is None or batch_size >= cache.n_rows)
    one_process = options.get("reducer", LOCAL).count == 1
    if full_batch and one_process and cache.tail.shape[0] == cache.n_rows:
        # Fewer rows than a block: all in memory already, where an epoch over
        # them costs a matmul, not a tf.data iterator over a file (~100 ms).
        # (Across workers every one must take the same kind of epoch.)
        rows = cache.tail
        return fit_gradient_descent(
            *split(rows), learning_rate=learning_rate, **options
        )
    blocks = cache.blocks(split)
    if steps is None and (batch_size is None or batch_size >= cache.n_rows):
        data = StreamedBlocks(blocks)
    else:
        data = MiniBatches(
            blocks.unbatch(),
            tf.constant(batch_size, tf.int64),
            tf.constant(seed, tf.int64),
            tf.constant(SHUFFLE_WINDOW_BLOCKS * cache.block_rows, tf.int64),
            None if steps is None else tf.constant(steps, tf.int64),
        )
    return train(data, d, t, cache.dtype, learning_rate, **options)


def fit_gradient_descent_gram(
    gram, *, learning_rate: float, dtype="float64", **options
) -> FitResult:
    """Train with the same GradientTape step on the loss written through ``gram``.

    ``gram`` is a :class:`~tapereg.numerics.gram.Gram`; each epoch costs O(d²)
    whatever the number of rows, and its loss equals the data engine's.
    ``options`` are those of :func:`train`.
    """
    dtype = np.dtype(dtype)
    data = GramTensors(
        *(
            tf.constant(getattr(gram, field), dtype=dtype)
            for field in GramTensors._fields
        )
    )
    n_features, n_targets = gram.xy.shape
    return train(data, n_features, n_targets, dtype, learning_rate, **options)


class Structure(NamedTuple):
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
    positive: bool
    uses_tol: bool
    jit_compile: bool
    reducer: object  # a loop that all-reduces works for its reducer only
    loss: str = "squared_error"


@dataclass
class CompiledFit:
    """A model, its update, its penalty and its traced loop, reusable across fits."""

    model: LinearModel
    update: object
    penalty: Penalty | None
    loop: EpochLoop


class LoopCache:
    """Traced loops by structure, the least recently used dropped beyond ``size``.

    An entry is taken out while a fit uses it, so two fits running at once never
    share variables.
    """

    def __init__(self, size: int = 8):
        self.size = size
        self._entries: OrderedDict[Structure, CompiledFit] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, structure: Structure) -> CompiledFit:
        with self._lock:
            compiled = self._entries.pop(structure, None)
        return build_compiled(structure) if compiled is None else compiled

    def give_back(self, structure: Structure, compiled: CompiledFit) -> None:
        with self._lock:
            self._entries[structure] = compiled
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


LOOPS = LoopCache()


def build_compiled(structure: Structure) -> CompiledFit:
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
    if structure.has_l1 or structure.has_l2 or structure.positive:

        def slot():
            return tf.Variable(
                tf.zeros([n_features, n_targets], dtype), trainable=False
            )

        penalty = Penalty(
            l2=slot() if structure.has_l2 else None,
            l1=slot() if structure.has_l1 else None,
            threshold=slot() if structure.has_l1 else None,
            positive=structure.positive,
        )
    loss = None
    if structure.loss != "squared_error":
        loss = RowLoss(structure.loss, n_targets, dtype)
    loop = EpochLoop(
        model,
        update,
        loss=loss,
        penalty=penalty,
        tol=0.0 if structure.uses_tol else None,
        n_iter_no_change=1,
        loss_scale=np.ones(n_targets),
        jit_compile=structure.jit_compile,
        reducer=structure.reducer,
    )
    return CompiledFit(model, update, penalty, loop)


@dataclass(frozen=True)
class TrainOptions:
    """Everything :func:`train` takes besides the data (see its docstring)."""

    fit_intercept: bool = True
    optimizer: str = "gd"
    momentum: float = 0.9
    nesterov: bool = False
    max_iter: int = 1000
    tol: float | None = None
    n_iter_no_change: int = 5
    loss_scale: np.ndarray | None = None
    l1: np.ndarray | None = None
    l2: np.ndarray | None = None
    positive: bool = False
    initial_coef: np.ndarray | None = None
    initial_intercept: np.ndarray | None = None
    callback: object = None
    jit_compile: bool = False
    checkpoint: object = None
    reducer: object = LOCAL
    loss: str = "squared_error"
    epsilon: np.ndarray | None = None  # (n_targets,), training units
    quantile: float = 0.5
    smoothing: Smoothing | None = None


@dataclass(frozen=True)
class Smoothing:
    """The stages of a loss with a kink (``quantile``, ``epsilon_insensitive``).

    Stage k trains on the loss's envelope of width ``first_width·shrink**k``
    (per target, training units) with the step ``step_per_width`` times the
    width (the envelope's curvature is 1/width), until its loss settles to
    ``tol``. The stages end when the envelope is within ``target`` of the loss
    (relative): ``bias·width ≤ target·loss``, ``bias`` the gap per unit width.
    """

    first_width: np.ndarray
    step_per_width: float
    bias: float
    target: float
    tol: float
    shrink: float = 0.1


def train(data, n_features: int, n_targets: int, dtype, learning_rate, **options):
    """Set up the model, the update and the loop for ``data``, then run the epochs.

    ``options`` are the fields of :class:`TrainOptions`. ``l1`` and ``l2``
    (n_features, n_targets) are the elastic-net weights of :class:`Penalty`.
    ``callback(chunk)`` receives each :class:`EpochChunk` as soon as it ends;
    without one, all epochs run in one call. ``checkpoint`` (an object with
    ``open(state, problem)``, as ``runtime.checkpoints.CheckpointPlan``) keeps and
    restores the loop's state. ``reducer`` adds sums over workers
    (:mod:`tapereg.core.reducer`); across workers ``data`` is this worker's shard.
    """
    settings = TrainOptions(**options)
    dtype = tf.as_dtype(dtype)
    structure = Structure(
        data_kind(data),
        dtype.name,
        n_features,
        n_targets,
        settings.fit_intercept,
        settings.optimizer,
        bool(settings.nesterov),
        settings.l1 is not None,
        settings.l2 is not None,
        bool(settings.positive),
        settings.tol is not None,
        settings.jit_compile,
        settings.reducer,
        settings.loss,
    )
    compiled = LOOPS.take(structure)
    try:
        _start(compiled, settings, n_features, n_targets, learning_rate)
        saver = None
        if settings.checkpoint is not None:
            problem = fingerprint(
                # A reducer's repr may hold an address; its kind is what matters.
                structure._replace(reducer=type(settings.reducer).__name__),
                learning_rate,
                settings.momentum,
                settings.tol,
                settings.n_iter_no_change,
                settings.l1,
                settings.l2,
                settings.initial_coef,
                settings.initial_intercept,
                *_data_digest(data, settings.reducer),
            )
            saver = settings.checkpoint.open(compiled.loop.state(), problem)
        if settings.smoothing is not None:
            if saver is not None:
                raise ValueError("a smoothed loss's stages keep no checkpoints")
            return _run_stages(compiled, data, settings, n_targets)
        return run_epochs(
            compiled.loop,
            data,
            settings.max_iter,
            learning_rate,
            settings.callback,
            saver,
        )
    finally:
        LOOPS.give_back(structure, compiled)


def _run_stages(compiled: CompiledFit, data, settings, n_targets) -> FitResult:
    """Train a loss with a kink on its envelope, narrower stage by stage, each
    stage from the last one's weights (see :class:`Smoothing`)."""
    loop, update, penalty = compiled.loop, compiled.update, compiled.penalty
    smoothing = settings.smoothing
    width = np.asarray(smoothing.first_width, dtype=float)
    history: list[np.ndarray] = []
    done, result = 0, None
    while done < settings.max_iter:
        learning_rate = smoothing.step_per_width * float(np.min(width))
        loop.loss.width.assign(width)
        update.learning_rate.assign(learning_rate)
        if penalty is not None and penalty.l1 is not None:
            threshold = learning_rate * np.asarray(settings.l1) / n_targets
            penalty.threshold.assign(threshold)
        if result is not None:  # from the last stage's iterates
            for variable, value in zip(
                loop.model.parameters, (result.coef, result.intercept), strict=False
            ):
                variable.assign(value)
            update.reset()
        loop.next_stage(smoothing.tol)
        callback = settings.callback
        if callback is not None:
            offset = done

            def callback(chunk, offset=offset):
                moved = dataclasses.replace(chunk, first=chunk.first + offset)
                settings.callback(moved)

        result = run_epochs(
            loop, data, settings.max_iter - done, learning_rate, callback
        )
        history.append(result.loss_history)
        done += result.n_iter
        loss = float(np.min(result.loss_history)) if result.n_iter else np.inf
        scale = float(np.mean(loop.loss_scale.numpy()))
        finished = smoothing.bias * float(np.max(width)) * scale <= (
            smoothing.target * loss
        )
        if not result.converged or finished:
            break
        width = width * smoothing.shrink
    return dataclasses.replace(
        result, loss_history=np.concatenate(history), n_iter=done
    )


def _start(compiled: CompiledFit, settings, n_features, n_targets, learning_rate):
    """Reset the model, update, penalty and loop variables for a new fit."""
    model, update, penalty = compiled.model, compiled.update, compiled.penalty
    np_dtype = model.w.dtype.as_numpy_dtype
    model.w.assign(
        np.zeros((n_features, n_targets), np_dtype)
        if settings.initial_coef is None
        else np.asarray(settings.initial_coef, np_dtype).reshape(n_features, n_targets)
    )
    model.b.assign(
        np.zeros(n_targets, np_dtype)
        if settings.initial_intercept is None
        else np.asarray(settings.initial_intercept, np_dtype).reshape(n_targets)
    )
    update.reset()
    update.learning_rate.assign(learning_rate)
    if isinstance(update, Momentum):
        update.momentum.assign(settings.momentum)
    if compiled.loop.loss is not None:
        loss = compiled.loop.loss
        if settings.epsilon is not None:
            loss.threshold.assign(np.asarray(settings.epsilon, np_dtype).reshape(-1))
        loss.quantile.assign(settings.quantile)
        # Without stages (mini-batches), the loss itself: subgradient steps, as
        # SGDRegressor takes them.
        loss.width.assign(np.full(n_targets, KINK_WIDTH, np_dtype))
    if penalty is not None:
        if penalty.l2 is not None:
            penalty.l2.assign(settings.l2)
        if penalty.l1 is not None:
            penalty.l1.assign(settings.l1)
            penalty.threshold.assign(
                learning_rate * np.asarray(settings.l1) / n_targets
            )
    compiled.loop.reset(
        tol=settings.tol,
        n_iter_no_change=settings.n_iter_no_change,
        loss_scale=np.ones(n_targets)
        if settings.loss_scale is None
        else settings.loss_scale,
    )


def fingerprint(*parts) -> str:
    """A short digest of what defines a training problem (settings, data digest)."""
    digest = hashlib.sha256()
    for part in parts:
        if isinstance(part, np.ndarray):
            digest.update(np.ascontiguousarray(part).tobytes())
        else:
            digest.update(repr(part).encode())
    return digest.hexdigest()[:32]


def _data_digest(data, reducer) -> tuple:
    """A cheap digest of the training data, for checkpoint fingerprints."""
    if isinstance(data, GramTensors):
        return tuple(t.numpy() for t in data)
    if isinstance(data, MiniBatches):
        first = next(iter(data.rows.batch(4096)))
        return (*(t.numpy() for t in first), int(data.batch_size), int(data.seed))
    if isinstance(data, StreamedBlocks):
        first = next(iter(data.blocks))
        return tuple(t[:4096].numpy() for t in first)
    local = [None if t is None else reducer.first_part(t) for t in data]
    return tuple(
        None if t is None else (tuple(t.shape), t[:4096].numpy()) for t in local
    )


def _share_chiefs_state(loop: EpochLoop, done: int, reason: int) -> tuple[int, int]:
    """Give every worker the chief's state (the reducer's broadcast; in one
    process it is the state itself). Returns (the chief's epochs so far, its stop
    reason)."""
    *variables, slots = loop.state().values()  # "slots" comes last
    state = [*variables, *slots]
    vector = np.concatenate(
        [[done, reason]] + [np.ravel(v.numpy()).astype(np.float64) for v in state]
    )
    vector = loop.reducer.broadcast(vector)
    offset = 2
    for variable in state:
        size = int(np.prod(variable.shape))
        value = vector[offset : offset + size].reshape(variable.shape)
        variable.assign(value.astype(variable.dtype.as_numpy_dtype))
        offset += size
    return round(float(vector[0])), round(float(vector[1]))


def _resume(loop: EpochLoop, saver, max_iter: int):
    """(losses so far, epochs done, stop reason) at the start of a run: from the
    checkpoint when resuming, then the chief's on every worker in lockstep."""
    history: list[np.ndarray] = []
    done, reason = 0, RAN_OUT
    if saver is not None and saver.plan.resume:
        restored = saver.restore()
        if restored is not None:
            losses, stopped = restored
            history, done = [losses], len(losses)
            if stopped == CONVERGED:  # running out of epochs is resumable, this not
                done, reason = max_iter, stopped
    if loop.reducer.lockstep:
        chiefs_done, stopped = _share_chiefs_state(loop, done, reason)
        if chiefs_done != done:  # not the chief: its losses stay with it
            history = [np.full(chiefs_done, np.nan)]
        done = chiefs_done
        if stopped == CONVERGED:
            done, reason = max_iter, stopped
    return history, done, reason


def run_epochs(
    loop: EpochLoop, data, max_iter, learning_rate, callback, saver=None
) -> FitResult:
    """Call the compiled loop in chunks of epochs, each well under a second, so a
    callback sees progress and Ctrl-C acts promptly.

    With a checkpoint ``saver`` chunks stay within its interval; a resumed run starts
    from the restored epoch, and one that had already stopped returns at once.
    In lockstep (across workers) every worker must make the same all-reduces in the
    same order: all start from the chief's state (restored or not) and run the same
    chunks, 1, 2, 4, … up to ``LOCKSTEP_CHUNK`` epochs, whatever their callbacks.
    """
    history, done, reason = _resume(loop, saver, max_iter)
    # Chunks start at one epoch and double while they take under CHUNK_SECONDS,
    # with or without a callback: Python sees Ctrl-C only between them.
    chunk = 1
    if saver is not None:
        chunk = min(chunk, saver.plan.every_epochs)
    if loop.reducer.lockstep:
        chunk = 1
    while done < max_iter:
        n = min(chunk, max_iter - done, MAX_CHUNK_EPOCHS)
        started = time.perf_counter()
        losses, norms, reason = loop.run(tf.constant(n, dtype=tf.int32), data)
        losses, reason = losses.numpy(), int(reason)
        if callback is not None:
            callback(EpochChunk(done, losses, norms.numpy(), float(learning_rate)))
        if loop.reducer.lockstep:
            chunk = min(2 * chunk, LOCKSTEP_CHUNK)
        elif time.perf_counter() - started < CHUNK_SECONDS:
            chunk = 2 * chunk
            if saver is not None:  # a checkpoint at least every every_epochs
                chunk = min(chunk, saver.plan.every_epochs)
        history.append(losses)
        done += len(losses)
        if saver is not None and reason != DIVERGED:
            finished = reason == CONVERGED or done >= max_iter
            if finished or saver.due(done):
                saver.save(
                    np.concatenate(history), reason if finished else STILL_RUNNING
                )
        if reason == DIVERGED:
            error = DivergenceError(
                f"loss became {losses[-1]:.4g} at epoch {done - 1} "
                f"(learning_rate={learning_rate:.4g}); lower learning_rate or "
                "standardize the features"
            )
            error.loss, error.epoch = float(losses[-1]), done - 1
            raise error
        if reason == CONVERGED:
            break
    losses = np.concatenate(history) if history else np.empty(0)
    # An accelerated update keeps its iterates apart from the model's point.
    parameters = loop.model.parameters
    if hasattr(loop.update, "iterates"):
        parameters = loop.update.iterates()
    w, b = parameters[0], parameters[1] if len(parameters) > 1 else loop.model.b
    return FitResult(
        coef=w.numpy(),
        intercept=b.numpy(),
        loss_history=losses,
        n_iter=len(losses),
        converged=reason == CONVERGED,
        learning_rate=float(learning_rate),
    )
