"""Covariances (nonrobust, HC0–HC3) and their tables against statsmodels' OLS and WLS.

statsmodels is the independent reference: the same definitions and small-sample
corrections (``fit(cov_type=...)``), its default normal-distribution inference for
robust types. Data: stackloss (statsmodels) and diabetes (scikit-learn).
"""

import itertools

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from tapereg import LinearRegressor, load, save
from tapereg.errors import ParameterError

COV_TYPES = ["nonrobust", "HC0", "HC1", "HC2", "HC3"]


def _stackloss():
    data = sm.datasets.stackloss.load_pandas()
    return data.exog, data.endog


def _diabetes():
    from sklearn.datasets import load_diabetes

    data = load_diabetes(as_frame=True, scaled=False)
    return data.data, data.target


DATA = {"stackloss": _stackloss, "diabetes": _diabetes}


def _reference(X, y, weights, cov_type):
    exog = sm.add_constant(X)
    model = sm.OLS(y, exog) if weights is None else sm.WLS(y, exog, weights=weights)
    return model.fit() if cov_type == "nonrobust" else model.fit(cov_type=cov_type)


def _weights(n):
    return np.random.default_rng(0).uniform(0.5, 2.0, n)


def _hc_covariances(X, y, weights, fit_intercept=True, blocks=None):
    """HC0–HC3 from numerics.robust on the exact solution's bread (the pieces the
    fit will use once the pass is wired in)."""
    from tapereg.numerics.exact import solve_least_squares
    from tapereg.numerics.residuals import residual_pass
    from tapereg.numerics.robust import robust_covariances
    from tapereg.numerics.statistics import ols_statistics

    X, Y = np.asarray(X, float), np.asarray(y, float)[:, None]
    solution = solve_least_squares(X, Y, weights, fit_intercept=fit_intercept)
    stats = ols_statistics(
        X,
        Y,
        solution.coef,
        solution.intercept,
        solution,
        sample_weight=weights,
        fit_intercept=fit_intercept,
        feature_names=[f"x{i}" for i in range(X.shape[1])],
    )
    blocks = blocks or [(X, Y, weights)]
    _, sums, _ = residual_pass(
        [(*block, None) for block in blocks],
        solution.coef,
        solution.intercept,
        stats.bread,
        fit_intercept,
        meats=True,
        clusters=False,
    )
    return {
        "nonrobust": stats.cov["nonrobust"],
        **robust_covariances(stats, sums, fit_intercept),
    }


@pytest.mark.parametrize("name", DATA)
@pytest.mark.parametrize("weighted", [False, True], ids=["OLS", "WLS"])
def test_sandwiches_equal_statsmodels(name, weighted):
    X, y = DATA[name]()
    weights = _weights(len(y)) if weighted else None
    ours = _hc_covariances(X, y, weights)
    for cov_type in COV_TYPES:
        reference = _reference(X, y, weights, cov_type).cov_params().to_numpy()
        np.testing.assert_allclose(ours[cov_type][0], reference, rtol=1e-8)


def test_sandwiches_without_an_intercept_and_in_blocks():
    X, y = _stackloss()
    ours = _hc_covariances(X, y, None, fit_intercept=False)
    Xa, ya = X.to_numpy(float), y.to_numpy(float)[:, None]
    blocks = [(Xa[:5], ya[:5], None), (Xa[5:6], ya[5:6], None), (Xa[6:], ya[6:], None)]
    in_blocks = _hc_covariances(X, y, None, fit_intercept=False, blocks=blocks)
    for cov_type in COV_TYPES:
        ols = sm.OLS(y, X)
        reference = ols.fit() if cov_type == "nonrobust" else ols.fit(cov_type=cov_type)
        np.testing.assert_allclose(
            ours[cov_type][0], reference.cov_params().to_numpy(), rtol=1e-8
        )
        np.testing.assert_allclose(in_blocks[cov_type], ours[cov_type], rtol=1e-12)


