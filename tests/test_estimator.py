import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import correlated_problem, relative_excess_mse
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning

from tapereg import LinearRegressor, ParameterError, TaperegError
from tapereg.errors import CollinearityWarning


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("seed", [0, 1])
def test_defaults_reach_the_least_squares_optimum_on_unscaled_correlated_data(
    dtype, seed
):
    X, y, _ = correlated_problem(20000, 6, seed=seed)
    est = LinearRegressor(dtype=dtype).fit(X, y)
    assert relative_excess_mse(X, y, est.coef_, est.intercept_) < 1e-6
    assert est.n_iter_ < est.max_iter
    assert est.loss_curve_.shape == (est.n_iter_,)
    assert (est.engine_, est.optimizer_) == ("gram", "whitened gd")
    # The seeds' gradient descent with a step of 1/L decreases the loss every epoch,
    # on either engine.
    for engine in ("data", "gram"):
        gd = LinearRegressor(dtype=dtype, optimizer="gd", engine=engine).fit(X, y)
        assert np.all(np.diff(gd.loss_curve_) <= 1e-6 * gd.loss_curve_[:-1])
        assert relative_excess_mse(X, y, gd.coef_, gd.intercept_) < 1e-6


def test_fitted_attributes_are_numpy_with_sklearn_shapes(problem):
    X, y, _ = problem
    est = LinearRegressor().fit(X, y)
    assert est.coef_.shape == (5,) and isinstance(est.intercept_, float)
    assert est.n_features_in_ == 5
    for value in vars(est).values():
        assert "tensorflow" not in type(value).__module__
    multi = LinearRegressor().fit(X, np.column_stack([y, 2 * y]))
    assert multi.coef_.shape == (2, 5) and multi.intercept_.shape == (2,)
    np.testing.assert_allclose(multi.coef_[1], 2 * multi.coef_[0], rtol=1e-4)
    assert multi.predict(X).shape == (4000, 2)


def test_multi_target_matches_exact_per_target():
    X, Y, _ = correlated_problem(5000, 4, 3, seed=8)
    est = LinearRegressor(dtype="float64").fit(X, Y)
    exact = LinearRegressor(solver="exact").fit(X, Y)
    for j in range(3):
        assert relative_excess_mse(X, Y[:, j], est.coef_[j], est.intercept_[j]) < 1e-6
    np.testing.assert_allclose(est.predict(X), exact.predict(X), rtol=1e-4, atol=1e-3)


def test_exact_solver_equals_lstsq_and_predict_score_work(problem):
    X, y, _ = problem
    est = LinearRegressor(solver="exact").fit(X, y)
    A = np.column_stack([X, np.ones(len(X))])
    best, *_ = np.linalg.lstsq(A, y, rcond=None)
    np.testing.assert_allclose(est.coef_, best[:-1], rtol=1e-9)
    np.testing.assert_allclose(est.predict(X), A @ best, rtol=1e-9)
    residual = y - A @ best
    r2 = 1 - residual @ residual / np.sum((y - y.mean()) ** 2)
    assert est.score(X, y) == pytest.approx(r2, rel=1e-12)
    assert est.n_iter_ == 1 and est.loss_curve_.size == 0


def test_sample_weights_match_the_weighted_optimum():
    X, y, _ = correlated_problem(3000, 3, seed=9)
    w = np.random.default_rng(0).integers(1, 4, 3000).astype(float)
    est = LinearRegressor(dtype="float64").fit(X, y, sample_weight=w)
    repeated = LinearRegressor(solver="exact").fit(
        np.repeat(X, w.astype(int), 0), np.repeat(y, w.astype(int))
    )

    def weighted_mse(model):
        return np.average((model.predict(X) - y) ** 2, weights=w)

    best = weighted_mse(repeated)
    assert (weighted_mse(est) - best) / best < 1e-7
    np.testing.assert_allclose(est.predict(X), repeated.predict(X), rtol=1e-4)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_standardize_false_and_no_intercept(fit_intercept):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((500, 2))
    y = X @ [2.0, -1.0] + (1.5 if fit_intercept else 0) + 0.1 * rng.standard_normal(500)
    for standardize in (True, False):
        est = LinearRegressor(
            standardize=standardize, fit_intercept=fit_intercept, dtype="float64"
        ).fit(X, y)
        exact = LinearRegressor(solver="exact", fit_intercept=fit_intercept).fit(X, y)
        np.testing.assert_allclose(est.coef_, exact.coef_, rtol=1e-5)
        if not fit_intercept:
            assert est.intercept_ == 0.0


def test_standardize_false_is_the_raw_seed_loop():
    x = np.linspace(0, 10, 100)
    y = x + np.random.RandomState(0).normal(0, 1, 100)
    est = LinearRegressor(
        learning_rate=0.01, max_iter=100, standardize=False, tol=None
    ).fit(x[:, None], y)
    r = y  # epoch 0: w = b = 0
    assert est.loss_curve_[0] == pytest.approx(np.mean(r**2), rel=1e-6)
    assert est.learning_rate_ == 0.01 and est.n_iter_ == 100


