"""The mean squared error, written in TensorFlow so the tape can differentiate it."""

from __future__ import annotations

import tensorflow as tf


def per_target_mse(y_true, y_pred, sample_weight=None):
    """Mean squared error of each target column, shape (n_targets,).

    ``mse_j = Σ_i s_i (ŷ_ij − y_ij)² / Σ_i s_i`` with ``s_i = 1`` when there are no
    weights, so without weights it is ``reduce_mean(square(ŷ − y), axis=0)``.
    """
    squared = tf.square(y_pred - y_true)
    if sample_weight is None:
        return tf.reduce_mean(squared, axis=0)
    weighted = tf.reduce_sum(sample_weight[:, None] * squared, axis=0)
    # A mini-batch whose weights are all zero contributes nothing instead of NaN.
    return tf.math.divide_no_nan(weighted, tf.reduce_sum(sample_weight))


def mean_squared_error(y_true, y_pred, sample_weight=None):
    """The loss: ``mean((ŷ − y)²)`` over samples and targets, optionally weighted.

    Parameters
    ----------
    y_true, y_pred : tf.Tensor of shape (n_samples, n_targets)
    sample_weight : tf.Tensor of shape (n_samples,), optional

    Returns
    -------
    tf.Tensor
        A scalar. Unweighted it equals the seeds' ``tf.reduce_mean(tf.square(ŷ − y))``.
    """
    return tf.reduce_mean(per_target_mse(y_true, y_pred, sample_weight))


def per_target_gram_mse(gram, w, b):
    """The per-target MSE of ``ŷ = X·w + b`` written through the data's moments.

    ``mse_k = yy_k − 2·w_kᵀxy_k − 2·b_k·ȳ_k + w_kᵀ·xx·w_k + 2·b_k·w_kᵀx̄ + b_k²``,
    ``gram`` holding tensors ``xx, xy, x_mean, y_mean, yy`` (see ``numerics/gram.py``).
    Equal to :func:`per_target_mse` on the data itself, at O(d²) per call.
    """
    xx_w = tf.matmul(gram.xx, w)
    return (
        gram.yy
        - 2 * tf.reduce_sum(w * gram.xy, axis=0)
        - 2 * b * gram.y_mean
        + tf.reduce_sum(w * xx_w, axis=0)
        + 2 * b * tf.linalg.matvec(w, gram.x_mean, transpose_a=True)
        + tf.square(b)
    )


class RowLoss:
    """A per-row loss of the residual ``r = ŷ − y``, as the tape trains on it.

    Each is twice scikit-learn's (as the squared error is twice its ½r²), so the
    elastic-net penalty keeps the meaning it has with the squared error and
    ``huber`` tends to ``squared_error`` as ``epsilon`` grows:

    - ``squared_error``: ``r²``;
    - ``huber``: ``r²`` where ``|r| ≤ ε``, ``2ε|r| − ε²`` beyond (``SGDRegressor``'s);
    - ``quantile``: ``2·max(q·u, (q − 1)·u)`` with ``u = y − ŷ`` (the pinball loss);
    - ``epsilon_insensitive``: ``2·max(|r| − ε, 0)``.

    The last two have a kink. They are trained on their Moreau envelope of width
    ``width`` (a quadratic in a band of that width around each kink, the same
    loss outside it, below the loss by at most ``width·max(q, 1 − q)²`` and
    ``width``), with the width shrunk stage by stage (``core.train``): a smooth
    problem each stage, so accelerated gradient descent converges on it, and a
    vanishing difference from the loss itself. ``threshold`` (ε) and ``width``
    are variables of shape (n_targets,), in the training units; ``quantile`` a
    scalar variable.
    """

    def __init__(self, kind: str, n_targets: int, dtype):
        self.kind = kind
        self.threshold = tf.Variable(tf.zeros([n_targets], dtype), trainable=False)
        self.width = tf.Variable(tf.ones([n_targets], dtype), trainable=False)
        self.quantile = tf.Variable(tf.constant(0.5, dtype), trainable=False)

    def __call__(self, residual):
        """The loss of each row and target, shape of ``residual``."""
        if self.kind == "squared_error":
            return tf.square(residual)
        if self.kind == "huber":
            eps = self.threshold
            size = tf.abs(residual)
            return tf.where(
                size <= eps, tf.square(residual), 2 * eps * size - tf.square(eps)
            )
        width = self.width
        if self.kind == "quantile":
            q = self.quantile
            u = -residual
            upper, lower = q * width, (q - 1) * width
            return 2 * tf.where(
                u > upper,
                q * u - q * upper / 2,
                tf.where(
                    u < lower,
                    (q - 1) * u - (q - 1) * lower / 2,
                    tf.square(u) / (2 * width),
                ),
            )
        # epsilon_insensitive
        excess = tf.maximum(tf.abs(residual) - self.threshold, 0)
        return 2 * tf.where(
            excess > width, excess - width / 2, tf.square(excess) / (2 * width)
        )
