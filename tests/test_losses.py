import numpy as np
import pytest
import tensorflow as tf

from tapereg.core.losses import mean_squared_error, per_target_mse
from tapereg.core.model import LinearModel


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("shape", [(100, 1, 1), (57, 4, 1), (30, 3, 2), (8, 10, 3)])
def test_tape_gradient_equals_the_analytic_gradient(dtype, weighted, shape):
    n, d, t = shape
    rng = np.random.default_rng(n + d + t)
    X = rng.standard_normal((n, d))
    y = rng.standard_normal((n, t))
    w = rng.standard_normal((d, t))
    b = rng.standard_normal(t)
    s = rng.uniform(0.1, 3, n) if weighted else np.ones(n)

    model = LinearModel(d, t, dtype=dtype)
    model.w.assign(w)
    model.b.assign(b)
    with tf.GradientTape() as tape:
        loss = mean_squared_error(
            tf.constant(y, dtype),
            model(tf.constant(X, dtype)),
            tf.constant(s, dtype) if weighted else None,
        )
    grad_w, grad_b = tape.gradient(loss, [model.w, model.b])

    # loss = 1/t Σ_j Σ_i s_i r_ij² / Σs, so
    # grad_w = 2/(t Σs) Xᵀ(s ⊙ r) and grad_b = 2/(t Σs) Σ_i s_i r_i
    r = X @ w + b - y
    expected_w = 2 / (t * s.sum()) * X.T @ (s[:, None] * r)
    expected_b = 2 / (t * s.sum()) * (s[:, None] * r).sum(axis=0)
    tol = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(grad_w.numpy(), expected_w, rtol=tol, atol=tol)
    np.testing.assert_allclose(grad_b.numpy(), expected_b, rtol=tol, atol=tol)
    np.testing.assert_allclose(
        loss.numpy(), np.mean((s[:, None] * r**2).sum(0) / s.sum()), rtol=tol
    )


def test_unweighted_loss_is_the_seeds_reduce_mean():
    rng = np.random.default_rng(0)
    y_true = tf.constant(rng.standard_normal((50, 1)), tf.float32)
    y_pred = tf.constant(rng.standard_normal((50, 1)), tf.float32)
    seed_loss = tf.reduce_mean(tf.square(y_pred - y_true))
    assert mean_squared_error(y_true, y_pred).numpy() == seed_loss.numpy()


def test_an_all_zero_weight_batch_gives_zero_not_nan():
    y = tf.ones((4, 2))
    out = per_target_mse(y, 2 * y, tf.zeros(4))
    np.testing.assert_array_equal(out.numpy(), [0.0, 0.0])
