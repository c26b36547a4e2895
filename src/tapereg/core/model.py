"""The linear model: two variables and one matrix product."""

from __future__ import annotations

import tensorflow as tf


class LinearModel(tf.Module):
    """``ŷ = X·w + b``, ``w`` of shape (n_features, n_targets), ``b`` of (n_targets,).

    Both variables start at zero, as in the seed tutorial. Without an intercept ``b``
    stays zero and is not trained.

    Parameters
    ----------
    n_features : int
    n_targets : int, default=1
    fit_intercept : bool, default=True
    dtype : str or tf.DType, default="float32"

    Examples
    --------
    >>> model = LinearModel(n_features=1)
    >>> model(tf.constant([[2.0]])).numpy()
    array([[0.]], dtype=float32)
    """

    def __init__(
        self,
        n_features: int,
        n_targets: int = 1,
        *,
        fit_intercept: bool = True,
        dtype="float32",
        name: str | None = None,
    ):
        super().__init__(name=name)
        self.w = tf.Variable(tf.zeros([n_features, n_targets], dtype=dtype), name="w")
        self.b = tf.Variable(
            tf.zeros([n_targets], dtype=dtype), name="b", trainable=fit_intercept
        )

    @property
    def parameters(self) -> list[tf.Variable]:
        """What training updates, in the seeds' order: ``[w, b]`` or ``[w]``."""
        return [self.w, self.b] if self.b.trainable else [self.w]

    def __call__(self, X):
        return tf.matmul(X, self.w) + self.b
