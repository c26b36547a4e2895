"""LinearRegressorCV against scikit-learn: ElasticNetCV's alphas, MSE path, choice
and refit on the diabetes data, ridge against per-fold Ridge fits; streamed and
two-worker folds against the same folds in memory; the command line's --alpha cv."""

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_diabetes
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import ElasticNetCV, Ridge
from sklearn.model_selection import KFold, ShuffleSplit

from tapereg import (
    DataError,
    LinearRegressor,
    LinearRegressorCV,
    ParameterError,
    export_saved_model,
    load,
    save,
)
from tapereg.cli import main


@pytest.fixture(scope="module")
def diabetes():
    return load_diabetes(return_X_y=True)


def _weights(n):
    return np.random.default_rng(0).uniform(0.2, 3.0, n)


def _elasticnet_cv(X, y, sample_weight=None, **params):
    """scikit-learn's ElasticNetCV, converged far below our tolerances."""
    params = {"cv": KFold(5), "tol": 1e-10, "max_iter": 100_000, **params}
    return ElasticNetCV(**params).fit(X, y, sample_weight=sample_weight)


def _assert_same_as(ours, theirs):
    """The same alphas, MSE path, choice and refit as ElasticNetCV's."""
    assert ours.alpha_ == pytest.approx(theirs.alpha_, rel=1e-12)
    assert ours.l1_ratio_ == theirs.l1_ratio_
    np.testing.assert_allclose(ours.alphas_, theirs.alphas_, rtol=1e-12)
    assert ours.mse_path_.shape == theirs.mse_path_.shape
    np.testing.assert_allclose(ours.mse_path_, theirs.mse_path_, rtol=1e-6)
    scale = np.abs(theirs.coef_).max()
    np.testing.assert_allclose(ours.coef_, theirs.coef_, atol=1e-6 * scale)
    assert ours.intercept_ == pytest.approx(theirs.intercept_, abs=1e-6 * scale)


@pytest.mark.parametrize("l1_ratio", [0.5, 1.0])
def test_the_path_and_the_choice_are_elasticnetcvs(diabetes, l1_ratio):
    X, y = diabetes
    ours = LinearRegressorCV(l1_ratio=l1_ratio).fit(X, y)
    _assert_same_as(ours, _elasticnet_cv(X, y, l1_ratio=l1_ratio))
    assert ours.mse_path_.shape == (100, 5)
    assert (np.diff(ours.alphas_) < 0).all()


def test_several_l1_ratios_are_chosen_among_as_elasticnetcv_does(diabetes):
    X, y = diabetes
    ratios = [0.1, 0.5, 1.0]
    ours = LinearRegressorCV(l1_ratio=ratios).fit(X, y)
    theirs = _elasticnet_cv(X, y, l1_ratio=ratios)
    assert ours.alphas_.shape == (3, 100) and ours.mse_path_.shape == (3, 100, 5)
    _assert_same_as(ours, theirs)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_sample_weights_weigh_every_fold_as_elasticnetcvs(diabetes, fit_intercept):
    X, y = diabetes
    w = _weights(len(y))
    ours = LinearRegressorCV(l1_ratio=0.5, fit_intercept=fit_intercept)
    ours.fit(X, y, sample_weight=w)
    theirs = _elasticnet_cv(X, y, w, l1_ratio=0.5, fit_intercept=fit_intercept)
    _assert_same_as(ours, theirs)


def test_given_alphas_and_a_splitter_that_does_not_partition(diabetes):
    """Shuffled, overlapping test sets: each training set's own moments."""
    X, y = diabetes
    cv = ShuffleSplit(n_splits=3, test_size=0.25, random_state=0)
    alphas = [0.1, 0.01, 1.0, 0.001]  # tried in descending order
    ours = LinearRegressorCV(l1_ratio=0.7, alphas=alphas, cv=cv).fit(X, y)
    _assert_same_as(ours, _elasticnet_cv(X, y, l1_ratio=0.7, alphas=alphas, cv=cv))


