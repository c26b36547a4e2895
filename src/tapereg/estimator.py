"""``LinearRegressor``: the estimator users call, in scikit-learn's conventions.

``fit`` and ``fit_stream`` are one path: check the parameters, wrap the input as a
source (arrays, or a re-iterable of blocks), make the plan, and call the pure
``fitting.solve`` with the reducer the ``strategy`` gives and the callbacks the
reporting parameters ask for; one ``_set_fitted`` stores its outcome. TensorFlow
is imported only when gradient descent runs; ``predict`` is NumPy.
"""

from __future__ import annotations

import contextlib
import dataclasses

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted

from .design.frames import prepare
from .errors import ParameterError, warn
from .fitting.choices import KINKED_LOSSES
from .fitting.outcome import FitOutcome
from .fitting.plan import check_params, make_plan, resolve_engine
from .fitting.solve import solve
from .fitting.source import BlockSource
from .fitting.validation import (
    array_source,
    check_same_features,
    features_to_predict,
)
from .inference import DIAGNOSTICS, OLSInference
from .numerics.linear import linear_predictions
from .parallel.reducers import reducer_for
from .runtime.callbacks import epoch_callbacks

# Every fitted attribute: a new fit (or load) removes what the last one left.
_FITTED = (
    "coef_",
    "intercept_",
    "n_features_in_",
    "feature_names_in_",
    "target_names_",
    "n_iter_",
    "loss_curve_",
    "learning_rate_",
    "engine_",
    "optimizer_",
    "standardization_",
    "moments_",
    "exact_solution_",
    "metrics_",
    "statistics_",
    "rsquared_",
    "rsquared_adj_",
    "fvalue_",
    "f_pvalue_",
    "resid_std_err_",
    "nobs_",
    "df_model_",
    "df_resid_",
    "encoding_",
    "terms_",
    *DIAGNOSTICS,
)


