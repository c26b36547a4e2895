"""Plots of a fit as Display objects in scikit-learn's style, and the CLI's PNG writer.

* :class:`FitDisplay`: one feature, the data with the fitted and the exact line.
* :class:`PredictionDisplay`: any number of features, actual or residual against
  predicted (as :class:`sklearn.metrics.PredictionErrorDisplay`).
* :class:`LossCurveDisplay`: the training loss per epoch.
* :func:`plot_fit`: the PNG that ``tapereg demo/fit --plot`` writes, built from them
  (:func:`fit_figure`): a row of panels per target beside the loss.

Each display is made by ``from_estimator`` or ``from_predictions`` (``from_loss``),
draws with ``plot(ax=None)`` and keeps its artists and ``ax_``/``figure_``.

Unlike scikit-learn's displays, which call ``matplotlib.pyplot.subplots`` when no
``ax`` is given, these build a bare :class:`matplotlib.figure.Figure` (matplotlib's
object API): no pyplot state, no backend, no display, nothing to close, so they work
in servers and threads. Save it with ``display.figure_.savefig(...)``; pass your own
``ax`` to draw into a pyplot figure.
"""

from __future__ import annotations

import numpy as np

from ..errors import ParameterError
from ..numerics.linear import linear_predictions
from ..runtime.atomic import atomic_write

KINDS = ("actual_vs_predicted", "residual_vs_predicted")
NO_CURVE = "exact solver: no training curve"
# fit_figure draws this many targets at most (a row each), and says so beyond.
MAX_PLOTTED_TARGETS = 8


def _new_axes():
    """A new Axes on a new bare Figure, without pyplot (see the module docstring)."""
    from matplotlib.figure import Figure

    return Figure(layout="constrained").add_subplot()


def _line_kwargs(defaults: dict, user: dict | None) -> dict:
    """Merge ``user`` over ``defaults``, aliases (``c``, ``ls``, ``lw``) resolved."""
    from matplotlib.cbook import normalize_kwargs
    from matplotlib.lines import Line2D

    return {
        **normalize_kwargs(defaults, Line2D),
        **normalize_kwargs(user or {}, Line2D),
    }


def _one_target(values, name: str, target: int = 0) -> np.ndarray:
    """``values`` as a 1-D float array: column ``target`` when 2-D."""
    array = np.asarray(values, dtype=np.float64)
    if array.ndim == 2:
        if not 0 <= target < array.shape[1]:
            raise ParameterError(
                f"target must be a column of {name}, in [0, {array.shape[1]}), "
                f"got {target!r}"
            )
        array = array[:, target]
    if array.ndim != 1:
        raise ParameterError(f"{name} must be 1-D or 2-D, got shape {array.shape}")
    return array


def _same_length(**arrays) -> None:
    lengths = {name: len(a) for name, a in arrays.items() if a is not None}
    if len(set(lengths.values())) > 1:
        shown = ", ".join(f"{name} has {n}" for name, n in lengths.items())
        raise ParameterError(f"inconsistent numbers of samples: {shown}")


def _target_name(estimator, y, target: int = 0) -> str | None:
    names = getattr(estimator, "target_names_", None)
    if names is not None and target < len(names):
        return str(names[target])
    name = getattr(y, "name", None)
    if name is not None:
        return str(name)
    columns = getattr(y, "columns", None)
    if columns is None or target >= len(columns):
        return None
    return str(columns[target])