@pytest.mark.parametrize("name", DATA)
@pytest.mark.parametrize("weighted", [False, True], ids=["OLS", "WLS"])
@pytest.mark.parametrize("solver", ["exact", "gd"])
def test_fits_covariances_and_tables_equal_statsmodels(name, weighted, solver):
    X, y = DATA[name]()
    weights = _weights(len(y)) if weighted else None
    model = LinearRegressor(solver=solver, cov_type="HC1")
    model.fit(X, y, sample_weight=weights)
    rtol = 1e-8 if solver == "exact" else 1e-3
    for cov_type in COV_TYPES:
        reference = _reference(X, y, weights, cov_type)
        cov = model.cov_params(cov_type)
        assert list(cov.index) == list(cov.columns) == ["intercept", *X.columns]
        np.testing.assert_allclose(cov.to_numpy(), reference.cov_params(), rtol=rtol)
        table = model.summary(cov_type=cov_type)
        np.testing.assert_allclose(table.std_err, reference.bse, rtol=rtol)
        np.testing.assert_allclose(table.t, reference.tvalues, rtol=rtol)
        np.testing.assert_allclose(table.p_value, reference.pvalues, rtol=1e3 * rtol)
        interval = reference.conf_int().to_numpy()
        np.testing.assert_allclose(table.ci_low, interval[:, 0], rtol=rtol)
        np.testing.assert_allclose(table.ci_high, interval[:, 1], rtol=rtol)
    # The estimator's cov_type is the default of summary() and cov_params(), and
    # its F is the Wald F under that covariance, as statsmodels'.
    pd.testing.assert_frame_equal(model.summary(), model.summary(cov_type="HC1"))
    reference = _reference(X, y, weights, "HC1")
    np.testing.assert_allclose(model.fvalue_, reference.fvalue, rtol=rtol)
    np.testing.assert_allclose(model.f_pvalue_, reference.f_pvalue, rtol=1e3 * rtol)


def test_a_nonrobust_fit_takes_no_pass_and_says_how_to_get_one():
    X, y = _stackloss()
    model = LinearRegressor(solver="exact").fit(X, y)
    assert set(model.statistics_.cov) == {"nonrobust"}
    with pytest.raises(ParameterError, match=r"refit with cov_type='HC3'"):
        model.summary(cov_type="HC3")


def test_streamed_blocks_equal_the_arrays():
    X, y = _diabetes()
    weights = _weights(len(y))
    cuts = [0, 100, 101, 300, len(y)]
    blocks = [
        (X.to_numpy()[a:b], y.to_numpy()[a:b], weights[a:b])
        for a, b in itertools.pairwise(cuts)
    ]
    streamed = LinearRegressor(cov_type="HC2").fit_stream(blocks)
    whole = LinearRegressor(cov_type="HC2").fit(X, y, sample_weight=weights)
    for cov_type in COV_TYPES:
        np.testing.assert_allclose(
            streamed.cov_params(cov_type).to_numpy(),
            whole.cov_params(cov_type).to_numpy(),
            rtol=1e-9,
        )


def test_several_targets_have_each_their_own(tmp_path):
    X, y = _stackloss()
    Y = pd.DataFrame({"a": y, "b": np.log(y) * 3})
    both = LinearRegressor(solver="exact", cov_type="HC3").fit(X, Y)
    save(both, tmp_path / "m.json")
    loaded = load(tmp_path / "m.json")
    for cov_type in COV_TYPES:
        for target in Y:
            alone = LinearRegressor(solver="exact", cov_type="HC0").fit(X, Y[target])
            np.testing.assert_allclose(
                both.cov_params(cov_type).loc[target].to_numpy(),
                alone.cov_params(cov_type).to_numpy(),
                rtol=1e-10,
            )
        np.testing.assert_array_equal(
            loaded.cov_params(cov_type), both.cov_params(cov_type)
        )
        pd.testing.assert_frame_equal(
            loaded.summary(cov_type=cov_type), both.summary(cov_type=cov_type)
        )


def test_an_unknown_cov_type_is_named():
    X, y = _stackloss()
    model = LinearRegressor(solver="exact").fit(X, y)
    with pytest.raises(ParameterError, match="cov_type must be one of nonrobust"):
        model.summary(cov_type="HC9")
    with pytest.raises(ParameterError, match="cov_type must be one of"):
        model.cov_params("robust")
    with pytest.raises(ParameterError, match="cov_type must be one of nonrobust"):
        LinearRegressor(cov_type="HC9").fit(X, y)


