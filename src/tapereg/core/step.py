"""The seeds' training step: the loss inside ``tf.GradientTape``, ``tape.gradient``,
then the update, and the one place that decides how training code is compiled.

Every epoch kind in :mod:`tapereg.core.epochs` is built from these pieces.
"""

from __future__ import annotations

from dataclasses import dataclass

import tensorflow as tf

from .blocked import blocked_per_target_mse
from .losses import per_target_gram_mse, per_target_mse
from .model import LinearModel
from .optimizers import make_optimizer


def compile_function(fn, *, jit_compile: bool = False):
    """The one place that decides how training code is compiled (graph, or XLA).

    ``reduce_retracing`` lets a second data size relax the traced shapes instead of
    tracing once per number of rows. Each structure of problem (sizes, dtype,
    update) has a loop of its own, traced once; TensorFlow counts the traces of
    all of them together and would warn of "retracing" after five, so its
    warning is turned off for these functions (``_omit_frequent_tracing_warning``,
    the switch TensorFlow's own wrappers set; without it, nothing else changes).
    """
    compiled = tf.function(fn, jit_compile=jit_compile, reduce_retracing=True)
    if hasattr(compiled, "_omit_frequent_tracing_warning"):
        compiled._omit_frequent_tracing_warning = True
    return compiled


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
    # Non-negative weights: the projection w ← max(w, 0) after the update and the
    # L1 step (projected gradient descent; the prox of the constraint).
    positive: bool = False


def data_loss(model, X, y, sample_weight, *, blocked=False):
    """The per-target MSE of the model on the rows; ``blocked``: in one cache-blocked
    pass over X that also makes the gradient (the full-batch epochs' loss, 2-3x
    faster for narrow X; not under XLA, see :mod:`tapereg.core.blocked`)."""
    if blocked:
        return lambda: blocked_per_target_mse(X, y, model.w, model.b, sample_weight)
    return lambda: per_target_mse(y, model(X), sample_weight)


def gram_loss(model, gram):
    """The per-target MSE written through the gram engine's moments."""
    return lambda: per_target_gram_mse(gram, model.w, model.b)


def gradients_of(model: LinearModel, per_target_loss, penalty: Penalty | None):
    """The per-target loss (L2 penalty included) and its gradient, by the tape.

    The tape differentiates the mean over targets: ``loss = mean_k loss_k``.
    """
    with tf.GradientTape() as tape:
        per_target = per_target_loss()
        if penalty is not None and penalty.l2 is not None:
            per_target += tf.reduce_sum(penalty.l2 * tf.square(model.w), axis=0)
        loss = tf.reduce_mean(per_target)
    gradients = tape.gradient(
        loss, model.parameters, unconnected_gradients=tf.UnconnectedGradients.ZERO
    )
    return per_target, gradients


def apply_update(model: LinearModel, optimizer, per_target, gradients, penalty):
    """The update, the L1 proximal step and the projection on w ≥ 0 (as the
    penalty asks); the objective and the gradient norm."""
    if penalty is not None and penalty.l1 is not None:
        per_target += tf.reduce_sum(penalty.l1 * tf.abs(model.w), axis=0)
    if getattr(optimizer, "takes_prox", False):
        # The proximal step inside the update, before its extrapolation.
        optimizer.apply(gradients, model.parameters, prox=_prox_of(penalty))
    else:
        optimizer.apply(gradients, model.parameters)
        if penalty is not None and (penalty.l1 is not None or penalty.positive):
            model.w.assign(_prox_of(penalty)(model.w))
    return per_target, tf.linalg.global_norm(gradients)


def _prox_of(penalty):
    """The proximal step on the weights: the L1 soft threshold, then w ≥ 0."""
    if penalty is None or (penalty.l1 is None and not penalty.positive):
        return None

    def prox(w):
        if penalty.l1 is not None:
            w = tf.sign(w) * tf.maximum(tf.abs(w) - penalty.threshold, 0)
        if penalty.positive:
            w = tf.maximum(w, 0)
        return w

    return prox


def step(model: LinearModel, optimizer, per_target_loss, penalty):
    """Loss in the tape, ``tape.gradient``, the update, then the L1 proximal step.

    Returns the per-target objective and the gradient's norm (for the logs).
    """
    per_target, gradients = gradients_of(model, per_target_loss, penalty)
    return apply_update(model, optimizer, per_target, gradients, penalty)


def train_step(model: LinearModel, optimizer, X, y, sample_weight=None, penalty=None):
    """One gradient step as the seeds write it; returns the per-target loss of the tape.

    The loss is computed before the update, so it is the loss of the weights the step
    started from (what the tutorial prints as epoch k). With a penalty the per-target
    loss is the whole objective, penalty included.
    """
    loss = data_loss(model, X, y, sample_weight)
    return step(model, optimizer, loss, penalty)[0]


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

    def one_step(X, y, sample_weight=None):
        X = tf.cast(X, dtype)
        y = tf.cast(y, dtype)
        if y.shape.rank == 1:
            y = y[:, None]
        if sample_weight is not None:
            sample_weight = tf.cast(sample_weight, dtype)
        return tf.reduce_mean(train_step(model, update, X, y, sample_weight))

    return compile_function(one_step, jit_compile=jit_compile) if compiled else one_step