class FitDisplay:
    """The data of one feature with the fitted line and, optionally, the exact one.

    Make it with :meth:`from_estimator` or :meth:`from_predictions`; all parameters
    are stored as attributes.

    Parameters
    ----------
    x : ndarray of shape (n_samples,)
        The feature.
    y : ndarray of shape (n_samples,)
        The target.
    y_pred : ndarray of shape (n_samples,)
        The fitted model's predictions at ``x``; drawn as a line through them.
    y_exact : ndarray of shape (n_samples,), default=None
        The exact least-squares predictions at ``x``, drawn dashed when given.
    feature_name, target_name : str, default="x", "y"
        Axis labels.

    Attributes
    ----------
    scatter_ : matplotlib PathCollection
        The data points.
    line_ : matplotlib Line2D
        The fitted line (red, as in the tutorial).
    exact_line_ : matplotlib Line2D or None
        The exact least-squares line, None without ``y_exact``.
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure
    """

    def __init__(
        self, *, x, y, y_pred, y_exact=None, feature_name="x", target_name="y"
    ):
        self.x = x
        self.y = y
        self.y_pred = y_pred
        self.y_exact = y_exact
        self.feature_name = feature_name
        self.target_name = target_name

    def plot(
        self, ax=None, *, scatter_kwargs=None, line_kwargs=None, exact_line_kwargs=None
    ):
        """Draw on ``ax``, or on a new Figure when it is None.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
        scatter_kwargs, line_kwargs, exact_line_kwargs : dict, default=None
            Passed to ``ax.scatter`` for the data and ``ax.plot`` for the lines, over
            the defaults.

        Returns
        -------
        display : FitDisplay
        """
        if ax is None:
            ax = _new_axes()
        x = np.asarray(self.x, dtype=np.float64)
        order = np.argsort(x, kind="stable")
        scatter = {"s": 10, "alpha": 0.6, "label": "data", **(scatter_kwargs or {})}
        self.scatter_ = ax.scatter(x, self.y, **scatter)
        line = _line_kwargs({"color": "red", "label": "fitted"}, line_kwargs)
        self.line_ = ax.plot(x[order], np.asarray(self.y_pred)[order], **line)[0]
        self.exact_line_ = None
        if self.y_exact is not None:
            exact = _line_kwargs(
                {"color": "black", "linestyle": "--", "linewidth": 1, "label": "exact"},
                exact_line_kwargs,
            )
            y_exact = np.asarray(self.y_exact)[order]
            self.exact_line_ = ax.plot(x[order], y_exact, **exact)[0]
        ax.set(xlabel=self.feature_name, ylabel=self.target_name)
        ax.legend()
        self.ax_, self.figure_ = ax, ax.figure
        return self

    @classmethod
    def from_estimator(
        cls,
        estimator,
        X,
        y,
        *,
        exact_estimator=None,
        target=0,
        ax=None,
        scatter_kwargs=None,
        line_kwargs=None,
        exact_line_kwargs=None,
    ):
        """Plot a fitted one-feature regressor's line over the data.

        Parameters
        ----------
        estimator : fitted regressor
            Its ``predict(X)`` gives the line.
        X : array-like of shape (n_samples, 1)
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
        exact_estimator : fitted regressor, default=None
            For example ``LinearRegressor(solver="exact")``; its line is dashed.
        target : int, default=0
            With several targets, the one drawn (its column).
        ax : matplotlib Axes, default=None
        scatter_kwargs, line_kwargs, exact_line_kwargs : dict, default=None
            See :meth:`plot`.

        Returns
        -------
        display : FitDisplay
        """
        matrix = np.asarray(X)
        if matrix.ndim != 2 or matrix.shape[1] != 1:
            got = matrix.shape[1] if matrix.ndim == 2 else f"shape {matrix.shape}"
            raise ParameterError(
                f"FitDisplay needs X with one feature column, got {got}; "
                "use PredictionDisplay for several features"
            )
        columns = getattr(X, "columns", None)
        names = getattr(estimator, "feature_names_in_", None)
        if columns is not None:
            feature_name = str(columns[0])
        else:
            feature_name = "x" if names is None else str(names[0])
        y_exact = None if exact_estimator is None else exact_estimator.predict(X)
        return cls.from_predictions(
            matrix[:, 0],
            y,
            estimator.predict(X),
            y_exact=y_exact,
            feature_name=feature_name,
            target_name=_target_name(estimator, y, target) or "y",
            target=target,
            ax=ax,
            scatter_kwargs=scatter_kwargs,
            line_kwargs=line_kwargs,
            exact_line_kwargs=exact_line_kwargs,
        )

    @classmethod
    def from_predictions(
        cls,
        x,
        y,
        y_pred,
        *,
        y_exact=None,
        feature_name="x",
        target_name="y",
        target=0,
        ax=None,
        scatter_kwargs=None,
        line_kwargs=None,
        exact_line_kwargs=None,
    ):
        """Plot the data and the line through a model's predictions at ``x``.

        Parameters
        ----------
        x : array-like of shape (n_samples,)
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
        y_pred : array-like of shape (n_samples,) or (n_samples, n_targets)
            Predictions at ``x``, e.g. ``coef * x + intercept``.
        y_exact : array-like, default=None
            The exact least-squares predictions at ``x``.
        feature_name, target_name : str, default="x", "y"
        target : int, default=0
            The column drawn of the 2-D ones among ``y``, ``y_pred``, ``y_exact``.
        ax : matplotlib Axes, default=None
        scatter_kwargs, line_kwargs, exact_line_kwargs : dict, default=None
            See :meth:`plot`.

        Returns
        -------
        display : FitDisplay
        """
        x = np.asarray(x, dtype=np.float64)
        if x.ndim == 2 and x.shape[1] == 1:
            x = x[:, 0]
        if x.ndim != 1:
            raise ParameterError(
                f"FitDisplay needs one feature, got x of shape {x.shape}; "
                "use PredictionDisplay for several features"
            )
        y = _one_target(y, "y", target)
        y_pred = _one_target(y_pred, "y_pred", target)
        if y_exact is not None:
            y_exact = _one_target(y_exact, "y_exact", target)
        _same_length(x=x, y=y, y_pred=y_pred, y_exact=y_exact)
        display = cls(
            x=x,
            y=y,
            y_pred=y_pred,
            y_exact=y_exact,
            feature_name=feature_name,
            target_name=target_name,
        )
        return display.plot(
            ax,
            scatter_kwargs=scatter_kwargs,
            line_kwargs=line_kwargs,
            exact_line_kwargs=exact_line_kwargs,
        )


