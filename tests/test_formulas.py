"""Formulas, text categories and missing rows against statsmodels' formula OLS.

The reference is ``statsmodels.formula.api.ols`` (formulaic underneath, with
patsy's term order) on the Grunfeld investment data, whose ``firm`` is text:
names in the same order and values to 1e-8 with the exact solver, 1e-4 with the
default gradient descent.
"""

import itertools

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf

from tapereg import LinearRegressor, load, save
from tapereg.errors import DataError, ParameterError

FORMULAS = [
    "invest ~ value + capital + C(firm)",
    "np.log(invest) ~ np.log(value) + I(capital**2) + value:capital + firm",
    "invest ~ value*capital + C(firm, Treatment('IBM')) - 1",
    "invest ~ C(year) + value",
]


@pytest.fixture(scope="module")
def grunfeld():
    return sm.datasets.grunfeld.load_pandas().data


def _compare(model, reference, rtol):
    table = model.summary()
    assert table.index.tolist() == reference.params.index.tolist()
    np.testing.assert_allclose(table["coef"], reference.params, rtol=rtol)
    np.testing.assert_allclose(table["std_err"], reference.bse, rtol=rtol)


@pytest.mark.parametrize("formula", FORMULAS)
def test_formulas_equal_statsmodels(grunfeld, formula):
    reference = smf.ols(formula, grunfeld).fit()
    model = LinearRegressor(formula=formula, solver="exact").fit(grunfeld)
    _compare(model, reference, 1e-8)
    assert list(model.terms_) == [n for n in reference.params.index if n != "Intercept"]
    np.testing.assert_allclose(model.predict(grunfeld), reference.fittedvalues)
    assert model.score(grunfeld) == pytest.approx(reference.rsquared, rel=1e-10)


def test_the_default_solver_reaches_statsmodels(grunfeld):
    formula = FORMULAS[0]
    reference = smf.ols(formula, grunfeld).fit()
    _compare(LinearRegressor(formula=formula).fit(grunfeld), reference, 1e-4)


def test_text_columns_without_a_formula_are_one_hot(grunfeld):
    X, y = grunfeld.drop(columns="invest"), grunfeld["invest"]
    model = LinearRegressor(solver="exact").fit(X, y)
    reference = smf.ols("invest ~ value + capital + firm + year", grunfeld).fit()
    ours = model.summary().rename(index={"intercept": "Intercept"})
    theirs = reference.params
    assert sorted(ours.index) == sorted(theirs.index)
    np.testing.assert_allclose(ours["coef"][theirs.index], theirs, rtol=1e-8)
    assert list(model.feature_names_in_[:3]) == [
        "value",
        "capital",
        "firm[T.Atlantic Refining]",
    ]
    np.testing.assert_allclose(model.predict(X), reference.fittedvalues, rtol=1e-8)


def test_categories_and_booleans_are_encoded():
    frame = pd.DataFrame(
        {
            "x": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0],
            "size": pd.Categorical(list("SMLSMLSM"), categories=["S", "M", "L"]),
            "flag": [True, False, True, True, False, False, True, False],
        }
    )
    y = frame["x"] * 2 + frame["size"].cat.codes * 3 + frame["flag"] * 5
    model = LinearRegressor(solver="exact").fit(frame, y)
    # A pandas category keeps its own order: "S" is the reference.
    assert list(model.feature_names_in_) == ["x", "size[T.M]", "size[T.L]", "flag"]
    np.testing.assert_allclose(model.coef_, [2, 3, 6, 5], atol=1e-9)


def test_categorical_error_keeps_the_old_refusal(grunfeld):
    X, y = grunfeld.drop(columns="invest"), grunfeld["invest"]
    with pytest.raises(DataError, match="feature column 'firm' holds text"):
        LinearRegressor(categorical="error").fit(X, y)


