import numpy as np
import pytest
import tensorflow as tf

from tapereg.core.epochs import EpochLoop, MiniBatches
from tapereg.core.model import LinearModel
from tapereg.core.optimizers import make_optimizer
from tapereg.core.step import make_train_step
from tapereg.core.train import fit_gradient_descent
from tapereg.demos import tutorial_data
from tapereg.errors import DivergenceError


def seed_000_by_hand(x, y, learning_rate=0.01, epochs=100):
    """The tutorial's loop in float64 NumPy: the loss, then the update."""
    w = b = 0.0
    losses = []
    for _ in range(epochs):
        r = w * x + b - y
        losses.append(np.mean(r**2))
        grad_w, grad_b = 2 * np.mean(r * x), 2 * np.mean(r)
        w, b = w - learning_rate * grad_w, b - learning_rate * grad_b
    return np.array(losses), w, b


def seed_000_as_written(x_train, y_train, learning_rate=0.01, epochs=100):
    """The seed tutorial's own code, eager, as it is printed."""
    weight = tf.Variable(0.0)
    bias = tf.Variable(0.0)
    losses = []
    for _ in range(epochs):
        with tf.GradientTape() as tape:
            y_predicted = weight * x_train + bias
            loss = tf.reduce_mean(tf.square(y_predicted - y_train))
        gradients = tape.gradient(loss, [weight, bias])
        weight.assign_sub(gradients[0] * learning_rate)
        bias.assign_sub(gradients[1] * learning_rate)
        losses.append(loss.numpy())
    return np.array(losses), weight.numpy(), bias.numpy()


def fit_seed_000(x, y, **kwargs):
    return fit_gradient_descent(
        x[:, None].astype(np.float32),
        y[:, None].astype(np.float32),
        learning_rate=0.01,
        max_iter=100,
        tol=None,
        **kwargs,
    )


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_seed_000_matches_float64_gradient_descent_by_hand(seed):
    x, y = tutorial_data("line", seed)
    result = fit_seed_000(x, y)
    losses, w, b = seed_000_by_hand(x, y)
    assert result.n_iter == 100 and len(result.loss_history) == 100
    np.testing.assert_allclose(result.loss_history, losses, rtol=1e-4)
    assert abs(result.coef[0, 0] - w) < 1e-4
    assert abs(result.intercept[0] - b) < 1e-4


def test_seed_000_matches_the_tutorials_own_eager_code():
    x, y = tutorial_data("line", 0)
    result = fit_seed_000(x, y)
    losses, w, b = seed_000_as_written(x, y)
    np.testing.assert_allclose(result.loss_history, losses, rtol=1e-6)
    np.testing.assert_allclose(result.coef[0, 0], w, rtol=1e-6)
    np.testing.assert_allclose(result.intercept[0], b, rtol=1e-6)


def test_the_step_traces_once_across_epochs():
    model = LinearModel(2)
    step = make_train_step(model, "gd", learning_rate=0.01)
    X = tf.constant([[1.0, 2.0], [3.0, 4.0], [5.0, 7.0]])
    y = tf.constant([1.0, 2.0, 3.0])
    losses = [float(step(X, y)) for _ in range(20)]
    assert step.experimental_get_tracing_count() == 1
    assert losses[-1] < losses[0]


@pytest.mark.parametrize("batch_size", [None, 16])
def test_the_epoch_loop_traces_once_whatever_the_chunk_sizes(batch_size):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 3)).astype(np.float32)
    y = (X @ [[1.0], [2.0], [3.0]]).astype(np.float32)
    model = LinearModel(3)
    optimizer = make_optimizer("gd", 0.1)
    if batch_size is None:
        data = (tf.constant(X), tf.constant(y), None)
    else:
        data = MiniBatches(
            tf.data.Dataset.from_tensor_slices((X, y)),
            tf.constant(batch_size, tf.int64),
            tf.constant(0, tf.int64),
        )
    loop = EpochLoop(model, optimizer, tol=None, n_iter_no_change=5, loss_scale=[1])
    for n in (1, 2, 4, 8, 3):
        losses, norms, _ = loop.run(tf.constant(n), data)
        assert len(norms) == n
        assert len(losses) == n
    assert loop.run.experimental_get_tracing_count() == 1
    assert int(loop.epoch) == 18