def test_ridge_against_ridge_on_every_fold(diabetes):
    """l1_ratio=0 with two targets and weights: each fold's closed form is
    scikit-learn's Ridge with its alpha on the sum (alpha·Σs_train)."""
    X, y = diabetes
    Y = np.column_stack([y, np.log(y)])
    w = _weights(len(y))
    alphas = np.geomspace(1e-2, 1e-7, 12)
    ours = LinearRegressorCV(alphas=alphas, solver="exact").fit(X, Y, sample_weight=w)
    expected = np.empty((len(alphas), 5))
    for k, (train, test) in enumerate(KFold(5).split(X)):
        for a, alpha in enumerate(alphas):
            ridge = Ridge(alpha=alpha * w[train].sum(), solver="cholesky")
            ridge.fit(X[train], Y[train], sample_weight=w[train])
            residual = Y[test] - ridge.predict(X[test])
            expected[a, k] = np.average(residual**2, axis=0, weights=w[test]).mean()
    np.testing.assert_allclose(ours.mse_path_, expected, rtol=1e-7)
    best = alphas[np.argmin(expected.mean(axis=1))]
    assert ours.alpha_ == best and ours.l1_ratio_ == 0
    refit = Ridge(alpha=best * w.sum(), solver="cholesky").fit(X, Y, sample_weight=w)
    np.testing.assert_allclose(ours.coef_, refit.coef_, rtol=1e-7)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_the_ridge_grid_is_glmnets_on_standardized_data(diabetes):
    """Ridge's automatic grid, on unit-variance features and target, is
    scikit-learn's grid for l1_ratio = 1e-3 (glmnet's rule)."""
    X, y = diabetes
    Z = (X - X.mean(axis=0)) / X.std(axis=0)
    target = (y - y.mean()) / y.std()
    theirs = ElasticNetCV(l1_ratio=1e-3, cv=2, max_iter=1).fit(Z, target)
    ours = LinearRegressorCV(solver="exact").fit(Z, target)
    np.testing.assert_allclose(ours.alphas_, theirs.alphas_, rtol=1e-12)


def _interleaved(n_rows, n_folds=5):
    """The folds of a stream: row i in fold i mod K."""
    rows = np.arange(n_rows)
    return [
        (rows[rows % n_folds != k], rows[rows % n_folds == k]) for k in range(n_folds)
    ]


def test_a_stream_deals_rows_to_folds_in_turn(diabetes):
    X, y = diabetes
    w = _weights(len(y))
    blocks = [(X[i : i + 50], y[i : i + 50], w[i : i + 50]) for i in range(0, 442, 50)]
    streamed = LinearRegressorCV(l1_ratio=0.5, dtype="float64").fit_stream(blocks)
    theirs = _elasticnet_cv(X, y, w, l1_ratio=0.5, cv=_interleaved(len(y)))
    _assert_same_as(streamed, theirs)
    # In memory, given the stream's folds: the same moments, so the same path.
    in_memory = LinearRegressorCV(l1_ratio=0.5, cv=_interleaved(len(y)))
    in_memory.fit(X, y, sample_weight=w)
    assert in_memory.alpha_ == streamed.alpha_
    np.testing.assert_allclose(in_memory.mse_path_, streamed.mse_path_, rtol=1e-12)