def test_a_level_never_seen_is_named(grunfeld):
    model = LinearRegressor(formula=FORMULAS[0], solver="exact").fit(grunfeld)
    new = grunfeld.head(3).assign(firm=["IBM", "Acme", "IBM"])
    with pytest.raises(DataError, match="column 'firm' holds 'Acme', a level not"):
        model.predict(new)


def test_predicting_a_block_without_every_level(grunfeld):
    model = LinearRegressor(formula=FORMULAS[0], solver="exact").fit(grunfeld)
    some = grunfeld[grunfeld.firm == "Chrysler"]
    np.testing.assert_allclose(
        model.predict(some), model.predict(grunfeld)[some.index], rtol=1e-12
    )


def test_missing_rows_are_dropped_as_statsmodels_drops_them(grunfeld):
    holed = grunfeld.copy()
    holed.loc[[3, 50], "value"] = np.nan
    holed.loc[7, "invest"] = np.nan
    holed.loc[100, "firm"] = None
    formula = FORMULAS[0]
    reference = smf.ols(formula, holed, missing="drop").fit()
    with pytest.warns(UserWarning, match="dropped 4 of 220 rows with a missing"):
        model = LinearRegressor(formula=formula, solver="exact", missing="drop")
        model.fit(holed)
    _compare(model, reference, 1e-8)
    assert model.nobs_ == reference.nobs == 216
    with pytest.raises(DataError, match="missing"):
        LinearRegressor(formula=formula, solver="exact").fit(holed)


def test_missing_drop_with_arrays_drops_weights_too():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 2))
    y = X @ [1.0, 2.0] + 0.1 * rng.normal(size=50)
    w = rng.uniform(0.5, 2, 50)
    X[4, 1] = np.nan
    y[9] = np.nan
    with pytest.warns(UserWarning, match="dropped 2 of 50"):
        model = LinearRegressor(solver="exact", missing="drop").fit(
            X, y, sample_weight=w
        )
    keep = np.ones(50, bool)
    keep[[4, 9]] = False
    whole = LinearRegressor(solver="exact").fit(X[keep], y[keep], sample_weight=w[keep])
    np.testing.assert_allclose(model.coef_, whole.coef_, rtol=1e-12)


def test_save_and_load_keep_the_formula(grunfeld, tmp_path):
    model = LinearRegressor(formula=FORMULAS[1], solver="exact").fit(grunfeld)
    save(model, tmp_path / "m.json")
    loaded = load(tmp_path / "m.json")
    np.testing.assert_array_equal(loaded.predict(grunfeld), model.predict(grunfeld))
    pd.testing.assert_frame_equal(loaded.summary(), model.summary())
    assert loaded.encoding_ == model.encoding_
    assert list(loaded.terms_) == list(model.terms_)


def test_formula_mistakes_are_named(grunfeld):
    with pytest.raises(ParameterError, match="names the target: call fit"):
        LinearRegressor(formula=FORMULAS[0]).fit(grunfeld, grunfeld.invest)
    with pytest.raises(ParameterError, match="write '- 1' in it"):
        LinearRegressor(formula=FORMULAS[0], fit_intercept=False).fit(grunfeld)
    with pytest.raises(DataError, match="uses column 'sales', which the data lack"):
        LinearRegressor(formula="invest ~ sales").fit(grunfeld)
    with pytest.raises(ParameterError, match="stateful transform"):
        LinearRegressor(formula="invest ~ center(value)").fit(grunfeld)
    with pytest.raises(ParameterError, match="formula must be None or a formula"):
        LinearRegressor(formula="").fit(grunfeld)


def _blocks(frame, cuts):
    return [frame.iloc[a:b] for a, b in itertools.pairwise(cuts)]