def test_chunked_runs_give_bitwise_the_whole_loops_result(problem):
    X, y, _ = problem
    X = ((X - X.mean(0)) / X.std(0)).astype(np.float32)
    Y = ((y - y.mean()) / y.std())[:, None].astype(np.float32)
    whole = fit_gradient_descent(X, Y, learning_rate=0.1, max_iter=60, tol=1e-6)
    seen = []
    chunked = fit_gradient_descent(
        X,
        Y,
        learning_rate=0.1,
        max_iter=60,
        tol=1e-6,
        callback=lambda chunk: seen.extend(
            range(chunk.first, chunk.first + len(chunk.losses))
        ),
    )
    np.testing.assert_array_equal(whole.loss_history, chunked.loss_history)
    np.testing.assert_array_equal(whole.coef, chunked.coef)
    assert seen == list(range(chunked.n_iter))


def test_loss_is_recorded_before_the_update():
    X = np.array([[1.0], [2.0]], np.float32)
    Y = np.array([[2.0], [4.0]], np.float32)
    result = fit_gradient_descent(X, Y, learning_rate=0.1, max_iter=1, tol=None)
    # Epoch 0 sees w = b = 0: loss = mean(y²) = 10.
    assert result.loss_history[0] == pytest.approx(10.0)


def test_tol_stops_early_and_none_runs_every_epoch(problem):
    X, y, _ = problem
    X = ((X - X.mean(0)) / X.std(0)).astype(np.float64)
    Y = (y - y.mean())[:, None]
    early = fit_gradient_descent(X, Y, learning_rate=0.1, max_iter=5000, tol=1e-6)
    assert early.converged and early.n_iter < 5000
    full = fit_gradient_descent(X, Y, learning_rate=0.1, max_iter=300, tol=None)
    assert not full.converged and full.n_iter == 300


def test_divergence_raises_naming_the_epoch():
    x, y = tutorial_data("line", 0)
    with pytest.raises(DivergenceError, match=r"at epoch \d+.*lower learning_rate"):
        fit_gradient_descent(
            x[:, None].astype(np.float32),
            y[:, None].astype(np.float32),
            learning_rate=0.5,
            max_iter=1000,
            tol=None,
        )


@pytest.mark.parametrize("optimizer", ["gd", "momentum", "adam"])
def test_minibatches_are_seeded_and_reproducible(optimizer):
    rng = np.random.default_rng(3)
    X = rng.standard_normal((200, 3)).astype(np.float32)
    Y = (X @ [[1.0], [-2.0], [0.5]] + 0.1 * rng.standard_normal((200, 1))).astype(
        np.float32
    )
    runs = [
        fit_gradient_descent(
            X,
            Y,
            learning_rate=0.05,
            optimizer=optimizer,
            max_iter=5,
            batch_size=32,
            seed=seed,
            tol=None,
        )
        for seed in (11, 11, 12)
    ]
    np.testing.assert_array_equal(runs[0].loss_history, runs[1].loss_history)
    np.testing.assert_array_equal(runs[0].coef, runs[1].coef)
    assert not np.array_equal(runs[0].coef, runs[2].coef)


def test_minibatch_epoch_loss_is_the_mean_of_the_batch_losses():
    X = np.arange(8, dtype=np.float32)[:, None]
    Y = 2 * X + 1
    result = fit_gradient_descent(
        X, Y, learning_rate=0.0, max_iter=1, batch_size=3, seed=0, tol=None
    )
    # With a zero step every batch sees w = b = 0, so the epoch mean is mean(y²).
    assert result.loss_history[0] == pytest.approx(np.mean(Y**2))


def test_repeated_fits_reuse_one_traced_loop_and_forget_the_last_fit():
    from tapereg.core import train

    rng = np.random.default_rng(4)
    X = rng.standard_normal((50, 3)).astype(np.float32)
    Y = (X @ [[1.0], [2.0], [3.0]]).astype(np.float32)
    options = dict(learning_rate=0.1, max_iter=40, tol=1e-6, optimizer="momentum")
    built = []
    original_build = train.build_compiled

    def recording_build(structure):
        built.append(original_build(structure))
        return built[-1]

    train.build_compiled = recording_build
    try:
        train.LOOPS.clear()
        first = fit_gradient_descent(X, Y, **options)
        second = fit_gradient_descent(X, Y, **options)
        third = fit_gradient_descent(
            X,
            2 * Y,
            **{**options, "learning_rate": 0.05, "max_iter": 2000, "tol": 1e-12},
        )
    finally:
        train.build_compiled = original_build
    # One loop was built, by the first fit: the others took it from the cache.
    assert len(built) == 1
    loop = built[0].loop
    # The same loop ran again from zero weights and a fresh state: same result.
    np.testing.assert_array_equal(first.loss_history, second.loss_history)
    np.testing.assert_array_equal(first.coef, second.coef)
    # Other settings of the same structure reuse it too, and still converge.
    assert loop.run.experimental_get_tracing_count() == 1
    np.testing.assert_allclose(third.coef[:, 0], [2.0, 4.0, 6.0], rtol=1e-3)
