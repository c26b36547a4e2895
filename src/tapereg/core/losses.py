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