def test_the_fitted_model_is_a_linear_regressor(diabetes, tmp_path):
    """predict, score, save/load (as the refit's LinearRegressor) and export."""
    X, y = diabetes
    frame = pd.DataFrame(X, columns=[f"x{j}" for j in range(10)])
    model = LinearRegressorCV(l1_ratio=0.5, alphas=20).fit(frame, y)
    assert isinstance(model, LinearRegressor)
    assert not hasattr(model, "partial_fit")
    save(model, tmp_path / "m.json")
    loaded = load(tmp_path / "m.json")
    assert type(loaded) is LinearRegressor
    assert (loaded.alpha, loaded.l1_ratio) == (model.alpha_, model.l1_ratio_)
    np.testing.assert_array_equal(loaded.predict(frame), model.predict(frame))
    assert model.score(frame, y) == pytest.approx(loaded.score(frame, y))
    metadata = export_saved_model(model, tmp_path / "export")
    assert metadata["signatures"] == ["serving_default", "predict_matrix"]
    import tensorflow as tf

    served = tf.saved_model.load(str(tmp_path / "export"))
    matrix = served.signatures["predict_matrix"](tf.constant(X, tf.float32))
    np.testing.assert_allclose(
        matrix["predictions"].numpy().ravel(), model.predict(frame), rtol=1e-5
    )
    with pytest.raises(ParameterError, match="penalty"):
        model.summary()


def test_unusable_input_is_refused_in_words(diabetes):
    X, y = diabetes
    for params, message in (
        ({"cv": 1}, "cv must be at least 2"),
        ({"alphas": [-1.0]}, "alphas must be"),
        ({"alphas": 0}, "alphas must be"),
        ({"l1_ratio": [0.5, 2]}, "l1_ratio must be"),
        ({"eps": 0}, "eps must be"),
        ({"l1_ratio": 0.5, "solver": "exact"}, "ridge only"),
    ):
        with pytest.raises(ParameterError, match=message):
            LinearRegressorCV(**params).fit(X, y)
    with pytest.raises(ParameterError, match="several targets"):
        LinearRegressorCV(l1_ratio=0.5).fit(X, np.column_stack([y, y]))
    with pytest.raises(ParameterError, match="number of folds"):
        LinearRegressorCV(cv=KFold(3)).fit_stream([(X, y)])
    with pytest.raises(DataError, match="n_samples=4"):
        LinearRegressorCV().fit(X[:4], y[:4])
    with pytest.raises(DataError, match="fold 4 of 5 has no rows"):
        LinearRegressorCV().fit_stream([(X[:4], y[:4])])


def test_too_few_sweeps_warn(diabetes):
    X, y = diabetes
    with pytest.warns(ConvergenceWarning, match="raise max_iter"):
        LinearRegressorCV(l1_ratio=1.0, max_iter=1, alphas=5).fit(X, y)


# -- the command line ------------------------------------------------------------


@pytest.fixture(scope="module")
def diabetes_csv(tmp_path_factory, diabetes):
    X, y = diabetes
    path = tmp_path_factory.mktemp("cv") / "diabetes.csv"
    pd.DataFrame(X, columns=[f"x{j}" for j in range(10)]).assign(y=y).to_csv(
        path, index=False
    )
    return path


@pytest.mark.parametrize("stream", [False, True])
def test_cli_alpha_cv_reports_the_choice_and_the_path(
    capsys, diabetes, diabetes_csv, stream
):
    X, y = diabetes
    argv = ["fit", str(diabetes_csv), "--target", "y", "--json", "--quiet"]
    argv += ["--alpha", "cv", "--l1-ratio", "0.5,1", "--cv", "4"]
    assert main(argv + ["--stream"] * stream) == 0
    report = json.loads(capsys.readouterr().out)
    cv = _interleaved(len(y), 4) if stream else KFold(4)
    theirs = _elasticnet_cv(X, y, l1_ratio=[0.5, 1.0], cv=cv)
    assert report["alpha_"] == pytest.approx(theirs.alpha_, rel=1e-12)
    assert report["l1_ratio_"] == theirs.l1_ratio_
    path = report["cv"]["path"]
    assert [p["l1_ratio"] for p in path] == [0.5, 1.0]
    assert report["cv"]["folds"] == 4 and report["cv"]["folds_interleaved"] == stream
    np.testing.assert_allclose(
        [p["mean_mse"] for p in path], theirs.mse_path_.mean(axis=2), rtol=1e-6
    )
    np.testing.assert_allclose([p["alphas"] for p in path], theirs.alphas_)


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--alpha", "cv", "--cv", "1"], "argument --cv: must be at least 2 folds"),
        (["--alpha", "cv", "--alphas", "-1"], "argument --alphas: must be a number"),
        (["--alphas", "1,2"], "--alphas is for --alpha cv"),
    ],
)
def test_cli_bad_cv_flags_are_one_line_and_exit_2(capsys, diabetes_csv, flags, message):
    try:
        status = main(["fit", str(diabetes_csv), "--target", "y", *flags])
    except SystemExit as exit:  # argparse's
        status = exit.code
    err = capsys.readouterr().err
    assert status == 2
    assert message in err and len(err.strip().splitlines()) == 1, err