class PredictionDisplay:
    """Actual or residual against predicted values, for any number of features.

    As :class:`sklearn.metrics.PredictionErrorDisplay` (same ``kind`` values, same
    axes), without subsampling. With several targets, one is shown (``target=``
    of ``from_estimator`` and ``from_predictions``, the first by default).

    Parameters
    ----------
    y_true : ndarray of shape (n_samples,)
    y_pred : ndarray of shape (n_samples,)
    target_name : str or None, default=None
        Put in the axis labels when given.

    Attributes
    ----------
    scatter_ : matplotlib PathCollection
        (predicted, actual) or (predicted, actual − predicted) points.
    line_ : matplotlib Line2D
        The ideal: y = x for ``"actual_vs_predicted"``, y = 0 for residuals.
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure
    """

    def __init__(self, *, y_true, y_pred, target_name=None):
        self.y_true = y_true
        self.y_pred = y_pred
        self.target_name = target_name

    def plot(
        self,
        ax=None,
        *,
        kind="residual_vs_predicted",
        scatter_kwargs=None,
        line_kwargs=None,
    ):
        """Draw on ``ax``, or on a new Figure when it is None.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
        kind : {"actual_vs_predicted", "residual_vs_predicted"}, \
default="residual_vs_predicted"
            Actual (y-axis) or residual = actual − predicted (y-axis) against
            predicted (x-axis).
        scatter_kwargs, line_kwargs : dict, default=None
            Passed to ``ax.scatter`` and ``ax.plot`` (the ideal line).

        Returns
        -------
        display : PredictionDisplay
        """
        if kind not in KINDS:
            raise ParameterError(
                f"kind must be one of {', '.join(KINDS)}, got {kind!r}"
            )
        if ax is None:
            ax = _new_axes()
        y_true = np.asarray(self.y_true, dtype=np.float64)
        y_pred = np.asarray(self.y_pred, dtype=np.float64)
        scatter = {"s": 10, "alpha": 0.6, **(scatter_kwargs or {})}
        line = _line_kwargs(
            {"color": "black", "alpha": 0.7, "linestyle": "--", "label": "ideal"},
            line_kwargs,
        )
        suffix = "" if self.target_name is None else f" {self.target_name}"
        if kind == "actual_vs_predicted":
            low = float(min(np.min(y_true), np.min(y_pred)))
            high = float(max(np.max(y_true), np.max(y_pred)))
            self.line_ = ax.plot([low, high], [low, high], **line)[0]
            self.scatter_ = ax.scatter(y_pred, y_true, **scatter)
            ax.set_aspect("equal", adjustable="datalim")
            ylabel = f"actual{suffix}"
        else:
            limits = [float(np.min(y_pred)), float(np.max(y_pred))]
            self.line_ = ax.plot(limits, [0.0, 0.0], **line)[0]
            self.scatter_ = ax.scatter(y_pred, y_true - y_pred, **scatter)
            ylabel = "residual (actual - predicted)"
        ax.set(xlabel=f"predicted{suffix}", ylabel=ylabel)
        self.ax_, self.figure_ = ax, ax.figure
        return self

    @classmethod
    def from_estimator(
        cls,
        estimator,
        X,
        y,
        *,
        kind="residual_vs_predicted",
        target=0,
        ax=None,
        scatter_kwargs=None,
        line_kwargs=None,
    ):
        """Plot a fitted regressor's predictions of ``X`` against ``y``.

        Parameters
        ----------
        estimator : fitted regressor
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
        target : int, default=0
            With several targets, the one drawn (its column).
        kind, ax, scatter_kwargs, line_kwargs
            See :meth:`plot`.

        Returns
        -------
        display : PredictionDisplay
        """
        return cls.from_predictions(
            y,
            estimator.predict(X),
            kind=kind,
            target_name=_target_name(estimator, y, target),
            target=target,
            ax=ax,
            scatter_kwargs=scatter_kwargs,
            line_kwargs=line_kwargs,
        )

    @classmethod
    def from_predictions(
        cls,
        y_true,
        y_pred,
        *,
        kind="residual_vs_predicted",
        target_name=None,
        target=0,
        ax=None,
        scatter_kwargs=None,
        line_kwargs=None,
    ):
        """Plot predictions against the true values.

        Parameters
        ----------
        y_true : array-like of shape (n_samples,) or (n_samples, n_targets)
        y_pred : array-like of shape (n_samples,) or (n_samples, n_targets)
        kind : {"actual_vs_predicted", "residual_vs_predicted"}, \
default="residual_vs_predicted"
        target_name : str or None, default=None
        target : int, default=0
            The column drawn of a 2-D ``y_true`` or ``y_pred``.
        ax, scatter_kwargs, line_kwargs
            See :meth:`plot`.

        Returns
        -------
        display : PredictionDisplay
        """
        y_true = _one_target(y_true, "y_true", target)
        y_pred = _one_target(y_pred, "y_pred", target)
        _same_length(y_true=y_true, y_pred=y_pred)
        display = cls(y_true=y_true, y_pred=y_pred, target_name=target_name)
        return display.plot(
            ax, kind=kind, scatter_kwargs=scatter_kwargs, line_kwargs=line_kwargs
        )


