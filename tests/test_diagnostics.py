"""The summary's diagnostics and its statsmodels-style text, against statsmodels.

llf, AIC, BIC, Durbin–Watson, Jarque–Bera, omnibus and the condition number are
statsmodels' own (``OLS``/``WLS(...).fit()`` and ``statsmodels.stats.stattools`` on
its ``wresid``); the VIFs are ``variance_inflation_factor`` (and, with weights, the
R² of each feature's weighted regression on the others). Data: longley, stackloss
(statsmodels), diabetes (scikit-learn).
"""

import itertools

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from statsmodels.stats.outliers_influence import variance_inflation_factor
from statsmodels.stats.stattools import durbin_watson, jarque_bera, omni_normtest

from tapereg import LinearRegressor, load, save


def _longley():
    data = sm.datasets.longley.load_pandas()
    return data.exog, data.endog


def _stackloss():
    data = sm.datasets.stackloss.load_pandas()
    return data.exog, data.endog


def _diabetes():
    from sklearn.datasets import load_diabetes

    data = load_diabetes(as_frame=True, scaled=False)
    return data.data, data.target


DATA = {"longley": _longley, "stackloss": _stackloss, "diabetes": _diabetes}


def _weights(n):
    return np.random.default_rng(1).uniform(0.5, 2.0, n)


def _reference(X, y, weights, fit_intercept=True):
    exog = sm.add_constant(X) if fit_intercept else X
    model = sm.OLS(y, exog) if weights is None else sm.WLS(y, exog, weights=weights)
    return model.fit()


def _reference_vif(X, weights, fit_intercept=True):
    """statsmodels' VIF; with weights 1/(1 − R²) of the weighted regressions.
    Without an intercept, the regressions through the origin the model makes
    (statsmodels' ``standardize=False``; its default centres the columns)."""
    X = np.asarray(X, float)
    exog = sm.add_constant(X) if fit_intercept else X
    offset = int(fit_intercept)
    if weights is None:
        return np.array(
            [
                variance_inflation_factor(exog, j + offset, standardize=fit_intercept)
                for j in range(X.shape[1])
            ]
        )
    out = []
    for j in range(X.shape[1]):
        others = np.delete(exog, j + offset, axis=1)
        fit = sm.WLS(X[:, j], others, weights=weights).fit()
        out.append(1 / (1 - fit.rsquared))
    return np.array(out)


def _figures(model):
    """Every diagnostic of a one-target fit as one vector (VIFs last)."""
    return np.concatenate(
        [
            [model.llf_, model.aic_, model.bic_, model.durbin_watson_],
            model.jarque_bera_.to_numpy(),
            model.omnibus_.to_numpy(),
            [model.condition_number_],
            model.vif_.to_numpy(),
        ]
    )


def _reference_figures(X, y, weights, fit_intercept=True):
    result = _reference(X, y, weights, fit_intercept)
    resid = result.wresid
    return np.concatenate(
        [
            [result.llf, result.aic, result.bic, durbin_watson(resid)],
            jarque_bera(resid),
            omni_normtest(resid),
            [result.condition_number],
            _reference_vif(X, weights, fit_intercept),
        ]
    )


@pytest.mark.parametrize("name", DATA)
@pytest.mark.parametrize("weighted", [False, True], ids=["OLS", "WLS"])
@pytest.mark.parametrize("solver", ["exact", "gd"])
def test_every_diagnostic_equals_statsmodels(name, weighted, solver):
    X, y = DATA[name]()
    weights = _weights(len(y)) if weighted else None
    model = LinearRegressor(solver=solver).fit(X, y, sample_weight=weights)
    ours = _figures(model)
    reference = _reference_figures(X, y, weights)
    # The condition number is a ratio of singular values of the design with its
    # constant column; both sides compute it to about ε·κ (longley's κ ~ 5e9).
    np.testing.assert_allclose(
        ours, reference, rtol=1e-8 if solver == "exact" else 1e-3
    )
    assert list(model.vif_.index) == list(X.columns)
    assert list(model.jarque_bera_.index) == [
        "statistic",
        "p_value",
        "skew",
        "kurtosis",
    ]


def test_without_an_intercept():
    X, y = _stackloss()
    model = LinearRegressor(solver="exact", fit_intercept=False).fit(X, y)
    np.testing.assert_allclose(
        _figures(model), _reference_figures(X, y, None, fit_intercept=False), rtol=1e-8
    )