def test_two_workers_pool_each_fold_of_their_streams(tmp_path, diabetes):
    """Across workers, fold k is every worker's rows i with i mod K = k (i the
    row's index in that worker's own stream): ElasticNetCV on those folds."""
    from test_distributed import _cli_workers

    from tapereg.io.readers import open_table, shard_of

    X, y = diabetes
    frame = pd.DataFrame(X, columns=[f"x{j}" for j in range(10)]).assign(y=y)
    frame.iloc[:230].to_csv(tmp_path / "d1.csv", index=False)
    frame.iloc[230:].to_csv(tmp_path / "d2.csv", index=False)
    argv = ["fit", "d1.csv", "d2.csv", "--target", "y", "--json", "--quiet"]
    argv += ["--alpha", "cv", "--l1-ratio", "0.5", "--strategy", "multi-worker"]
    workers = _cli_workers(tmp_path, argv)
    outputs = [process.communicate(timeout=240) for process in workers]
    for process, (_, err) in zip(workers, outputs, strict=True):
        assert process.returncode == 0, err[-2000:]
    chief = json.loads(outputs[0][0])
    # Each worker's rows in the order it read them, and their folds.
    stream = open_table([tmp_path / "d1.csv", tmp_path / "d2.csv"], "y")
    parts = [list(shard_of(stream, k, 2)) for k in range(2)]
    X_all = np.vstack([b[0] for part in parts for b in part])
    y_all = np.concatenate([b[1][:, 0] for part in parts for b in part])
    local = np.concatenate(
        [np.arange(sum(b[0].shape[0] for b in part)) for part in parts]
    )
    assert 0 < local[-1] + 1 < len(y)  # both workers had rows
    rows = np.arange(len(y))
    folds = [(rows[local % 5 != k], rows[local % 5 == k]) for k in range(5)]
    theirs = _elasticnet_cv(X_all, y_all, l1_ratio=0.5, cv=folds)
    assert chief["alpha_"] == pytest.approx(theirs.alpha_, rel=1e-12)
    assert chief["cv"]["folds_interleaved"]
    np.testing.assert_allclose(
        chief["cv"]["path"][0]["mean_mse"], theirs.mse_path_.mean(axis=1), rtol=1e-6
    )
    scale = np.abs(theirs.coef_).max()
    np.testing.assert_allclose(chief["coef"], theirs.coef_, atol=1e-4 * scale)


def test_the_report_says_when_the_choice_is_the_grids_smallest_alpha():
    from tapereg.reports.report import format_cv

    path = [{"l1_ratio": 0.5, "alphas": [1.0, 0.1, 0.01], "mean_mse": [3, 2, 1]}]
    cv = {"alpha": 0.01, "l1_ratio": 0.5, "folds": 5, "folds_interleaved": False}
    assert "the smallest alpha tried" in format_cv({**cv, "path": path})
    inside = [{**path[0], "mean_mse": [3, 1, 2]}]
    assert "smallest" not in format_cv({**cv, "alpha": 0.1, "path": inside})