class LossCurveDisplay:
    """The training loss at each epoch, on a log scale when every loss is positive,
    with the exact optimum's loss as a dashed line when it is given. With several
    targets the loss is pooled: the mean of their MSEs, which training minimizes.

    An empty curve (``solver="exact"`` records none) draws a note instead. The
    log axis labels its ticks as plain numbers (0.02, 0.05, 0.1), the minor ones
    too when the curve spans less than two decades, where a log axis would
    otherwise show one label or none.

    Parameters
    ----------
    loss_curve : ndarray of shape (n_epochs,)
    optimum : float, default=None
        The exact least-squares optimum's loss (mean squared error): training
        approaches it from above.

    Attributes
    ----------
    line_ : matplotlib Line2D or None
        Loss against epoch (0, 1, ...); None for an empty curve.
    optimum_line_ : matplotlib Line2D or None
        The optimum's loss, dashed; None without ``optimum``.
    text_ : matplotlib Text or None
        The note "exact solver: no training curve" for an empty curve, else None.
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure
    """

    def __init__(self, *, loss_curve, optimum=None):
        self.loss_curve = loss_curve
        self.optimum = optimum

    def plot(self, ax=None, *, line_kwargs=None, optimum_line_kwargs=None):
        """Draw on ``ax``, or on a new Figure when it is None.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
        line_kwargs, optimum_line_kwargs : dict, default=None
            Passed to ``ax.plot`` for the loss and to ``ax.axhline`` for the
            optimum.

        Returns
        -------
        display : LossCurveDisplay
        """
        if ax is None:
            ax = _new_axes()
        loss = np.asarray(self.loss_curve, dtype=np.float64).ravel()
        self.line_ = self.text_ = self.optimum_line_ = None
        if loss.size == 0:
            self.text_ = ax.text(
                0.5, 0.5, NO_CURVE, ha="center", va="center", transform=ax.transAxes
            )
            ax.set_axis_off()
        else:
            line = _line_kwargs({"label": "training loss"}, line_kwargs)
            self.line_ = ax.plot(np.arange(loss.size), loss, **line)[0]
            shown = loss
            if self.optimum is not None and np.isfinite(self.optimum):
                dashed = _line_kwargs(
                    {
                        "color": "black",
                        "linestyle": "--",
                        "linewidth": 1,
                        "label": "exact optimum",
                    },
                    optimum_line_kwargs,
                )
                self.optimum_line_ = ax.axhline(self.optimum, **dashed)
                shown = np.append(loss, self.optimum)
                ax.legend()
            if np.all(shown > 0):
                ax.set_yscale("log")
                _plain_log_ticks(ax, shown)
            ax.set(xlabel="epoch", ylabel="loss (mean squared error)")
        self.ax_, self.figure_ = ax, ax.figure
        return self

    @classmethod
    def from_estimator(cls, estimator, *, ax=None, line_kwargs=None):
        """Plot a fitted estimator's ``loss_curve_``.

        Parameters
        ----------
        estimator : fitted LinearRegressor
            Or any estimator with ``loss_curve_``.
        ax, line_kwargs
            See :meth:`plot`.

        Returns
        -------
        display : LossCurveDisplay
        """
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(estimator)
        loss_curve = getattr(estimator, "loss_curve_", None)
        if loss_curve is None:
            raise ParameterError(
                f"{type(estimator).__name__} has no loss_curve_ to plot"
            )
        return cls.from_loss(loss_curve, ax=ax, line_kwargs=line_kwargs)

    @classmethod
    def from_loss(cls, loss_history, *, optimum=None, ax=None, line_kwargs=None):
        """Plot a loss history, one value per epoch.

        Parameters
        ----------
        loss_history : array-like of shape (n_epochs,)
        optimum : float, default=None
            The exact optimum's loss, drawn as a dashed line.
        ax, line_kwargs
            See :meth:`plot`.

        Returns
        -------
        display : LossCurveDisplay
        """
        loss = np.asarray(loss_history, dtype=np.float64)
        if loss.ndim != 1:
            raise ParameterError(f"loss_history must be 1-D, got shape {loss.shape}")
        display = cls(loss_curve=loss, optimum=optimum)
        return display.plot(ax, line_kwargs=line_kwargs)


