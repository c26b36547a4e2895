import os

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from tapereg.errors import ParameterError
from tapereg.estimator import LinearRegressor
from tapereg.reports.plotting import (
    MAX_PLOTTED_TARGETS,
    FitDisplay,
    LossCurveDisplay,
    PredictionDisplay,
    fit_figure,
    plot_fit,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def line_data():
    rng = np.random.default_rng(0)
    x = rng.uniform(-2, 5, 40)
    y = 3 * x + 2 + rng.normal(0, 0.5, 40)
    return x[:, None], y


@pytest.fixture
def plane_data():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(50, 3))
    y = X @ [1.0, -2.0, 0.5] + 4 + rng.normal(0, 0.3, 50)
    return X, y


def new_ax():
    return Figure().add_subplot()


def offsets(scatter):
    return np.asarray(scatter.get_offsets())


# -- FitDisplay --------------------------------------------------------------------


@pytest.mark.parametrize("given_ax", [False, True])
def test_fit_display_from_estimator(line_data, given_ax):
    X, y = line_data
    model = LinearRegressor(solver="exact").fit(X, y)
    ax = new_ax() if given_ax else None
    display = FitDisplay.from_estimator(model, X, y, ax=ax)

    assert (display.ax_ is ax) if given_ax else isinstance(display.figure_, Figure)
    assert display.figure_ is display.ax_.figure
    np.testing.assert_allclose(offsets(display.scatter_), np.column_stack([X[:, 0], y]))
    line_x, line_y = display.line_.get_data()
    assert np.all(np.diff(line_x) >= 0)
    np.testing.assert_allclose(line_y, model.coef_[0] * line_x + model.intercept_)
    assert display.line_.get_color() == "red"
    assert display.exact_line_ is None
    assert display.ax_.get_xlabel() == "x"
    assert display.ax_.get_ylabel() == "y"


def test_fit_display_exact_line_and_names(line_data):
    X, y = line_data
    frame = pd.DataFrame(X, columns=["size"])
    target = pd.Series(y, name="price")
    exact = LinearRegressor(solver="exact").fit(frame, target)
    rough = LinearRegressor(solver="exact", fit_intercept=False).fit(frame, target)
    display = FitDisplay.from_estimator(rough, frame, target, exact_estimator=exact)

    line_x, line_y = display.exact_line_.get_data()
    np.testing.assert_allclose(line_y, exact.coef_[0] * line_x + exact.intercept_)
    assert display.exact_line_.get_linestyle() == "--"
    np.testing.assert_allclose(display.line_.get_ydata(), rough.coef_[0] * line_x)
    assert (display.ax_.get_xlabel(), display.ax_.get_ylabel()) == ("size", "price")
    labels = [t.get_text() for t in display.ax_.get_legend().get_texts()]
    assert labels == ["data", "fitted", "exact"]


@pytest.mark.parametrize("given_ax", [False, True])
def test_fit_display_from_predictions(given_ax):
    x = np.array([3.0, 1.0, 2.0, 0.0])
    y = np.array([7.5, 2.5, 6.0, 1.0])
    ax = new_ax() if given_ax else None
    display = FitDisplay.from_predictions(
        x, y, 2 * x + 1, y_exact=2.1 * x + 0.9, feature_name="t", ax=ax
    )
    if given_ax:
        assert display.ax_ is ax
    np.testing.assert_allclose(offsets(display.scatter_), np.column_stack([x, y]))
    np.testing.assert_array_equal(display.line_.get_xdata(), [0, 1, 2, 3])
    np.testing.assert_allclose(display.line_.get_ydata(), [1, 3, 5, 7])
    np.testing.assert_allclose(display.exact_line_.get_ydata(), [0.9, 3.0, 5.1, 7.2])
    assert display.ax_.get_xlabel() == "t"


def test_fit_display_plot_kwargs_override_the_defaults(line_data):
    X, y = line_data
    model = LinearRegressor(solver="exact").fit(X, y)
    display = FitDisplay.from_estimator(
        model, X, y, line_kwargs={"c": "green", "lw": 3}
    )
    assert display.line_.get_color() == "green"
    assert display.line_.get_linewidth() == 3


def test_fit_display_takes_the_first_target(line_data):
    X, y = line_data
    Y = np.column_stack([y, -y])
    model = LinearRegressor(solver="exact").fit(X, Y)
    display = FitDisplay.from_estimator(model, X, Y)
    np.testing.assert_allclose(offsets(display.scatter_)[:, 1], y)
    line_x, line_y = display.line_.get_data()
    np.testing.assert_allclose(line_y, model.coef_[0, 0] * line_x + model.intercept_[0])


def test_fit_display_refuses_several_features(plane_data):
    X, y = plane_data
    model = LinearRegressor(solver="exact").fit(X, y)
    with pytest.raises(ParameterError, match="one feature column, got 3"):
        FitDisplay.from_estimator(model, X, y)
    with pytest.raises(ParameterError, match="PredictionDisplay"):
        FitDisplay.from_predictions(X, y, model.predict(X))
    with pytest.raises(ParameterError, match="inconsistent numbers of samples"):
        FitDisplay.from_predictions(X[:, 0], y[:-1], model.predict(X))