def test_streamed_blocks_and_several_targets_equal_one_array_fit():
    X, y = _diabetes()
    Y = np.column_stack([y, 2 * y - X["bmi"]])
    weights = _weights(len(y))
    whole = LinearRegressor(solver="exact").fit(X, Y, sample_weight=weights)
    Xa = X.to_numpy(float)
    cuts = [0, 7, 150, 151, 300, len(y)]
    blocks = [(Xa[a:b], Y[a:b], weights[a:b]) for a, b in itertools.pairwise(cuts)]
    streamed = LinearRegressor(solver="exact").fit_stream(blocks)
    for attribute in ("llf_", "aic_", "bic_", "durbin_watson_"):
        np.testing.assert_allclose(
            getattr(streamed, attribute), getattr(whole, attribute), rtol=1e-9
        )
    for attribute in ("jarque_bera_", "omnibus_", "vif_"):
        np.testing.assert_allclose(
            getattr(streamed, attribute).to_numpy(),
            getattr(whole, attribute).to_numpy(),
            rtol=1e-9,
        )
    np.testing.assert_allclose(
        streamed.condition_number_, whole.condition_number_, rtol=1e-9
    )
    # Each target's figures are its own fit's.
    alone = LinearRegressor(solver="exact").fit(X, Y[:, 1], sample_weight=weights)
    np.testing.assert_allclose(whole.jarque_bera_.to_numpy()[1], alone.jarque_bera_)
    np.testing.assert_allclose(whole.llf_[1], alone.llf_, rtol=1e-12)
    assert list(whole.jarque_bera_.index) == ["y0", "y1"]


def test_a_dependent_feature_has_an_infinite_vif_and_the_summary_says_singular():
    X, y = _stackloss()
    X = X.assign(twice=2 * X["AIRFLOW"])
    with pytest.warns(UserWarning):
        model = LinearRegressor(solver="exact").fit(X, y)
    assert np.isinf(model.vif_[["AIRFLOW", "twice"]]).all()
    assert np.isfinite(model.vif_[["WATERTEMP", "ACIDCONC"]]).all()
    assert np.isinf(model.condition_number_)
    assert "The smallest eigenvalue is" in model.summary_text()


def test_fewer_than_eight_rows_have_no_omnibus():
    X, y = _stackloss()
    model = LinearRegressor(solver="exact").fit(X.iloc[:7], y.iloc[:7])
    assert model.omnibus_.isna().all()
    assert np.isfinite(model.jarque_bera_["statistic"])


def test_diagnostics_survive_save_and_load(tmp_path):
    X, y = _longley()
    model = LinearRegressor(solver="exact", cov_type="HC1").fit(
        X, y, sample_weight=_weights(len(y))
    )
    save(model, tmp_path / "m.json")
    loaded = load(tmp_path / "m.json")
    np.testing.assert_array_equal(_figures(loaded), _figures(model))
    assert loaded.summary_text() == model.summary_text()


@pytest.mark.parametrize("cov_type", ["nonrobust", "HC1"])
def test_summary_text_reads_as_statsmodels_summary(cov_type):
    X, y = _longley()
    weights = _weights(len(y))
    model = LinearRegressor(solver="exact", cov_type=cov_type).fit(
        X, y, sample_weight=weights
    )
    reference = sm.WLS(y, sm.add_constant(X), weights=weights).fit(cov_type=cov_type)
    ours = model.summary_text().splitlines()
    theirs = str(reference.summary()).splitlines()
    # The coefficient table and the diagnostics block, line for line (statsmodels
    # names the intercept "const"); the header's figures, value for value.
    start = theirs.index(next(line for line in theirs if "std err" in line))
    end = theirs.index(next(line for line in theirs if line.startswith("Kurtosis")))
    mine = ours[ours.index(next(line for line in ours if "std err" in line)) :]
    for their_line, our_line in zip(theirs[start : end + 1], mine, strict=False):
        assert our_line.replace("intercept", "const    ") == their_line.rstrip()
    for label in ("R-squared:", "F-statistic:", "Log-Likelihood:", "AIC:", "BIC:"):
        assert _value(ours, label) == _value(theirs, label)
    assert "Covariance Type:" in model.summary_text()
    notes = "\n".join(ours[ours.index("Notes:") :])
    assert notes == "\n".join(theirs[theirs.index("Notes:") :])


def _value(lines, label):
    for line in lines:
        at = line.find(label)
        if at >= 0:
            return line[at + len(label) :].split()[0]
    raise AssertionError(label)


def test_several_targets_print_a_block_each():
    X, y = _stackloss()
    frame = pd.DataFrame({"loss": y, "double": 2 * y + X["AIRFLOW"]})
    text = LinearRegressor(solver="exact").fit(X, frame).summary_text()
    assert text.count("OLS Regression Results") == 2
    assert "Dep. Variable:                   loss" in text
    assert "Dep. Variable:                 double" in text


@pytest.mark.parametrize("stream", [False, True], ids=["in-memory", "streamed"])
def test_the_cli_summary_carries_the_diagnostics(tmp_path, capsys, stream):
    import json

    from tapereg.cli import main

    X, y = _stackloss()
    path = tmp_path / "stack.csv"
    X.assign(loss=y).to_csv(path, index=False)
    args = ["fit", str(path), "--target", "loss", "--solver", "exact", "--quiet"]
    args += ["--stream"] if stream else []
    assert main([*args, "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)["summary"]
    reference = _reference_figures(X, y, None)
    ours = [summary[k] for k in ("llf", "aic", "bic", "durbin_watson")]
    ours += list(summary["jarque_bera"].values()) + list(summary["omnibus"].values())
    ours += [summary["condition_number"], *summary["vif"].values()]
    np.testing.assert_allclose(ours, reference, rtol=1e-8)
    assert list(summary["vif"]) == list(X.columns)
    assert main([*args, "--summary"]) == 0
    text = capsys.readouterr().out
    assert "Durbin-Watson:" in text and "Cond. No." in text
