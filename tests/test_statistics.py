"""summary() and the model statistics against statsmodels' OLS and WLS."""

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from conftest import correlated_problem
from sklearn.exceptions import NotFittedError

from tapereg import LinearRegressor, ParameterError


def _statsmodels(X, y, fit_intercept, weights):
    exog = sm.add_constant(X) if fit_intercept else X
    model = sm.OLS(y, exog) if weights is None else sm.WLS(y, exog, weights=weights)
    return model.fit()


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("level", [0.95, 0.9])
def test_summary_matches_statsmodels(fit_intercept, weighted, level):
    X, y, _ = correlated_problem(400, 4, seed=7)
    weights = np.random.default_rng(1).uniform(0.5, 2, 400) if weighted else None
    est = LinearRegressor(solver="exact", fit_intercept=fit_intercept)
    table = est.fit(X, y, sample_weight=weights).summary(level)
    reference = _statsmodels(X, y, fit_intercept, weights)
    low, high = reference.conf_int(alpha=1 - level).T

    assert list(table.index) == (["intercept"] if fit_intercept else []) + [
        f"x{i}" for i in range(4)
    ]
    assert list(table.columns) == [
        "coef",
        "std_err",
        "t",
        "p_value",
        "ci_low",
        "ci_high",
    ]
    rtol = 1e-8
    np.testing.assert_allclose(table["coef"], reference.params, rtol=rtol)
    np.testing.assert_allclose(table["std_err"], reference.bse, rtol=rtol)
    np.testing.assert_allclose(table["t"], reference.tvalues, rtol=rtol)
    np.testing.assert_allclose(
        table["p_value"], reference.pvalues, rtol=rtol, atol=1e-300
    )
    np.testing.assert_allclose(table["ci_low"], low, rtol=rtol)
    np.testing.assert_allclose(table["ci_high"], high, rtol=rtol)
    np.testing.assert_allclose(est.rsquared_, reference.rsquared, rtol=rtol)
    np.testing.assert_allclose(est.rsquared_adj_, reference.rsquared_adj, rtol=rtol)
    np.testing.assert_allclose(est.fvalue_, reference.fvalue, rtol=rtol)
    np.testing.assert_allclose(
        est.f_pvalue_, reference.f_pvalue, rtol=rtol, atol=1e-300
    )
    np.testing.assert_allclose(est.resid_std_err_, np.sqrt(reference.scale), rtol=rtol)
    assert est.nobs_ == reference.nobs
    assert est.df_resid_ == reference.df_resid and est.df_model_ == reference.df_model


def test_summary_uses_feature_names_and_several_targets():
    X, y, _ = correlated_problem(300, 3, seed=8)
    frame = pd.DataFrame(X, columns=["age", "bmi", "bp"])
    targets = pd.DataFrame({"a": y, "b": 2 * y + 1})
    table = LinearRegressor(solver="exact").fit(frame, targets).summary()
    assert table.index.names == ["target", "term"]
    assert list(table.loc["a"].index) == ["intercept", "age", "bmi", "bp"]
    a, b = table.loc["a", "coef"], table.loc["b", "coef"]
    np.testing.assert_allclose(b.iloc[1:], 2 * a.iloc[1:], rtol=1e-9)
    assert b["intercept"] == pytest.approx(2 * a["intercept"] + 1, rel=1e-9)


def test_trained_model_summary_is_close_to_the_exact_one():
    X, y, _ = correlated_problem(2000, 3, seed=9)
    trained = LinearRegressor(dtype="float64").fit(X, y).summary()
    exact = LinearRegressor(solver="exact").fit(X, y).summary()
    np.testing.assert_allclose(trained["std_err"], exact["std_err"], rtol=1e-6)
    # Training error is negligible beside the sampling error the table reports.
    assert np.all(np.abs(trained["coef"] - exact["coef"]) < 0.01 * exact["std_err"])


def test_summary_errors():
    X, y, _ = correlated_problem(100, 2)
    est = LinearRegressor(solver="exact", compute_statistics=False).fit(X, y)
    assert not hasattr(est, "statistics_")
    with pytest.raises(NotFittedError, match="LinearRegressor instance is not fitted"):
        LinearRegressor().summary()
    # Fitted without statistics: a typed error that says so, not "not fitted".
    with pytest.raises(ParameterError, match="compute_statistics=False"):
        est.summary()
    with pytest.raises(ParameterError, match="level must be in"):
        LinearRegressor(solver="exact").fit(X, y).summary(1.5)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
def test_statistics_from_moments_equal_those_from_the_data(fit_intercept, weighted):
    from tapereg.numerics.exact import solve_least_squares
    from tapereg.numerics.moments import data_moments
    from tapereg.numerics.statistics import ols_statistics, ols_statistics_from_moments

    X, Y, _ = correlated_problem(500, 4, 2, seed=11)
    weights = np.random.default_rng(2).uniform(0.5, 2, 500) if weighted else None
    solution = solve_least_squares(X, Y, weights, fit_intercept=fit_intercept)
    names = [f"x{i}" for i in range(4)]
    args = (solution.coef, solution.intercept)
    from_data = ols_statistics(
        X,
        Y,
        *args,
        solution,
        sample_weight=weights,
        fit_intercept=fit_intercept,
        feature_names=names,
    )
    from_moments = ols_statistics_from_moments(
        data_moments(X, Y, weights),
        *args,
        fit_intercept=fit_intercept,
        feature_names=names,
    )
    for field in ("std_err", "rsquared", "rsquared_adj", "fvalue", "resid_std_err"):
        np.testing.assert_allclose(
            getattr(from_moments, field), getattr(from_data, field), rtol=1e-8
        )
    assert from_moments.df_resid == from_data.df_resid


def test_a_penalized_refit_drops_the_previous_statistics():
    X, y, _ = correlated_problem(200, 2)
    est = LinearRegressor(solver="exact").fit(X, y)
    assert hasattr(est, "rsquared_")
    est.set_params(alpha=0.5).fit(X, y)
    assert not hasattr(est, "rsquared_") and not hasattr(est, "statistics_")