# -- PredictionDisplay -------------------------------------------------------------


@pytest.mark.parametrize("given_ax", [False, True])
@pytest.mark.parametrize("kind", ["actual_vs_predicted", "residual_vs_predicted"])
def test_prediction_display_from_estimator(plane_data, kind, given_ax):
    X, y = plane_data
    model = LinearRegressor(solver="exact").fit(X, y)
    y_pred = model.predict(X)
    ax = new_ax() if given_ax else None
    display = PredictionDisplay.from_estimator(model, X, y, kind=kind, ax=ax)

    assert (display.ax_ is ax) if given_ax else isinstance(display.figure_, Figure)
    points = offsets(display.scatter_)
    np.testing.assert_allclose(points[:, 0], y_pred)
    line_x, line_y = display.line_.get_data()
    if kind == "actual_vs_predicted":
        np.testing.assert_allclose(points[:, 1], y)
        np.testing.assert_allclose(line_x, line_y)
        assert line_x[0] == min(y.min(), y_pred.min())
        assert line_x[-1] == max(y.max(), y_pred.max())
    else:
        np.testing.assert_allclose(points[:, 1], y - y_pred)
        np.testing.assert_array_equal(line_y, [0, 0])
        np.testing.assert_allclose(line_x, [y_pred.min(), y_pred.max()])
    assert display.ax_.get_xlabel() == "predicted"


def test_prediction_display_default_kind_is_residuals_as_sklearn():
    y_true = np.array([1.0, 2.0, 4.0])
    y_pred = np.array([1.5, 2.0, 3.0])
    display = PredictionDisplay.from_predictions(y_true, y_pred, target_name="price")
    np.testing.assert_allclose(offsets(display.scatter_), [[1.5, -0.5], [2, 0], [3, 1]])
    assert display.ax_.get_xlabel() == "predicted price"


def test_prediction_display_first_target_and_names(plane_data):
    X, y = plane_data
    Y = pd.DataFrame({"a": y, "b": 2 * y})
    model = LinearRegressor(solver="exact").fit(X, Y)
    display = PredictionDisplay.from_estimator(
        model, X, Y, kind="actual_vs_predicted", ax=new_ax()
    )
    np.testing.assert_allclose(offsets(display.scatter_)[:, 1], y)
    np.testing.assert_allclose(offsets(display.scatter_)[:, 0], model.predict(X)[:, 0])
    assert display.ax_.get_ylabel() == "actual a"


def test_prediction_display_plots_both_kinds_from_one_display():
    display = PredictionDisplay(y_true=[1.0, 2.0], y_pred=[1.0, 3.0])
    ax_left, ax_right = Figure().subplots(1, 2)
    display.plot(ax_left, kind="actual_vs_predicted")
    display.plot(ax_right, kind="residual_vs_predicted")
    assert display.ax_ is ax_right
    assert len(ax_left.collections) == len(ax_right.collections) == 1


def test_prediction_display_rejects_an_unknown_kind():
    with pytest.raises(ParameterError, match="kind must be one of"):
        PredictionDisplay.from_predictions([1.0], [1.0], kind="predictions")


# -- LossCurveDisplay --------------------------------------------------------------


@pytest.mark.parametrize("given_ax", [False, True])
def test_loss_curve_display_from_estimator(line_data, given_ax):
    X, y = line_data
    model = LinearRegressor(max_iter=5, tol=None).fit(X, y)
    ax = new_ax() if given_ax else None
    display = LossCurveDisplay.from_estimator(model, ax=ax)

    assert (display.ax_ is ax) if given_ax else isinstance(display.figure_, Figure)
    np.testing.assert_array_equal(display.line_.get_xdata(), np.arange(5))
    np.testing.assert_allclose(display.line_.get_ydata(), model.loss_curve_)
    assert display.ax_.get_yscale() == "log"
    assert display.text_ is None


def test_loss_curve_display_exact_solver_says_so(line_data):
    X, y = line_data
    model = LinearRegressor(solver="exact").fit(X, y)
    display = LossCurveDisplay.from_estimator(model)
    assert display.line_ is None
    assert display.text_.get_text() == "exact solver: no training curve"
    assert not display.ax_.axison


@pytest.mark.parametrize("given_ax", [False, True])
def test_loss_curve_display_from_loss(given_ax):
    ax = new_ax() if given_ax else None
    display = LossCurveDisplay.from_loss([4.0, 2.0, 1.0], ax=ax)
    if given_ax:
        assert display.ax_ is ax
    np.testing.assert_allclose(display.line_.get_ydata(), [4, 2, 1])
    assert display.ax_.get_yscale() == "log"
    assert display.ax_.get_xlabel() == "epoch"


def test_loss_curve_display_linear_scale_when_a_loss_is_zero():
    display = LossCurveDisplay.from_loss([1.0, 0.0])
    assert display.ax_.get_yscale() == "linear"