def _plain_log_ticks(ax, values: np.ndarray) -> None:
    """Label a log axis with plain numbers (``%g``); the minor ticks (2, 5 x 10^k)
    too when ``values`` span less than two decades."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    def plain(value, _position):
        return f"{value:g}"

    ax.yaxis.set_major_formatter(FuncFormatter(plain))
    if np.log10(values.max() / values.min()) < 2:
        ax.yaxis.set_minor_locator(LogLocator(subs=(2.0, 5.0)))
        ax.yaxis.set_minor_formatter(FuncFormatter(plain))
    else:
        ax.yaxis.set_minor_formatter(NullFormatter())


def plot_fit(path, X: np.ndarray, y: np.ndarray, **fit) -> None:
    """Write :func:`fit_figure` (same arguments) as a PNG to ``path``, atomically."""
    figure = fit_figure(X, y, **fit)
    with atomic_write(path, "wb") as file:
        figure.savefig(file, format="png", dpi=100)


def fit_figure(
    X: np.ndarray,
    y: np.ndarray,
    *,
    coef: np.ndarray,
    intercept: np.ndarray,
    loss_history: np.ndarray,
    exact_coef: np.ndarray | None = None,
    exact_intercept: np.ndarray | None = None,
    exact_loss: float | None = None,
    feature_names: list[str] | None = None,
    target_names: list[str] | None = None,
):
    """The figure of a fit: a row of panels per target, the loss curve beside them.

    One feature: [data, fitted and exact line | loss curve]. Several features:
    [actual against predicted | residuals | loss curve]. ``exact_loss``, the
    exact optimum's loss, is drawn on the loss curve. With several targets each
    row's panels are titled with its target's name and the one loss panel says
    the loss is their mean; beyond ``MAX_PLOTTED_TARGETS`` the first are drawn
    and the figure's title says how many of how many.

    ``coef`` has shape (n_features, n_targets), ``intercept`` (n_targets,), ``y``
    (n_samples, n_targets) or (n_samples,) for one target.
    """
    from matplotlib.figure import Figure

    from ..numerics.linear import target_names as default_target_names

    X = np.asarray(X, dtype=np.float64)
    n_features = X.shape[1]
    coef = np.asarray(coef, dtype=np.float64).reshape(n_features, -1)
    intercept = np.atleast_1d(np.asarray(intercept, dtype=np.float64))
    n_targets = coef.shape[1]
    Y = np.asarray(y, dtype=np.float64).reshape(X.shape[0], n_targets)
    names = default_target_names(target_names, n_targets)
    Y_pred = linear_predictions(X, coef, intercept)
    Y_exact = None
    if exact_coef is not None and n_features == 1:
        exact_coef = np.asarray(exact_coef, dtype=np.float64).reshape(1, n_targets)
        b = np.zeros(n_targets) if exact_intercept is None else exact_intercept
        Y_exact = linear_predictions(X, exact_coef, np.ravel(b))

    rows = min(n_targets, MAX_PLOTTED_TARGETS)
    panels = 1 if n_features == 1 else 2
    height = 4 if n_features == 1 else 4.5
    figure = Figure(figsize=(5 * (panels + 1), height * rows), layout="constrained")
    grid = figure.add_gridspec(rows, panels + 1)
    for k in range(rows):
        prefix = "" if n_targets == 1 else f"{names[k]}: "
        axes = [figure.add_subplot(grid[k, j]) for j in range(panels)]
        if n_features == 1:
            FitDisplay.from_predictions(
                X[:, 0],
                Y[:, k],
                Y_pred[:, k],
                y_exact=None if Y_exact is None else Y_exact[:, k],
                feature_name=(feature_names or ["x"])[0],
                target_name=names[k],
                ax=axes[0],
            )
            axes[0].set_title(prefix + "data and fitted line")
        else:
            display = PredictionDisplay(
                y_true=Y[:, k], y_pred=Y_pred[:, k], target_name=names[k]
            )
            display.plot(axes[0], kind="actual_vs_predicted")
            axes[0].set_title(prefix + "actual against predicted")
            display.plot(axes[1], kind="residual_vs_predicted")
            axes[1].set_title(prefix + "residuals")
    loss_ax = figure.add_subplot(grid[:, panels])
    LossCurveDisplay.from_loss(loss_history, optimum=exact_loss, ax=loss_ax)
    pooled = "" if n_targets == 1 else f" (mean over {n_targets} targets)"
    loss_ax.set_title("training loss" + pooled)
    if rows < n_targets:
        figure.suptitle(f"the first {rows} of {n_targets} targets")
    return figure