def test_streamed_blocks_equal_the_table(grunfeld):
    """Blocks each lacking most firms (the rows come firm by firm), one empty
    after dropping: the levels of all blocks make one design."""
    holed = grunfeld.copy()
    holed.loc[[3, 50], "value"] = np.nan
    holed.loc[100:104, "firm"] = None
    cuts = [0, 30, 100, 105, 160, 220]
    for formula in FORMULAS[:2]:
        params = {"formula": formula, "solver": "exact", "missing": "drop"}
        with pytest.warns(UserWarning, match="dropped 7 of 220 rows"):
            whole = LinearRegressor(**params).fit(holed)
        with pytest.warns(UserWarning, match="dropped 7 of 220 rows"):
            streamed = LinearRegressor(**params).fit_stream(_blocks(holed, cuts))
        pd.testing.assert_frame_equal(
            streamed.summary(), whole.summary(), check_exact=False, rtol=1e-9
        )
        assert streamed.encoding_ == whole.encoding_


def test_streamed_text_columns_without_a_formula(grunfeld):
    X, y = grunfeld.drop(columns="invest"), grunfeld["invest"].to_numpy()
    cuts = [0, 20, 90, 220]
    blocks = [(X.iloc[a:b], y[a:b]) for a, b in itertools.pairwise(cuts)]
    streamed = LinearRegressor(solver="exact").fit_stream(blocks)
    whole = LinearRegressor(solver="exact").fit(X, y)
    np.testing.assert_allclose(streamed.coef_, whole.coef_, rtol=1e-9)
    assert list(streamed.feature_names_in_) == list(whole.feature_names_in_)


def test_a_column_name_with_spaces_in_backticks():
    rng = np.random.default_rng(2)
    frame = pd.DataFrame({"size m2": rng.uniform(20, 90, 40), "kind": list("ab") * 20})
    frame["y"] = 2 * frame["size m2"] + 3 * (frame["kind"] == "b") + rng.normal(size=40)
    model = LinearRegressor(formula="y ~ `size m2` * kind", solver="exact")
    model.fit(frame)
    renamed = frame.rename(columns={"size m2": "size_m2"})
    reference = smf.ols("y ~ size_m2 * kind", renamed).fit()
    assert model.summary().index.tolist() == [
        name.replace("size_m2", "size m2") for name in reference.params.index
    ]
    np.testing.assert_allclose(model.summary()["coef"], reference.params, rtol=1e-8)


def test_wide_designs_are_encoded_in_slices(monkeypatch):
    import tapereg.design.stream as stream

    rng = np.random.default_rng(3)
    n = 3000
    frame = pd.DataFrame(
        {"x": rng.normal(size=n), "shop": rng.choice([f"s{k}" for k in range(40)], n)}
    )
    frame["y"] = 2 * frame["x"] + frame["shop"].str[1:].astype(int) * 0.1
    frame["y"] += rng.normal(size=n)
    monkeypatch.setattr(stream, "ENCODED_BLOCK_BYTES", 8 * 40 * 300)  # 300-row slices
    seen = []
    original = stream.EncodedBlocks._encoded

    def counting(self, *block):
        seen.append(len(block[0]))
        return original(self, *block)

    monkeypatch.setattr(stream.EncodedBlocks, "_encoded", counting)
    formula = "y ~ x + C(shop)"
    streamed = LinearRegressor(formula=formula, solver="exact")
    streamed.fit_stream([frame.iloc[:2000], frame.iloc[2000:]])
    assert max(seen) == 300
    reference = smf.ols(formula, frame).fit()
    _compare(streamed, reference, 1e-8)


def test_too_many_levels_are_refused_naming_the_column_and_the_count(monkeypatch):
    import tapereg.design.encoding as encoding

    monkeypatch.setattr(encoding, "MAX_LEVELS", 50)
    frame = pd.DataFrame(
        {"x": np.arange(60.0), "id": [f"u{k}" for k in range(60)], "y": np.arange(60.0)}
    )
    message = "column 'id' has 60 distinct values, over the 50 levels"
    with pytest.raises(DataError, match=message):
        LinearRegressor().fit(frame[["x", "id"]], frame["y"])
    blocks = [frame.iloc[:30], frame.iloc[30:]]  # 30 each: only together too many
    with pytest.raises(DataError, match=message):
        LinearRegressor(formula="y ~ x + id").fit_stream(blocks)