def test_loss_curve_display_needs_a_loss_curve():
    from sklearn.linear_model import LinearRegression

    model = LinearRegression().fit([[0.0], [1.0]], [0.0, 1.0])
    with pytest.raises(ParameterError, match="no loss_curve_"):
        LossCurveDisplay.from_estimator(model)


# -- plot_fit (the CLI's PNG) ------------------------------------------------------


def _only_png(folder, name):
    assert sorted(os.listdir(folder)) == [name]
    assert (folder / name).read_bytes().startswith(PNG_MAGIC)


def test_plot_fit_one_feature(tmp_path, line_data):
    X, y = line_data
    path = tmp_path / "line.png"
    plot_fit(
        path,
        X,
        y[:, None],
        coef=np.array([[3.0]]),
        intercept=np.array([2.0]),
        loss_history=np.array([10.0, 1.0, 0.5]),
        exact_coef=np.array([[3.01]]),
        exact_intercept=np.array([1.98]),
        feature_names=["x"],
        target_names=["y"],
    )
    _only_png(tmp_path, "line.png")


def test_plot_fit_three_features_exact_solver(tmp_path, plane_data):
    X, y = plane_data
    model = LinearRegressor(solver="exact").fit(X, y)
    path = tmp_path / "plane.png"
    plot_fit(
        path,
        X,
        y[:, None],
        coef=model.coef_[:, None],
        intercept=np.array([model.intercept_]),
        loss_history=model.loss_curve_,
        feature_names=["a", "b", "c"],
        target_names=["y"],
    )
    _only_png(tmp_path, "plane.png")


def test_plot_fit_replaces_an_old_file(tmp_path, plane_data):
    X, y = plane_data
    path = tmp_path / "fit.png"
    path.write_bytes(b"old")
    plot_fit(
        path,
        X,
        y,
        coef=np.ones((3, 1)),
        intercept=np.zeros(1),
        loss_history=np.array([2.0, 1.0]),
    )
    _only_png(tmp_path, "fit.png")


# -- several targets ---------------------------------------------------------------


def test_fit_display_draws_the_target_asked_for(line_data):
    X, y = line_data
    Y = np.column_stack([y, -y])
    model = LinearRegressor(solver="exact").fit(X, Y)
    display = FitDisplay.from_estimator(model, X, Y, target=1)
    np.testing.assert_allclose(offsets(display.scatter_)[:, 1], -y)
    line_x, line_y = display.line_.get_data()
    np.testing.assert_allclose(line_y, model.coef_[1, 0] * line_x + model.intercept_[1])
    with pytest.raises(ParameterError, match=r"a column of y, in \[0, 2\), got 2"):
        FitDisplay.from_estimator(model, X, Y, target=2)


def test_prediction_display_draws_the_target_asked_for(plane_data):
    X, y = plane_data
    Y = pd.DataFrame({"a": y, "b": 2 * y})
    model = LinearRegressor(solver="exact").fit(X, Y)
    display = PredictionDisplay.from_estimator(
        model, X, Y, kind="actual_vs_predicted", target=1, ax=new_ax()
    )
    np.testing.assert_allclose(offsets(display.scatter_)[:, 1], 2 * y)
    np.testing.assert_allclose(offsets(display.scatter_)[:, 0], model.predict(X)[:, 1])
    assert display.ax_.get_ylabel() == "actual b"


def _titles(figure):
    return sorted(ax.get_title() for ax in figure.axes)


@pytest.mark.parametrize("n_features", [1, 3])
def test_fit_figure_has_a_row_per_target_and_a_pooled_loss(plane_data, n_features):
    X, y = plane_data
    X = X[:, :n_features]
    Y = np.column_stack([y, -2 * y])
    model = LinearRegressor(solver="exact").fit(X, Y)
    figure = fit_figure(
        X,
        Y,
        coef=model.coef_.T,
        intercept=model.intercept_,
        loss_history=np.array([3.0, 2.0, 1.0]),
        exact_coef=model.coef_.T,
        exact_intercept=model.intercept_,
        feature_names=["a", "b", "c"][:n_features],
        target_names=["up", "down"],
    )
    panels = (
        ["data and fitted line"]
        if n_features == 1
        else ["actual against predicted", "residuals"]
    )
    expected = [f"{name}: {panel}" for name in ("up", "down") for panel in panels]
    assert _titles(figure) == sorted([*expected, "training loss (mean over 2 targets)"])
    down = next(ax for ax in figure.axes if ax.get_title().startswith("down: "))
    np.testing.assert_allclose(offsets(down.collections[0])[:, 1], -2 * y)


def test_fit_figure_of_many_targets_says_which_it_draws(plane_data):
    X, y = plane_data
    Y = y[:, None] * np.arange(1, 11)
    figure = fit_figure(
        X, Y, coef=np.zeros((3, 10)), intercept=np.zeros(10), loss_history=[1.0]
    )
    assert len(figure.axes) == 2 * MAX_PLOTTED_TARGETS + 1
    assert "y7: residuals" in _titles(figure) and "y8: residuals" not in _titles(figure)
    assert figure.get_suptitle() == f"the first {MAX_PLOTTED_TARGETS} of 10 targets"