@pytest.mark.parametrize("stream", [False, True], ids=["in-memory", "streamed"])
def test_the_cli_reports_the_covariance_it_was_asked_for(tmp_path, capsys, stream):
    import json

    from tapereg.cli import main

    X, y = _stackloss()
    path = tmp_path / "stack.csv"
    X.assign(loss=y).to_csv(path, index=False)
    args = ["fit", str(path), "--target", "loss", "--cov-type", "HC3", "--quiet"]
    args += ["--stream"] if stream else []
    assert main([*args, "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)["summary"]
    reference = _reference(X, y, None, "HC3")
    assert summary["cov_type"] == "HC3"
    np.testing.assert_allclose(summary["std_err"], reference.bse, rtol=1e-6)
    np.testing.assert_allclose(summary["p_value"], reference.pvalues, rtol=1e-5)
    assert main([*args, "--summary"]) == 0
    text = capsys.readouterr().out
    assert "P>|z|" in text and "Covariance Type:                  HC3" in text


# -- intervals for new rows ----------------------------------------------------------


@pytest.mark.parametrize("name", DATA)
@pytest.mark.parametrize(
    ("cov_type", "weighted"),
    [("nonrobust", False), ("nonrobust", True), ("HC1", False), ("HC3", True)],
)
def test_prediction_intervals_equal_statsmodels(name, cov_type, weighted):
    X, y = DATA[name]()
    weights = _weights(len(y)) if weighted else None
    model = LinearRegressor(solver="exact", cov_type=cov_type)
    model.fit(X, y, sample_weight=weights)
    new = X.iloc[::7]
    ours = model.predict_interval(new, level=0.9)
    reference = (
        _reference(X, y, weights, cov_type)
        .get_prediction(sm.add_constant(X).iloc[::7])
        .summary_frame(alpha=0.1)
    )
    assert list(ours.columns) == list(reference.columns)
    assert list(ours.index) == list(new.index)
    np.testing.assert_allclose(ours.to_numpy(), reference.to_numpy(), rtol=1e-9)


def test_prediction_intervals_per_target_and_after_load(tmp_path):
    X, y = _stackloss()
    Y = pd.DataFrame({"a": y, "b": np.log(y) * 3})
    both = LinearRegressor(solver="exact").fit(X, Y)
    save(both, tmp_path / "m.json")
    frame = load(tmp_path / "m.json").predict_interval(X)
    assert list(frame.columns.levels[0]) == ["a", "b"]
    for target in Y:
        alone = LinearRegressor(solver="exact").fit(X, Y[target])
        np.testing.assert_allclose(
            frame[target].to_numpy(), alone.predict_interval(X).to_numpy(), rtol=1e-10
        )


def test_the_cli_writes_the_intervals(tmp_path, capsys):
    from tapereg.cli import main

    X, y = _stackloss()
    data = tmp_path / "stack.csv"
    X.assign(loss=y).to_csv(data, index=False)
    model, out = tmp_path / "m.json", tmp_path / "p.csv"
    args = ["fit", str(data), "--target", "loss", "--solver", "exact"]
    assert main([*args, "--cov-type", "HC2", "--save", str(model), "--quiet"]) == 0
    assert (
        main(["predict", str(model), str(data), "--interval", "0.8", "--out", str(out)])
        == 0
    )
    written = pd.read_csv(out)
    reference = (
        _reference(X, y, None, "HC2")
        .get_prediction(sm.add_constant(X))
        .summary_frame(alpha=0.2)
    )
    assert list(written.columns) == list(reference.columns)
    np.testing.assert_allclose(written.to_numpy(), reference.to_numpy(), rtol=1e-9)
    capsys.readouterr()
    unfitted = tmp_path / "n.json"
    assert main([*args, "--no-statistics", "--save", str(unfitted), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["predict", str(unfitted), str(data), "--interval", "0.9"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "tapereg: error: predict_interval() needs the OLS statistics, which this "
        "model was fitted without (--no-statistics); refit without --no-statistics\n"
    )


# -- Longley: exact rational arithmetic as the reference ----------------------------


def _exact_sandwiches(Xc, y):
    """HC0, HC2, HC3 of OLS on (Xc, y) in exact rational arithmetic (the float64
    inputs taken as the exact numbers they are)."""
    from fractions import Fraction

    A = [[Fraction(v) for v in row] for row in Xc]
    b = [Fraction(v) for v in y]
    n, p = len(A), len(A[0])
    gram = [
        [sum(A[i][j] * A[i][k] for i in range(n)) for k in range(p)] for j in range(p)
    ]
    # Gauss-Jordan on [XᵀX | I].
    rows = [gram[j][:] + [Fraction(int(j == k)) for k in range(p)] for j in range(p)]
    for c in range(p):
        pivot = next(r for r in range(c, p) if rows[r][c] != 0)
        rows[c], rows[pivot] = rows[pivot], rows[c]
        rows[c] = [v / rows[c][c] for v in rows[c]]
        for r in range(p):
            if r != c and rows[r][c] != 0:
                f = rows[r][c]
                rows[r] = [a - f * z for a, z in zip(rows[r], rows[c], strict=True)]
    inv = [row[p:] for row in rows]
    xty = [sum(A[i][j] * b[i] for i in range(n)) for j in range(p)]
    beta = [sum(inv[j][k] * xty[k] for k in range(p)) for j in range(p)]
    e = [b[i] - sum(A[i][k] * beta[k] for k in range(p)) for i in range(n)]
    h = [
        sum(A[i][j] * inv[j][k] * A[i][k] for j in range(p) for k in range(p))
        for i in range(n)
    ]

    def sandwich(m):
        meat = [
            [
                sum(e[i] ** 2 / (1 - h[i]) ** m * A[i][j] * A[i][k] for i in range(n))
                for k in range(p)
            ]
            for j in range(p)
        ]
        left = [
            [sum(inv[j][a] * meat[a][k] for a in range(p)) for k in range(p)]
            for j in range(p)
        ]
        return np.array(
            [
                [float(sum(left[j][a] * inv[a][k] for a in range(p))) for k in range(p)]
                for j in range(p)
            ]
        )

    return {"HC0": sandwich(0), "HC2": sandwich(1), "HC3": sandwich(2)}


def test_longleys_sandwiches_keep_their_digits():
    """Longley (κ ≈ 5e9): against exact rational arithmetic the sandwiches are
    right to about 1e-11, where statsmodels' (leverages from pinv of the raw
    columns) are off by about 1e-8; a reason to centre."""
    data = sm.datasets.longley.load_pandas()
    X, y = data.exog, data.endog
    exact = _exact_sandwiches(sm.add_constant(X).to_numpy(float), y.to_numpy(float))
    model = LinearRegressor(solver="exact", cov_type="HC3").fit(X, y)
    for cov_type, reference in exact.items():
        np.testing.assert_allclose(
            model.cov_params(cov_type).to_numpy(), reference, rtol=1e-10
        )


# -- cluster-robust -------------------------------------------------------------------


def _clustered():
    X, y = _diabetes()
    return X, y, (X["age"] // 10).astype(int).to_numpy()


# statsmodels warns that 7 clusters give the 10 slopes' covariance rank 6.
@pytest.mark.filterwarnings("ignore::statsmodels.tools.sm_exceptions.ValueWarning")
@pytest.mark.parametrize("weighted", [False, True], ids=["OLS", "WLS"])
@pytest.mark.parametrize("solver", ["exact", "gd"])
def test_cluster_robust_errors_equal_statsmodels(weighted, solver):
    X, y, groups = _clustered()
    weights = _weights(len(y)) if weighted else None
    model = LinearRegressor(solver=solver, cov_type="cluster")
    with pytest.warns(UserWarning, match="7 clusters for 10 slopes"):
        model.fit(X, y, sample_weight=weights, groups=groups)
    exog = sm.add_constant(X)
    ols = sm.OLS(y, exog) if weights is None else sm.WLS(y, exog, weights=weights)
    reference = ols.fit(cov_type="cluster", cov_kwds={"groups": groups})
    rtol = 1e-8 if solver == "exact" else 1e-3
    np.testing.assert_allclose(model.cov_params(), reference.cov_params(), rtol=rtol)
    table = model.summary()
    np.testing.assert_allclose(table.std_err, reference.bse, rtol=rtol)
    np.testing.assert_allclose(table.p_value, reference.pvalues, rtol=1e3 * rtol)
    np.testing.assert_allclose(table.ci_low, reference.conf_int()[0], rtol=rtol)
    # 7 clusters: the Wald F has rank 6 and G − 1 = 6 denominator degrees.
    np.testing.assert_allclose(model.fvalue_, reference.fvalue, rtol=rtol)
    np.testing.assert_allclose(model.f_pvalue_, reference.f_pvalue, rtol=1e3 * rtol)


@pytest.mark.filterwarnings("ignore:7 clusters for 10 slopes:UserWarning")
def test_cluster_labels_in_blocks_equal_the_arrays(tmp_path):
    X, y, groups = _clustered()
    labels = np.array([f"decade {g}" for g in groups], dtype=object)
    whole = LinearRegressor(cov_type="cluster").fit(X, y, groups=labels)
    cuts = [0, 57, 58, 300, len(y)]
    blocks = [
        (X.to_numpy()[a:b], y.to_numpy()[a:b], None, labels[a:b])
        for a, b in itertools.pairwise(cuts)
    ]
    streamed = LinearRegressor(cov_type="cluster").fit_stream(blocks)
    np.testing.assert_allclose(streamed.cov_params(), whole.cov_params(), rtol=1e-9)
    save(streamed, tmp_path / "m.json")
    np.testing.assert_array_equal(
        load(tmp_path / "m.json").cov_params(), streamed.cov_params()
    )
    # Labels given with another cov_type: the cluster covariance is kept too.
    hc = LinearRegressor(solver="exact", cov_type="HC1").fit(X, y, groups=labels)
    np.testing.assert_allclose(hc.cov_params("cluster"), whole.cov_params(), rtol=1e-3)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("n_groups", [4, 5])
def test_few_clusters_warn_where_statsmodels_does(n_groups, fit_intercept):
    """4 slopes: statsmodels' F warns that the covariance of the constraints has
    rank 3 < 4 with 4 clusters, not with 5; tapereg warns alike, at the user's
    line, and reports statsmodels' F (numerator degrees of freedom: the rank)."""
    import warnings

    from statsmodels.tools.sm_exceptions import ValueWarning

    X, y = _diabetes()
    X = X[["age", "bmi", "bp", "s5"]]
    groups = np.arange(len(y)) % n_groups
    exog = sm.add_constant(X) if fit_intercept else X
    reference = sm.OLS(y, exog).fit(cov_type="cluster", cov_kwds={"groups": groups})
    with warnings.catch_warnings(record=True) as theirs:
        warnings.simplefilter("always")
        f_reference = reference.fvalue
    model = LinearRegressor(
        solver="exact", cov_type="cluster", fit_intercept=fit_intercept
    )
    with warnings.catch_warnings(record=True) as ours:
        warnings.simplefilter("always")
        model.fit(X, y, groups=groups)
    rank_deficient = [w for w in theirs if issubclass(w.category, ValueWarning)]
    assert len(rank_deficient) == len(ours) == (n_groups == 4)
    if ours:
        assert "The number of constraints is 4, but rank is 3" in str(
            rank_deficient[0].message
        )
        assert ours[0].category is UserWarning
        assert ours[0].filename == __file__
        assert str(ours[0].message).startswith(
            "4 clusters for 4 slopes: the cluster-robust covariance has rank at "
            "most G − 1 = 3"
        )
    np.testing.assert_allclose(model.fvalue_, f_reference, rtol=1e-9)


def test_cluster_mistakes_are_named():
    X, y, groups = _clustered()
    with pytest.raises(ParameterError, match=r"needs the cluster labels: fit\(X, y"):
        LinearRegressor(cov_type="cluster").fit(X, y)
    with pytest.raises(ParameterError, match="needs the cluster labels"):
        LinearRegressor(cov_type="cluster").fit_stream([(X.to_numpy(), y.to_numpy())])
    from tapereg.errors import DataError

    bad = groups.astype(float)
    bad[3] = np.nan
    with pytest.raises(DataError, match="groups has a missing label at row 3"):
        LinearRegressor(solver="exact").fit(X, y, groups=bad)
    with pytest.raises(DataError, match="groups has shape"):
        LinearRegressor(solver="exact").fit(X, y, groups=groups[:-1])
    model = LinearRegressor(solver="exact").fit(X, y)
    with pytest.raises(ParameterError, match="refit with cov_type='cluster'"):
        model.summary(cov_type="cluster")


# -- tests of restrictions ------------------------------------------------------------


@pytest.mark.filterwarnings("ignore::statsmodels.tools.sm_exceptions.ValueWarning")
@pytest.mark.parametrize("cov_type", ["nonrobust", "HC1", "cluster"])
def test_f_and_t_tests_equal_statsmodels(cov_type):
    X, y = _stackloss()
    groups = np.arange(len(y)) % 5
    model = LinearRegressor(solver="exact", cov_type=cov_type)
    model.fit(X, y, groups=groups)
    exog = sm.add_constant(X).rename(columns={"const": "intercept"})
    kwds = {"groups": groups} if cov_type == "cluster" else None
    ols = sm.OLS(y, exog)
    reference = (
        ols.fit()
        if cov_type == "nonrobust"
        else ols.fit(cov_type=cov_type, cov_kwds=kwds)
    )
    spec = "AIRFLOW = 0, WATERTEMP = ACIDCONC"
    ours, theirs = model.f_test(spec), reference.f_test(spec)
    np.testing.assert_allclose(ours.fvalue, np.squeeze(theirs.fvalue), rtol=1e-9)
    np.testing.assert_allclose(ours.p_value, theirs.pvalue, rtol=1e-8)
    assert (ours.df_num, ours.df_denom) == (theirs.df_num, theirs.df_denom)
    # The matrix form says the same.
    R = np.array([[0, 1, 0, 0], [0, 0, 1, -1]])
    np.testing.assert_allclose(model.f_test(R).fvalue, ours.fvalue, rtol=1e-12)
    spec = "AIRFLOW = 0.5, 2 * WATERTEMP + intercept = 30"
    table = model.t_test(spec, level=0.9)
    expected = reference.t_test(spec).summary_frame(alpha=0.1)
    assert list(table.index) == ["AIRFLOW = 0.5", "2 * WATERTEMP + intercept = 30"]
    np.testing.assert_allclose(table.to_numpy(), expected.to_numpy(), rtol=1e-9)


def test_restrictions_that_cannot_be_read_are_named():
    X, y = _stackloss()
    model = LinearRegressor(solver="exact").fit(X, y)
    with pytest.raises(ParameterError, match="name 'FLOW', which is not a term"):
        model.f_test("FLOW = 0")
    with pytest.raises(ParameterError, match="a restriction matrix needs 4 columns"):
        model.f_test(np.eye(3))


def test_the_cli_prints_f_tests(tmp_path, capsys):
    import json

    from tapereg.cli import main

    X, y = _stackloss()
    data = tmp_path / "stack.csv"
    X.assign(loss=y).to_csv(data, index=False)
    spec = "AIRFLOW = 0, WATERTEMP = ACIDCONC"
    args = ["fit", str(data), "--target", "loss", "--cov-type", "HC1", "--quiet"]
    assert main([*args, "--test", spec, "--test", "ACIDCONC = 0", "--json"]) == 0
    tests = json.loads(capsys.readouterr().out)["tests"]
    exog = sm.add_constant(X).rename(columns={"const": "intercept"})
    reference = sm.OLS(y, exog).fit(cov_type="HC1")
    for row, restriction in zip(tests, [spec, "ACIDCONC = 0"], strict=True):
        expected = reference.f_test(restriction)
        assert row["restrictions"] == restriction and row["target"] == "loss"
        np.testing.assert_allclose(
            row["fvalue"], np.squeeze(expected.fvalue), rtol=1e-6
        )
        assert (row["df_num"], row["df_denom"]) == (expected.df_num, expected.df_denom)
    assert main([*args, "--test", spec]) == 0
    assert f"F test of {spec}: F 64.49" in capsys.readouterr().out
    # A term that is not there is refused before the fit.
    assert main([*args, "--test", "FLOW = 0"]) == 2
    assert capsys.readouterr().err == (
        "tapereg: error: restrictions 'FLOW = 0' name 'FLOW', which is not a term "
        "(terms: intercept, AIRFLOW, WATERTEMP, ACIDCONC)\n"
    )
