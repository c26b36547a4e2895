"""The data engine's loss in one cache-blocked pass over X, for full-batch epochs.

Differentiating ``per_target_mse(y, X @ w + b)`` makes TensorFlow read X twice an
epoch (X·w, then Xᵀr for the gradient), with slow kernels for tall, narrow X. Here the
forward pass walks X in blocks of rows and, while a block is still in cache, adds its
share of the loss Σ s·r² and of the gradient Xᵀ(s·r), Σ s·r; the tape receives that
gradient through ``tf.custom_gradient``. Two details matter for speed: rows are cut
from the *flattened* X (a 1-D slice at a 64-byte boundary is a view, while a 2-D row
slice of a d=10 matrix is a copy), and the products are written with the residual
transposed (see :func:`_blocked_sums`).
"""

from __future__ import annotations

import tensorflow as tf

BLOCK_BYTES = 5 * 2**19  # X per block, 2.5 MiB: fastest in benchmarks/data_epoch.py
MIN_BLOCK_ROWS = 2048  # wide X: fewer, longer blocks beat cache-sized ones


def default_block_rows(n_features: int, dtype=tf.float32, block_bytes=None) -> int:
    """Rows per block: about ``block_bytes`` (``BLOCK_BYTES``) of X, a multiple of 64.

    At least ``MIN_BLOCK_ROWS``: the loop costs about 30 µs a block, which short
    blocks of wide X do not repay. A multiple of 64 rows keeps every block's start on
    a 64-byte boundary.
    """
    rows = (block_bytes or BLOCK_BYTES) // (n_features * tf.as_dtype(dtype).size)
    return max(MIN_BLOCK_ROWS, rows) // 64 * 64


def blocked_per_target_mse(X, y, w, b, sample_weight=None, block_rows=None):
    """``per_target_mse(y, X @ w + b, sample_weight)``, shape (n_targets,), in one pass.

    Parameters
    ----------
    X : tf.Tensor of shape (n_samples, n_features)
    y : tf.Tensor of shape (n_samples, n_targets)
    w : tf.Tensor or tf.Variable of shape (n_features, n_targets), static shape
    b : tf.Tensor or tf.Variable of shape (n_targets,)
    sample_weight : tf.Tensor of shape (n_samples,), optional
    block_rows : int, optional
        A multiple of 64; by default :func:`default_block_rows`.

    The gradient with respect to ``w`` and ``b`` is the analytic one,
    ``2/Σs · Xᵀ S r`` and ``2/Σs · Σ s r`` per target, computed during the forward
    pass (so the pass costs the same with or without a tape). There is no gradient
    with respect to X, y or sample_weight. Pass tensors: a NumPy X is copied. Not
    for XLA-compiled functions (``jit_compile=True``): XLA clamps the blocks' slices
    instead of cutting them short, which counts rows twice; the training loop uses
    the plain ``per_target_mse`` there, which XLA compiles as a whole.
    """
    X = tf.convert_to_tensor(X)
    dtype = X.dtype
    y = tf.convert_to_tensor(y, dtype)
    s = None if sample_weight is None else tf.convert_to_tensor(sample_weight, dtype)
    if block_rows is None:
        block_rows = default_block_rows(w.shape[0], dtype)
    if block_rows % 64:
        raise ValueError(f"block_rows must be a multiple of 64, got {block_rows}")

    @tf.custom_gradient
    def mse(w, b):
        total, grad_w, grad_b = _blocked_sums(X, y, w, b, s, block_rows)
        if s is None:
            weight = tf.cast(tf.shape(X)[0], dtype)
            loss = total / weight
        else:
            weight = tf.reduce_sum(s)
            loss = tf.math.divide_no_nan(total, weight)

        def gradient(upstream):
            scale = tf.math.divide_no_nan(2 * upstream, weight)
            return grad_w * scale, grad_b * scale

        return loss, gradient

    return mse(tf.convert_to_tensor(w, dtype), tf.convert_to_tensor(b, dtype))


def _blocked_sums(X, y, w, b, s, block_rows):
    """``Σ s·r²``, ``Xᵀ(s·r)`` and ``Σ s·r`` summed block by block in a while loop.

    The residual is kept as ``rᵀ`` (targets × rows): with few features TensorFlow
    computes ``wᵀ·X_blockᵀ`` 2-3 times as fast as ``X_block·w``, and the gradient
    ``(s·r)ᵀ·X_block`` then needs no transpose (it is as fast as ``X_blockᵀ·(s·r)``).
    """
    n_features, n_targets = w.shape
    n = tf.shape(X, out_type=tf.int64)[0]
    n_blocks = (n + block_rows - 1) // block_rows
    flat_X, flat_y = tf.reshape(X, [-1]), tf.reshape(y, [-1])
    X_step, y_step, bias = block_rows * n_features, block_rows * n_targets, b[:, None]

    def body(i, loss, grad_w_t, grad_b):
        # Cutting the flat tensors at 64-byte boundaries gives views, not copies;
        # the slice itself cuts the last block short.
        X_block = tf.reshape(flat_X[i * X_step : (i + 1) * X_step], [-1, n_features])
        y_block = flat_y[i * y_step : (i + 1) * y_step]
        if n_targets == 1:
            y_t = y_block[None, :]
        else:
            y_t = tf.transpose(tf.reshape(y_block, [-1, n_targets]))
        r_t = tf.matmul(w, X_block, transpose_a=True, transpose_b=True) + (bias - y_t)
        sr_t = r_t if s is None else s[i * block_rows : (i + 1) * block_rows] * r_t
        return (
            i + 1,
            loss + tf.reduce_sum(r_t * sr_t, axis=1),
            grad_w_t + tf.matmul(sr_t, X_block),
            grad_b + tf.reduce_sum(sr_t, axis=1),
        )

    zeros = tf.zeros([n_targets], X.dtype)
    initial = (tf.constant(0, tf.int64), zeros, tf.zeros_like(tf.transpose(w)), zeros)
    _, loss, grad_w_t, grad_b = tf.while_loop(lambda i, *_: i < n_blocks, body, initial)
    return loss, tf.transpose(grad_w_t), grad_b
