"""``LinearRegressorCV``: the penalty chosen by cross-validation, from moments.

One pass over the rows takes each fold's moments; every (alpha, l1_ratio) is then
solved on every fold's training moments and scored on its test moments without
reading the rows again (``fitting/cv.py``, ``numerics/folds.py``). The chosen
penalty is refitted on all rows by ``LinearRegressor``'s own path, so the fitted
estimator is a fitted ``LinearRegressor`` with the chosen ``alpha`` and
``l1_ratio``: ``predict``, ``score``, ``save``/``load`` and export as for one.
"""

from __future__ import annotations

import numbers

from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from .design.frames import prepare
from .errors import ParameterError
from .estimator import LinearRegressor
from .fitting.cv import (
    check_cv_params,
    cross_validate,
    fold_moments,
    l1_ratios_of,
    stream_fold_moments,
)
from .fitting.plan import check_params
from .fitting.source import BlockSource
from .fitting.validation import array_source
from .parallel.reducers import reducer_for


def _never(estimator) -> bool:
    return False


class LinearRegressorCV(LinearRegressor):
    """Linear regression with the elastic-net penalty chosen by cross-validation.

    As scikit-learn's ``ElasticNetCV`` (the same alphas, folds, MSE path and
    choice), computed from moments: one float64 pass over the rows takes the
    moments of every fold, and every penalty on every fold is solved and scored
    from them (ridge in closed form from one eigendecomposition per fold, the
    elastic net by coordinate descent on the gram along the descending alphas,
    each solution made exact on its active set). The chosen penalty is then
    refitted on all rows as ``LinearRegressor(alpha=alpha_, l1_ratio=l1_ratio_)``,
    starting from its solution on all rows' moments.

    Parameters
    ----------
    l1_ratio : float or list of float, default=0.0
        Share of L1 in the penalty (``LinearRegressor``'s, scikit-learn
        ElasticNet's meaning). Several: each is cross-validated on its own alpha
        grid, and the best pair chosen. The default is ridge, which also takes
        several targets; an L1 part needs one target, as ``ElasticNetCV``.
    alphas : int or array-like of float, default=100
        An int: that many alphas from α_max, the smallest alpha whose solution is
        0 (``max_j |x_jᵀy|/(n·l1_ratio)`` on the centred, weighted rows), down to
        ``eps·α_max``, evenly on a log scale: scikit-learn's grid. For ridge
        (l1_ratio = 0), which scikit-learn gives no automatic grid, α_max is
        computed as if l1_ratio were 1e-3, as glmnet does. An array: those
        alphas, tried in descending order.
    eps : float, default=1e-3
        Length of the automatic grid: its smallest alpha over its largest.
    cv : int, splitter or iterable of (train, test) index pairs, default=5
        An int K is scikit-learn's ``KFold(K)`` for :meth:`fit` (contiguous
        folds, no shuffle). :meth:`fit_stream` takes an int only, and its folds
        are interleaved: row i of the stream is in fold ``i mod K`` (a stream's
        length is known only at its end); across workers, each worker's row
        index in its own stream, fold k pooling every worker's fold k.
    fit_intercept, standardize, solver, engine, optimizer, learning_rate, \
max_iter, tol, n_iter_no_change, batch_size, momentum, nesterov, dtype, \
random_state, verbose, compute_statistics, cov_type, formula, categorical, \
missing, logdir, checkpoint_dir, checkpoint_every, resume, strategy
        As for :class:`LinearRegressor`: they set the refit on all rows
        (``standardize`` only its training units: every penalty is of the
        coefficients in the data's units, as scikit-learn's). ``max_iter`` also
        bounds the coordinate-descent sweeps at each alpha of the path;
        ``strategy`` pools the folds' moments over workers. ``solver="exact"``
        takes ridge only.

    Attributes
    ----------
    alpha_ : float
        The chosen alpha: least MSE averaged over the folds.
    l1_ratio_ : float
        The chosen l1_ratio.
    alphas_ : ndarray of shape (n_alphas,) or (n_l1_ratio, n_alphas)
        The alphas tried, descending (one grid per l1_ratio where they are
        automatic and there are several l1_ratios).
    mse_path_ : ndarray of shape (n_alphas, n_folds) or (n_l1_ratio, n_alphas, \
n_folds)
        The (weighted) MSE of each alpha on each held-out fold.
    coef_, intercept_, n_iter_, ... :
        Those of the refit, as :class:`LinearRegressor`'s.

    Notes
    -----
    ``save`` writes the refit: the file loads as a ``LinearRegressor`` with
    ``alpha=alpha_`` and ``l1_ratio=l1_ratio_`` (the path is not kept). There is
    no ``partial_fit``: the folds are of the rows of one fit.

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> X, y = load_diabetes(return_X_y=True)
    >>> model = LinearRegressorCV(l1_ratio=0.5).fit(X, y)
    >>> round(model.alpha_, 5), model.mse_path_.shape
    (0.0043, (100, 5))
    """

    def __init__(
        self,
        *,
        l1_ratio=0.0,
        alphas=100,
        eps=1e-3,
        cv=5,
        fit_intercept=True,
        standardize=True,
        solver="gd",
        engine="auto",
        optimizer="auto",
        learning_rate="auto",
        max_iter=1000,
        tol=1e-8,
        n_iter_no_change=5,
        batch_size=None,
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
        logdir=None,
        checkpoint_dir=None,
        checkpoint_every=100,
        resume=False,
        strategy=None,
    ):
        self.l1_ratio = l1_ratio
        self.alphas = alphas
        self.eps = eps
        self.cv = cv
        self.fit_intercept = fit_intercept
        self.standardize = standardize
        self.solver = solver
        self.engine = engine
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.batch_size = batch_size
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
        self.logdir = logdir
        self.checkpoint_dir = checkpoint_dir
        self.checkpoint_every = checkpoint_every
        self.resume = resume
        self.strategy = strategy

    def fit(self, X, y=None, sample_weight=None, groups=None, *, epoch_callback=None):
        """Cross-validate the penalties, then refit the chosen one on all rows.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or a DataFrame
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Several targets for ridge only (l1_ratio=0).
        sample_weight : array-like of shape (n_samples,), optional
            Weights of every fold's fit and of its held-out MSE (the mean over
            folds is unweighted, as scikit-learn's).
        groups : array-like of shape (n_samples,), optional
            Cluster labels: given to a splitter that takes them (``GroupKFold``)
            and to the refit (``cov_type="cluster"``).
        epoch_callback : callable, optional
            As for :meth:`LinearRegressor.fit`, during the refit.

        Returns
        -------
        self : LinearRegressorCV
        """
        params = self._checked_params()
        if self.cov_type == "cluster" and groups is None:
            raise ParameterError(
                "cov_type='cluster' needs the cluster labels: fit(X, y, groups=...)"
            )
        given = prepare(params, X, y, sample_weight, groups)
        source, single_target = array_source(
            self, given.X, given.y, given.sample_weight, given.groups
        )
        folds = fold_moments(source, self.cv, given.groups, reducer_for(self.strategy))
        return self._choose_and_refit(
            source, folds, single_target, given.encoding, epoch_callback
        )

    def fit_stream(self, blocks, *, epoch_callback=None):
        """Cross-validate over a stream of blocks, then refit on all of them.

        The folds are interleaved (row i in fold ``i mod cv``), and the stream is
        read once for them, then as :meth:`LinearRegressor.fit_stream` reads it
        for the refit.

        Parameters
        ----------
        blocks : re-iterable of array blocks
            As for :meth:`LinearRegressor.fit_stream`.
        epoch_callback : callable, optional

        Returns
        -------
        self : LinearRegressorCV
        """
        from .design.stream import encoded_stream

        params = self._checked_params()
        if not isinstance(self.cv, numbers.Integral):
            raise ParameterError(
                "fit_stream takes cv as a number of folds (rows are dealt to them "
                f"in turn), got {self.cv!r}; a splitter needs the rows in memory: "
                "use fit"
            )
        reducer = reducer_for(self.strategy)
        blocks, encoding = encoded_stream(blocks, params, reducer)
        source = BlockSource(blocks)
        folds = stream_fold_moments(source, self.cv, reducer)
        return self._choose_and_refit(source, folds, None, encoding, epoch_callback)

    # The path is of least squares: the loss is fixed, not a parameter.
    loss, epsilon, quantile = "squared_error", 0.1, 0.5

    # partial_fit adds rows to one fit; the folds are of the rows of one call.
    partial_fit = available_if(_never)(LinearRegressor.partial_fit)

    def _checked_params(self) -> dict:
        """The refit's parameters (any penalty), after checking every parameter."""
        check_cv_params(self.get_params())
        params = self._refit_params(0.0, 0.0)
        check_params(params)
        return params

    def _refit_params(self, alpha: float, l1_ratio: float) -> dict:
        """The LinearRegressor parameters of the refit with this penalty."""
        own = self.get_params()
        params = {
            name: own[name]
            for name in LinearRegressor._get_param_names()
            if name in own
        }
        # Not LinearRegressorCV's: the penalty chosen, no sign constraint, no
        # warm start (the refit starts from the path's solution).
        params.update(alpha=alpha, l1_ratio=l1_ratio, positive=False, warm_start=False)
        params.update(loss=self.loss, epsilon=self.epsilon, quantile=self.quantile)
        return params

    def _fit_params(self) -> dict:
        check_is_fitted(self, "alpha_")
        return self._refit_params(self.alpha_, self.l1_ratio_)

    def _choose_and_refit(self, source, folds, single_target, encoding, callback):
        """The penalty of least held-out MSE, refitted on all rows from its
        solution on all rows' moments; then the path's attributes."""
        fit_intercept = self.fit_intercept
        if encoding is not None and encoding.formula is not None:
            fit_intercept = encoding.intercept
        found = cross_validate(
            folds,
            alphas=self.alphas,
            l1_ratios=l1_ratios_of(self.l1_ratio),
            eps=self.eps,
            fit_intercept=fit_intercept,
            max_iter=self.max_iter,
        )
        outcome = self._solve(
            source,
            callback,
            encoding=encoding,
            start=(found.coef, found.intercept),
            params=self._refit_params(found.alpha, found.l1_ratio),
        )
        if single_target is None:
            single_target = outcome.coef.shape[1] == 1
        self._set_fitted(outcome, single_target)
        self._set_encoding(encoding)
        one_ratio = len(found.l1_ratios) == 1
        self.alpha_, self.l1_ratio_ = found.alpha, found.l1_ratio
        self.alphas_ = found.alphas[0] if one_ratio else found.alphas
        if not isinstance(self.alphas, numbers.Integral):
            self.alphas_ = found.alphas[0]  # given: the same for every l1_ratio
        self.mse_path_ = found.mse_path[0] if one_ratio else found.mse_path
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        try:  # several targets for ridge only
            tags.target_tags.multi_output = bool(l1_ratios_of(self.l1_ratio).max() == 0)
        except (TypeError, ValueError):
            tags.target_tags.multi_output = False
        return tags