def test_loss_curve_is_in_the_targets_units_when_standardized(problem):
    X, y, _ = problem
    est = LinearRegressor().fit(X, 1000 * y)
    mse = np.mean((est.predict(X) - 1000 * y) ** 2)
    assert est.loss_curve_[-1] == pytest.approx(mse, rel=1e-3)


@pytest.mark.parametrize("optimizer", ["momentum", "adam"])
def test_other_optimizers_approach_the_optimum(optimizer):
    X, y, _ = correlated_problem(3000, 4, seed=10)
    est = LinearRegressor(optimizer=optimizer, dtype="float64", max_iter=3000).fit(X, y)
    assert relative_excess_mse(X, y, est.coef_, est.intercept_) < 1e-4


def test_nesterov_momentum_converges():
    X, y, _ = correlated_problem(3000, 4, seed=11)
    est = LinearRegressor(optimizer="momentum", nesterov=True, dtype="float64").fit(
        X, y
    )
    assert relative_excess_mse(X, y, est.coef_, est.intercept_) < 1e-6


def test_minibatch_sgd_gets_close_and_is_seeded(problem):
    X, y, _ = problem
    fits = [
        LinearRegressor(batch_size=64, max_iter=20, tol=None, random_state=3).fit(X, y)
        for _ in range(2)
    ]
    np.testing.assert_array_equal(fits[0].coef_, fits[1].coef_)
    assert relative_excess_mse(X, y, fits[0].coef_, fits[0].intercept_) < 0.05


def test_max_iter_reached_warns_with_the_remedy(problem):
    X, y, _ = problem
    with pytest.warns(ConvergenceWarning, match="raise max_iter"):
        LinearRegressor(max_iter=3).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        LinearRegressor(max_iter=3, tol=None).fit(X, y)


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("learning_rate", 0),
        ("learning_rate", -1.0),
        ("learning_rate", "fast"),
        ("max_iter", 0),
        ("max_iter", 2.5),
        ("optimizer", "sgd"),
        ("batch_size", 0),
        ("tol", -1e-3),
        ("solver", "lbfgs"),
        ("dtype", "float16"),
        ("momentum", 1.5),
        ("n_iter_no_change", 0),
        ("verbose", 3),
        ("engine", "gpu"),
        ("optimizer", "lbfgs"),
    ],
)
def test_bad_parameters_name_the_parameter_and_value(problem, param, value):
    X, y, _ = problem
    with pytest.raises(ParameterError, match=f"{param} must be .*got {value!r}"):
        LinearRegressor(**{param: value}).fit(X, y)
    assert issubclass(ParameterError, TaperegError) and issubclass(
        TaperegError, ValueError
    )


def test_dataframes_give_feature_and_target_names(problem):
    X, y, _ = problem
    frame = pd.DataFrame(X, columns=list("abcde"))
    est = LinearRegressor().fit(frame, pd.Series(y, name="price"))
    assert list(est.feature_names_in_) == list("abcde")
    assert list(est.target_names_) == ["price"]


def test_clone_and_pickle_keep_no_tensorflow_state(problem):
    X, y, _ = problem
    est = LinearRegressor(max_iter=50, tol=None).fit(X, y)
    again = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(again.predict(X), est.predict(X))
    assert clone(est).get_params() == est.get_params()


def test_collinear_columns_warn_with_the_exact_solver():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((50, 2))
    X = np.column_stack([X, X[:, 0]])
    with pytest.warns(CollinearityWarning, match="'x0', 'x2'"):
        LinearRegressor(solver="exact").fit(X, X[:, 0] + X[:, 1])


@pytest.mark.parametrize("verbose", [1, 2])
def test_verbose_prints_each_epoch(problem, capsys, verbose):
    X, y, _ = problem
    LinearRegressor(max_iter=4, tol=None, verbose=verbose).fit(X, y)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == [f"epoch {k}" for k in range(4)]


def test_verbose_zero_is_silent(problem, capsys):
    X, y, _ = problem
    LinearRegressor(max_iter=4, tol=None).fit(X, y)
    assert capsys.readouterr().out == ""


def test_logdir_writes_tensorboard_scalars(tmp_path, problem):
    import tensorflow as tf

    X, y, _ = problem
    est = LinearRegressor(logdir=tmp_path, optimizer="gd", max_iter=30, tol=None)
    est.fit(X, y)
    scalars = {}
    for path in tmp_path.glob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                scalars.setdefault(value.tag, {})[event.step] = float(
                    tf.make_ndarray(value.tensor)
                )
    assert set(scalars) == {"loss", "gradient_norm", "learning_rate"}
    assert sorted(scalars["loss"]) == list(range(30))
    np.testing.assert_allclose(
        [scalars["loss"][k] for k in range(30)], est.loss_curve_, rtol=1e-6
    )
    assert all(
        v == pytest.approx(est.learning_rate_, rel=1e-6)
        for v in scalars["learning_rate"].values()
    )
    norms = [scalars["gradient_norm"][k] for k in range(30)]
    assert norms[-1] < norms[0] / 10  # gradient descent drives the gradient down