class LinearRegressor(OLSInference, RegressorMixin, BaseEstimator):
    """Linear regression trained by gradient descent on ``tf.GradientTape``.

    Minimises the mean squared error ``mean((X·w + b − y)²)`` with the seeds' training
    loop, compiled once. The defaults standardize the data inside the fit and take the
    largest safe step, so they reach the least-squares optimum on unscaled data
    without tuning; ``solver="exact"`` solves it directly instead.

    Parameters
    ----------
    learning_rate : "auto" or float, default="auto"
        Step size. ``"auto"`` is 1/L, L the gradient's Lipschitz constant (the largest
        step that never diverges); for Adam it is 0.01.
    max_iter : int, default=1000
        Maximum number of epochs.
    optimizer : {"auto", "gd", "momentum", "adam", "accelerated"}, default="auto"
        ``"gd"`` is the seeds' ``assign_sub(learning_rate * grad)``;
        ``"accelerated"`` is Nesterov's accelerated gradient (FISTA) with gradient
        restarts. ``"auto"`` on the gram engine with an automatic step and no L1
        part is that update on the whitened problem (``optimizer_ == "whitened
        gd"``: coordinates in which every direction has the same curvature, so the
        first step lands on the optimum whatever the conditioning),
        ``"accelerated"`` for the other losses on full batches, and ``"gd"``
        otherwise.
    batch_size : int or None, default=None
        None trains on the full batch, as the seeds do; an int uses shuffled
        mini-batches of that size.
    fit_intercept : bool, default=True
    standardize : bool, default=True
        Centre and scale features and target inside the fit; ``coef_`` and
        ``intercept_`` are still in the original units. False trains on raw values.
    alpha : float, default=0.0
        Strength of the elastic-net penalty, with the meaning of scikit-learn's
        ``ElasticNet``: the minimiser of ``mean((X·w + b − y)²)/2 + alpha·l1_ratio·‖w‖₁
        + alpha·(1 − l1_ratio)·‖w‖²/2``. 0 is ordinary least squares.
    l1_ratio : float, default=0.0
        Share of L1 in the penalty. The L2 part goes through the gradient, the L1 part
        through a proximal (soft-threshold) step, so coefficients reach exact zeros.
        The default makes ``alpha`` alone a ridge penalty, which every solver handles
        (``solver="exact"`` in closed form); ElasticNet's own default is 0.5.
    tol : float or None, default=1e-8
        Stop when the loss has not decreased by more than ``tol`` (relative to the
        best loss) for ``n_iter_no_change`` epochs. None runs all ``max_iter`` epochs.
    n_iter_no_change : int, default=5
    solver : {"gd", "exact"}, default="gd"
        ``"exact"`` solves the least-squares problem directly (QR/SVD, float64).
    engine : {"auto", "gram", "data"}, default="auto"
        ``"data"`` streams X through the tape every epoch, as the seeds do. ``"gram"``
        makes one float64 pass for the moments of [X, y, 1] and runs the same tape
        step on the loss written through them: O(d²) per epoch, always in float64,
        and the same per-epoch losses. ``"auto"``: gram for full-batch training with
        at most 1000 features, data otherwise.
    momentum : float, default=0.9
        Used by ``optimizer="momentum"``.
    nesterov : bool, default=False
        Nesterov momentum for ``optimizer="momentum"``.
    dtype : {"float32", "float64"}, default="float32"
        Precision of the data engine's training. The gram engine always trains in
        float64 (its epochs cost O(d²), so float64 costs nothing there), and so
        does the exact solver; ``engine_`` says which engine ran.
    random_state : int, RandomState or None, default=None
        Seeds the mini-batch shuffling.
    verbose : {0, 1, 2}, default=0
        0 is silent; 1 shows a progress bar on a terminal (one line per epoch when
        output is not a terminal); 2 prints one line per epoch, as Keras does.
    logdir : str or path, default=None
        Write TensorBoard scalars there while training: the loss, the gradient's norm
        and the learning rate at every epoch (``tensorboard --logdir DIR``).
    checkpoint_dir : str or path, default=None
        Keep the training state there (weights, optimizer slots, early-stopping
        state, losses) every ``checkpoint_every`` epochs or 60 seconds, and at the
        end, with ``tf.train.CheckpointManager``.
    checkpoint_every : int, default=100
    resume : bool, default=False
        Continue from the checkpoint in ``checkpoint_dir`` (the same data and
        settings; another problem's checkpoint is refused). A resumed fit ends with
        the same coefficients as an uninterrupted one (mini-batches included: the
        order of epoch k depends only on the seed and k).
    strategy : None, "none", "mirrored", "multi-worker" or tf.distribute.Strategy
        Train across workers: each worker calls ``fit``/``fit_stream`` on its own
        shard of the rows (``tapereg.ShardedBlocks``; ``tapereg.shard_of`` for
        files). The shards'
        moments are pooled with two all-reduces (the gram engine's moments, the
        standardization and the step size of all rows); the data engine then
        all-reduces the shards' loss and gradient sums at every full-batch epoch
        or mini-batch step, so every worker makes the single-process update.
        "multi-worker" reads the cluster from ``TF_CONFIG``; "mirrored" uses the
        devices of one machine (the data engine's in-memory full batch is split
        by rows over them). With solver="exact" each worker factors its shard
        (a blocked QR centred on the pooled means) and the triangular factors are
        gathered and factored once more: the solution of all rows.
    compute_statistics : bool, default=True
        Compute standard errors, R², F and the rest for :meth:`summary` (one extra
        float64 pass over X, a blocked QR; the exact solver gets them for free).
    cov_type : {"nonrobust", "HC0", "HC1", "HC2", "HC3", "cluster"}, \
default="nonrobust"
        The coefficients' covariance :meth:`summary` and :meth:`cov_params` report
        by default, with statsmodels' definitions ("cluster" needs ``groups`` at
        fit time, and is kept whenever they are given). A robust type (White's HC0 and
        MacKinnon and White's HC1–HC3) costs one more float64 pass over the rows
        after training (every worker's), which gives all four; "nonrobust" costs
        nothing more.
    formula : str, optional
        A Wilkinson formula, as statsmodels' ``ols``: ``"invest ~ np.log(value)
        + C(firm)"``. ``fit(data)`` then takes the target and the terms from the
        table (transforms, interactions ``a:b`` and ``a*b``, ``C(x)`` with
        treatment coding and ``C(x, Treatment("b"))`` for a chosen reference,
        ``- 1`` for no intercept), and ``predict(data)`` applies it.
    categorical : {"auto", "error"}, default="auto"
        Text, pandas-category and boolean columns of a DataFrame: one-hot encoded
        with the first level (sorted) as the reference (``firm[T.Chrysler]``),
        booleans as 0/1 ("auto"), or refused ("error").
    positive : bool, default=False
        Non-negative coefficients, as scikit-learn's ``LinearRegression(
        positive=True)``: gradient descent projects w on w ≥ 0 after every step;
        the exact solver solves the non-negative least-squares problem from its
        factor. No OLS statistics (the constrained fit has none).
    loss : {"squared_error", "huber", "quantile", "epsilon_insensitive"}, \
            default="squared_error"
        What training minimizes, with the penalty: the squared error, or
        ``SGDRegressor``'s Huber and ε-insensitive losses, or the pinball loss of
        ``QuantileRegressor`` (the conditional ``quantile``). These need the rows
        (the data engine) and have no OLS statistics; the pinball and
        ε-insensitive losses, with a kink, train on a smooth envelope narrowed
        stage by stage with accelerated gradient descent.
    epsilon : float, default=0.1
        Huber's threshold and the ε-insensitive band, in the target's units (as
        ``SGDRegressor``'s).
    quantile : float, default=0.5
        The quantile the pinball loss (``loss="quantile"``) estimates, in (0, 1).
    warm_start : bool, default=False
        ``fit`` and ``fit_stream`` start gradient descent from the current
        coefficients (when the model is fitted, with the same features and
        targets; a stream without feature and target names starts from zero)
        instead of zero, so a refit on similar data takes a handful of epochs.
    missing : {"error", "drop"}, default="error"
        A row with a missing value (NaN, None) in a used column, the target, the
        weights or the groups: refused with its column and row, or dropped with
        a warning that counts them.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,) or (n_targets, n_features)
    intercept_ : float or ndarray of shape (n_targets,)
    n_iter_ : int
        Epochs run (1 for the exact solver: its one pass over the data).
    loss_curve_ : ndarray of shape (n_iter_,)
        The tape's loss at each epoch, before that epoch's update, in the target's
        original units.
    learning_rate_ : float
        The step used, in the (standardized) units training saw; NaN for "exact".
    engine_, optimizer_ : str or None
        The engine and the update rule ``"auto"`` resolved to (None for "exact").
    standardization_ : Standardization or None
        The shift and scale applied inside the fit (None when not standardized).
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Only when X has string column names.
    rsquared_, rsquared_adj_, fvalue_, f_pvalue_, resid_std_err_ : float or ndarray
        R², adjusted R², the F statistic and its p-value, and the residual standard
        error (one value per target), with ``compute_statistics``.
    nobs_, df_model_, df_resid_ : int, float, float
        Observations and degrees of freedom of the model and the residuals.
    llf_, aic_, bic_, durbin_watson_ : float or ndarray
        Log-likelihood, Akaike's and Schwarz's criteria and the Durbin–Watson
        statistic of the (whitened) residuals, as statsmodels' OLS/WLS (one
        value per target; Durbin–Watson NaN across workers, whose rows have no
        one order).
    jarque_bera_, omnibus_ : pandas.Series or pandas.DataFrame
        ``statistic, p_value, skew, kurtosis`` and ``statistic, p_value`` of the
        residuals' normality tests (a row per target for several).
    condition_number_ : float
        statsmodels' condition number of the (weighted) design with its constant
        column.
    vif_ : pandas.Series
        Each feature's variance inflation factor (inf in an exact dependence).
    encoding_ : tapereg.design.encoding.Encoding
        Only where the input was encoded (a ``formula``, text columns): how raw
        columns become the model's; ``predict`` and ``export`` apply it.
    terms_ : ndarray of str
        With ``encoding_``: the coefficients' names (``C(firm)[T.IBM]``,
        ``value:capital``), in ``coef_``'s order.
    moments_ : tapereg.numerics.moments.Moments
        Only after :meth:`fit_stream` and :meth:`partial_fit`: the float64
        moments of [X, Y] of the rows fitted (means, covariance, row count).
    exact_solution_ : tapereg.numerics.exact.LeastSquaresSolution
        Only where the fit computed the exact least-squares solution anyway (the
        exact solver, the statistics of rows in memory, a whitening factored from
        the rows): its coefficients and intercept in the original units. Not
        saved; the command line's report compares training with it.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.linspace(0, 10, 100)[:, None]
    >>> y = 3 * X[:, 0] + 2
    >>> LinearRegressor().fit(X, y).coef_.round(3)
    array([3.])
    """

    def __init__(
        self,
        learning_rate="auto",
        max_iter=1000,
        optimizer="auto",
        batch_size=None,
        fit_intercept=True,
        standardize=True,
        alpha=0.0,
        l1_ratio=0.0,
        tol=1e-8,
        n_iter_no_change=5,
        solver="gd",
        engine="auto",
        momentum=0.9,
        nesterov=False,
        dtype="float32",
        random_state=None,
        verbose=0,
        compute_statistics=True,
        cov_type="nonrobust",
        formula=None,
        categorical="auto",
        missing="error",
        positive=False,
        loss="squared_error",
        epsilon=0.1,
        quantile=0.5,
        warm_start=False,
        logdir=None,
        checkpoint_dir=None,
        checkpoint_every=100,
        resume=False,
        strategy=None,
    ):
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.optimizer = optimizer
        self.batch_size = batch_size
        self.fit_intercept = fit_intercept
        self.standardize = standardize
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.solver = solver
        self.engine = engine
        self.momentum = momentum
        self.nesterov = nesterov
        self.dtype = dtype
        self.random_state = random_state
        self.verbose = verbose
        self.compute_statistics = compute_statistics
        self.cov_type = cov_type
        self.formula = formula
        self.categorical = categorical
        self.missing = missing
        self.positive = positive
        self.loss = loss
        self.epsilon = epsilon
        self.quantile = quantile
        self.warm_start = warm_start
        self.logdir = logdir
        self.checkpoint_dir = checkpoint_dir
        self.checkpoint_every = checkpoint_every
        self.resume = resume
        self.strategy = strategy

    def fit(self, X, y=None, sample_weight=None, groups=None, *, epoch_callback=None):
        """Fit the model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or a DataFrame
            With a ``formula``, the table it reads (target included).
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            None with a ``formula``.
        sample_weight : array-like of shape (n_samples,), optional
            Weights of the mean squared error.
        groups : array-like of shape (n_samples,), optional
            Cluster labels (any hashable values) for cluster-robust standard
            errors: given, the fit also keeps the ``"cluster"`` covariance.
        epoch_callback : callable, optional
            ``epoch_callback(epoch, loss)`` after each epoch (called in chunks, as the
            compiled loop hands losses back to Python).

        Returns
        -------
        self : LinearRegressor
        """
        check_params(self.get_params())
        if self.cov_type == "cluster" and groups is None:
            raise ParameterError(
                "cov_type='cluster' needs the cluster labels: fit(X, y, groups=...)"
            )
        given = prepare(self.get_params(), X, y, sample_weight, groups)
        source, single_target = array_source(
            self, given.X, given.y, given.sample_weight, given.groups
        )
        start = self._warm_start_for(source)
        outcome = self._solve(
            source, epoch_callback, encoding=given.encoding, start=start
        )
        self._set_fitted(outcome, single_target)
        self._set_encoding(given.encoding)
        return self

    def partial_fit(self, X, y, sample_weight=None):
        """Add rows to the fit: after any sequence of calls, the model is the fit
        of every row seen.

        The float64 moments of the new rows are merged with those of the rows
        before (``moments_``, kept in the model file), and the gram engine trains
        on them (the exact solver solves their normal equations); no row is
        kept. The OLS statistics follow the moments; the diagnostics and robust
        covariances need a pass over the rows, which only ``fit`` makes. Across
        workers (``strategy``) each worker passes its own new rows and makes the
        same calls: their moments are pooled, then merged with those before.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
        sample_weight : array-like of shape (n_samples,), optional

        Returns
        -------
        self : LinearRegressor
        """
        before = self._moments_before()
        rows, single_target = array_source(
            self, X, y, sample_weight, reset=before is None
        )
        return self._add_rows(rows, before, single_target)

    def partial_fit_stream(self, blocks):
        """:meth:`partial_fit` over a stream of blocks: one pass for their moments,
        so the gram engine's fit equals one ``partial_fit`` of all their rows,
        never holding them all in memory.

        Parameters
        ----------
        blocks : iterable of array blocks
            Numeric ``(X, y)`` or ``(X, y, sample_weight)``, as :meth:`fit_stream`
            takes them (say, :func:`tapereg.open_table`'s stream; its feature
            names must be the model's). Read once on the gram engine and by the
            exact solver; the data engine (one epoch from the last coefficients)
            reads it again, so give a re-iterable there.

        Returns
        -------
        self : LinearRegressor
        """
        before = self._moments_before()
        source = BlockSource(blocks)
        if before is not None:
            check_same_features(self, source)
        return self._add_rows(source, before, single_target=None)

    def _moments_before(self):
        """The moments ``partial_fit`` adds to; None where it starts over (and
        says so where the model was fitted by ``fit``)."""
        check_params(self.get_params())
        if self.formula is not None:
            raise ParameterError(
                "partial_fit takes numeric X and y; a formula's levels could change "
                "from call to call: fit the table, or encode it once yourself"
            )
        if self.loss in KINKED_LOSSES:
            raise ParameterError(
                f"partial_fit takes one gradient step a call, which stalls at the "
                f"kink of loss={self.loss!r}; fit (or fit_stream) all the rows"
            )
        before = getattr(self, "moments_", None)
        if before is None and hasattr(self, "coef_"):
            warn(
                "this model was fitted by fit(), which keeps no moments of its rows; "
                "partial_fit starts over from these rows (call partial_fit for "
                "every part, or fit_stream, to add rows up)",
                UserWarning,
            )
        return before

    def _add_rows(self, rows, before, single_target):
        """Merge the new rows' moments (every worker's) with ``before`` and fit:
        the gram engine or the exact solver on the merged moments, else one
        epoch of the data engine over the new rows."""
        from .fitting.source import MomentsSource, added_moments

        moments = added_moments(before, rows, reducer_for(self.strategy))
        engine = resolve_engine(
            self.engine,
            self.batch_size,
            rows.n_features,
            self.loss,
        )
        if self.solver == "exact" or engine == "gram":
            source = MomentsSource(
                moments,
                feature_names=rows.feature_names,
                target_names=rows.target_names,
            )
            # Every worker holds the moments of all rows now: each solves alone,
            # and alike.
            outcome = self._solve(source, None, reducer=reducer_for(None))
        else:
            # The data engine and mini-batches: one pass over the new rows, from
            # the last call's coefficients (as SGDRegressor.partial_fit).
            initial = None
            if before is not None:
                initial = (
                    np.atleast_2d(self.coef_).T.astype(np.float64),
                    np.atleast_1d(self.intercept_).astype(np.float64),
                )
            outcome = self._solve(rows, None, one_pass_from=initial)
        if single_target is None:
            single_target = outcome.coef.shape[1] == 1
        self._set_fitted(outcome, single_target)
        self.moments_ = moments
        return self

    def fit_stream(self, blocks, *, epoch_callback=None):
        """Fit on data read a block of rows at a time: files bigger than memory.

        Parameters
        ----------
        blocks : re-iterable of array blocks
            ``(X, y)``, ``(X, y, sample_weight)`` or ``(X, y, sample_weight,
            groups)`` (weights may be None; groups are cluster labels).
            For example the stream of :func:`tapereg.open_table`. It is read several
            times: once for the float64 moments (which give the standardization,
            the gram engine's moments and the OLS inference), once more to cache
            the training rows for the data engine and mini-batches, or once more
            for the exact solver's QR. Feature and target names are taken from its
            ``feature_names`` and ``target_names`` when it has them. ``y`` may be
            1-D (one target) or 2-D; every block must have the first one's widths.
            X may be a DataFrame with text columns (``categorical="auto"``); with a
            ``formula`` each block is the table itself (or ``(table, None,
            sample_weight, groups)``). Then, and with ``missing="drop"``, a first
            pass learns the levels (every worker's) and counts the rows dropped.
        epoch_callback : callable, optional
            As for :meth:`fit`.

        Returns
        -------
        self : LinearRegressor
        """
        from .design.stream import encoded_stream

        check_params(self.get_params())
        blocks, encoding = encoded_stream(
            blocks, self.get_params(), reducer_for(self.strategy)
        )
        source = BlockSource(blocks)
        start = self._warm_start_for(source)
        outcome = self._solve(source, epoch_callback, encoding=encoding, start=start)
        self._set_fitted(outcome, single_target=outcome.coef.shape[1] == 1)
        self._set_encoding(encoding)
        return self

    def _warm_start_for(self, source):
        """(coef, intercept) to start from under ``warm_start``: the current fit's,
        where it has the same number of features and targets; else None."""
        if not self.warm_start or not hasattr(self, "coef_"):
            return None
        coef = np.atleast_2d(np.asarray(self.coef_, np.float64)).T
        if coef.shape != (source.n_features, source.n_targets):
            return None
        return coef, np.atleast_1d(np.asarray(self.intercept_, np.float64))

    def _fit_params(self) -> dict:
        """The LinearRegressor parameters of the problem fitted (a
        LinearRegressorCV's: those of its refit, with the chosen penalty)."""
        return self.get_params()

    def _solve(
        self,
        source,
        epoch_callback,
        encoding=None,
        one_pass_from=False,
        start=None,
        reducer=None,
        params=None,
    ):
        """The one path: plan, reducer and callbacks, then ``solve`` (a formula
        decides the intercept, named "Intercept" as statsmodels names it;
        ``one_pass_from``: partial_fit's one epoch from (coef, intercept), or
        from zero with None; ``reducer``: the strategy's unless given;
        ``params``: the parameters to plan with, where not :meth:`_fit_params`)."""
        plan = make_plan(self._fit_params() if params is None else params)
        if start is not None:
            plan = dataclasses.replace(plan, initial=start)
        if one_pass_from is not False:
            plan = dataclasses.replace(
                plan,
                max_iter=1,
                tol=None,
                initial=one_pass_from,
                compute_statistics=False,
            )
        if encoding is not None and encoding.formula is not None:
            plan = dataclasses.replace(
                plan, fit_intercept=encoding.intercept, intercept_name="Intercept"
            )
        with contextlib.ExitStack() as closing:
            callback = epoch_callbacks(
                verbose=self.verbose,
                logdir=self.logdir,
                max_iter=self.max_iter,
                epoch_callback=epoch_callback,
                closing=closing,
            )
            if reducer is None:
                reducer = reducer_for(self.strategy)
            return solve(source, plan, reducer, callback=callback)

    def _set_fitted(self, outcome: FitOutcome, single_target: bool):
        """Set every fitted attribute from ``outcome`` (and drop those it has not).

        The one place fitted attributes are set: by ``fit``, ``fit_stream`` and
        :func:`tapereg.load`.
        """
        for name in _FITTED:
            self.__dict__.pop(name, None)
        self.coef_ = outcome.coef.T[0] if single_target else outcome.coef.T
        self.intercept_ = (
            float(outcome.intercept[0]) if single_target else outcome.intercept
        )
        self.n_features_in_ = outcome.n_features
        if outcome.feature_names is not None:
            self.feature_names_in_ = np.asarray(outcome.feature_names, dtype=object)
        if outcome.target_names is not None:
            self.target_names_ = np.asarray(outcome.target_names, dtype=object)
        training = outcome.training
        self.n_iter_, self.loss_curve_ = training.n_iter, training.loss_curve
        self.learning_rate_ = training.learning_rate
        self.engine_, self.optimizer_ = training.engine, training.optimizer
        self.standardization_ = training.standardization
        if outcome.moments is not None:
            self.moments_ = outcome.moments
        if outcome.metrics is not None:
            self.metrics_ = outcome.metrics
        if outcome.exact is not None:
            self.exact_solution_ = outcome.exact
        if outcome.statistics is not None:
            stats = outcome.statistics

            def per_target(values):
                return float(values[0]) if stats.coef.shape[1] == 1 else values

            self.statistics_ = stats
            self.rsquared_ = per_target(stats.rsquared)
            self.rsquared_adj_ = per_target(stats.rsquared_adj)
            self.fvalue_ = per_target(stats.fvalue)
            self.f_pvalue_ = per_target(stats.f_pvalue)
            self.resid_std_err_ = per_target(stats.resid_std_err)
            self.nobs_ = stats.nobs
            self.df_model_ = float(stats.df_model)
            self.df_resid_ = float(stats.df_resid)
            if stats.diagnostics is not None:
                self.__dict__.update(self._diagnostics_attributes(stats))
        return self

    def predict(self, X):
        """Predict ``X·coef_ᵀ + intercept_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_targets)
        """
        check_is_fitted(self)
        X = features_to_predict(self, self._encoded(X))
        return linear_predictions(
            X, np.asarray(self.coef_, np.float64).T, self.intercept_
        )

    def _set_encoding(self, encoding) -> None:
        """Keep the fit's encoding (None: the input was numbers) and its terms:
        the coefficients' names, as a formula names them."""
        if encoding is not None:
            self.encoding_ = encoding
            self.terms_ = np.asarray(encoding.names, dtype=object)

    def score(self, X, y=None, sample_weight=None):
        """R² of the predictions; with a ``formula``, ``score(data)`` takes y from
        the table."""
        if y is None and getattr(self, "encoding_", None) is not None:
            from .design.encoding import encode_targets

            if self.encoding_.targets:
                y = encode_targets(self.encoding_, X)
        return super().score(X, y, sample_weight=sample_weight)

    def _encoded(self, X):
        """X through the fitted encoding (formula, categories), as a DataFrame
        named by the design's columns; X itself where the fit had none."""
        encoding = getattr(self, "encoding_", None)
        if encoding is None:
            return X
        from .design.encoding import encode_frame

        if not hasattr(X, "columns"):
            raise ParameterError(
                "this model encodes its input (a formula or text columns): give "
                "a DataFrame with the columns it was fitted on"
            )
        return encode_frame(encoding, X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
