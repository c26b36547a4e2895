"""``LinearRegressor``: the estimator users call, in scikit-learn's conventions.

``fit`` validates, prepares (dtype, standardization, step size), calls a pure solver
(the GradientTape loop or the exact solver) and stores NumPy results. TensorFlow is
imported only when gradient descent runs; ``predict`` is NumPy.
"""

from __future__ import annotations

import contextlib
import numbers
import sys
import warnings

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    validate_data,
)

from .core.optimizers import OPTIMIZERS
from .errors import (
    CollinearityWarning,
    ConstantColumnWarning,
    ConstantTargetWarning,
    DataError,
    ParameterError,
)
from .numerics.exact import solve_least_squares, solve_least_squares_stream
from .numerics.gram import (
    GRAM_MAX_FEATURES,
    MomentsAccumulator,
    data_moments,
    dependent_columns,
    hessian_spectrum,
    standardization_from_moments,
    statistics_from_moments,
)
from .numerics.preprocessing import (
    Standardization,
    _chunks,
    aligned,
    linear_predictions,
    row_blocks,
)
from .numerics.statistics import ols_statistics, ols_statistics_from_moments
from .numerics.stepsize import ADAM_AUTO_LEARNING_RATE, auto_lipschitz, batch_lipschitz
from .parallel.distributed import STRATEGIES

SOLVERS = ("gd", "exact")
# Fitted attributes that only some fits set.
_FIT_DEPENDENT = (
    "statistics_",
    "rsquared_",
    "rsquared_adj_",
    "fvalue_",
    "f_pvalue_",
    "resid_std_err_",
    "nobs_",
    "df_model_",
    "df_resid_",
)
ENGINES = ("auto", "gram", "data")
DTYPES = ("float32", "float64")


def _target_names(y) -> list[str] | None:
    """Column names of a pandas target, if it has them."""
    name = getattr(y, "name", None)
    if name is not None and not hasattr(y, "columns"):
        return [str(name)]
    columns = getattr(y, "columns", None)
    return [str(c) for c in columns] if columns is not None else None


def _write_scalars(writer, chunk) -> None:
    """TensorBoard scalars of one chunk of epochs: loss, gradient norm, step size."""
    import tensorflow as tf

    with writer.as_default():
        for offset, (loss, norm) in enumerate(
            zip(chunk.losses, chunk.gradient_norms, strict=True)
        ):
            step = chunk.first + offset
            tf.summary.scalar("loss", float(loss), step=step)
            tf.summary.scalar("gradient_norm", float(norm), step=step)
            tf.summary.scalar("learning_rate", chunk.learning_rate, step=step)
    writer.flush()


# Beyond this condition number (about 1/(100·ε) in float64) gradient descent
# cannot resolve the smallest curvature: the fit stalls far from the optimum.
MAX_CONDITION = 1e12


def _validated(estimator, *args, **kwargs):
    """sklearn's ``validate_data``, its ValueErrors (wrong number or names of
    features, text, wrong shapes) raised as our DataError with the same message."""
    try:
        return validate_data(estimator, *args, **kwargs)
    except ValueError as error:
        if isinstance(error, DataError):
            raise
        raise DataError(_one_line(str(error))) from None


def _one_line(message: str) -> str:
    """sklearn's multi-line feature-name message as one line: lists run on."""
    parts: list[str] = []
    for line in message.strip().splitlines():
        if line.startswith("- ") and parts:
            parts[-1] += (" " if parts[-1].endswith(":") else ", ") + line[2:]
        elif line.strip():
            parts.append(line.strip())
    return " ".join(p if p.endswith(".") else p + "." for p in parts)


def _first_non_finite(A: np.ndarray) -> tuple[int, int] | None:
    """(row, column) of the first NaN or ±inf in a 2-D array, or None.

    A sum per chunk finds the common case (all finite) without a boolean copy of A;
    only a chunk whose sum is not finite is searched (the sum may also overflow).
    """
    for rows in _chunks(A.shape[0], A.shape[1]):
        with np.errstate(over="ignore", invalid="ignore"):
            total = A[rows].sum(dtype=np.float64)
        if np.isfinite(total):
            continue
        bad = np.argwhere(~np.isfinite(A[rows]))
        if bad.size:
            return int(bad[0][0]) + rows.start, int(bad[0][1])
    return None


def _label(columns, column: int):
    return columns[column] if columns is not None else column


def _check_finite(A: np.ndarray, name: str, columns=None, first_row: int = 0) -> None:
    """Refuse NaN or ±inf in ``A`` with a DataError naming the column and the row."""
    A2 = A.reshape(A.shape[0], -1)
    found = _first_non_finite(A2)
    if found is not None:
        row, column = found
        value = A2[row, column]
        what = "NaN" if np.isnan(value) else ("inf" if value > 0 else "-inf")
        raise DataError(
            f"{name} column {_label(columns, column)!r}, row {first_row + row}: "
            f"{what} (every value must be a finite number)"
        )


def _check_fits_dtype(
    cast: np.ndarray,
    original: np.ndarray,
    name: str,
    columns=None,
    *,
    first_row: int = 0,
    standardized: bool,
) -> None:
    """Refuse a value that became ±inf when cast to the (float32) training dtype."""
    if cast.dtype == np.float64:
        return
    cast2 = cast.reshape(cast.shape[0], -1)
    found = _first_non_finite(cast2)
    if found is not None:
        row, column = found
        value = original.reshape(original.shape[0], -1)[row, column]
        hint = "" if standardized else ", or standardize the features"
        raise DataError(
            f"{name} column {_label(columns, column)!r}, row {first_row + row}: "
            f"{value:.6g} overflows {cast.dtype}, the training dtype; use "
            f"dtype='float64' (--dtype float64){hint}"
        )


def _some_names(names, columns, prefix: str) -> str:
    """Up to 10 column names (``x3`` for unnamed columns), comma-separated."""
    labels = [
        repr(str(names[c]) if names is not None else f"{prefix}{c}") for c in columns
    ]
    return ", ".join(labels[:10]) + (", ..." if len(labels) > 10 else "")


def _largest_row(X, sample_weight, moments, fit_intercept: bool) -> float:
    """max_i s_i·‖a_i‖²/s̄ over these rows (a = [x, 1]), s̄ the mean weight of all
    rows: the largest one-row curvature, for the mini-batch step."""
    norms = np.einsum("ij,ij->i", X, X, dtype=np.float64) + float(fit_intercept)
    if sample_weight is not None:
        norms = norms * sample_weight / (moments.total_weight / moments.n_samples)
    return float(norms.max(initial=0.0))


def _stream_moments(blocks, *, allow_empty: bool = False):
    """The first pass over a stream: float64 moments, refusing non-finite values.

    With ``allow_empty`` a stream without rows (a worker's empty shard) gives None.
    """
    moments = MomentsAccumulator()
    features = getattr(blocks, "feature_names", None)
    targets = getattr(blocks, "target_names", None)
    for block in blocks:
        X, Y = np.asarray(block[0], np.float64), np.asarray(block[1], np.float64)
        sample_weight = None if len(block) == 2 else np.asarray(block[2], np.float64)
        for name, values, columns in (
            ("X", X, features),
            ("y", Y, targets),
            ("sample_weight", sample_weight, None),
        ):
            if values is not None:
                _check_finite(values, name, columns, first_row=moments.n_samples)
        moments.add(X, Y, sample_weight)
    if moments.n_samples == 0:
        if allow_empty:
            return None
        no_rows = getattr(blocks, "no_rows_error", None)
        raise no_rows() if no_rows else DataError("the stream has no rows")
    return moments.result()


def expected_failed_checks(estimator) -> dict[str, str]:
    """scikit-learn checks ``estimator`` is known to fail, with the reason for each.

    For ``parametrize_with_checks(..., expected_failed_checks=expected_failed_checks)``
    (scikit-learn 1.6 replaced the ``_xfail_checks`` tag with this argument).
    """
    if estimator.solver == "exact":
        return {}
    if estimator.engine != "data":
        return {
            "check_sample_weight_equivalence_on_dense_data": (
                "the check's problem has fewer rows than parameters, so both fits "
                "interpolate; the gram engine trains on moments, whose loss cannot "
                "resolve predictions finer than about 1e-8, and the weighted and "
                "repeated-row fits end 4e-9 apart against the check's atol 1e-9 "
                "(they passed while a perfect-fit rule stopped both earlier, the "
                "rule that left near-perfect real fits short of their optimum)"
            ),
        }
    return {
        "check_sample_weight_equivalence_on_dense_data": (
            "float32 gradient descent on the data stops at its tolerance, so weighted "
            "and repeated-row fits agree to about 1e-6, not to the check's 1e-7; "
            "solver='exact' passes"
        ),
    }


class LinearRegressor(RegressorMixin, BaseEstimator):
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
    optimizer : {"auto", "gd", "momentum", "adam"}, default="auto"
        ``"gd"`` is the seeds' ``assign_sub(learning_rate * grad)``. ``"auto"`` is
        heavy-ball momentum with the step and momentum that are optimal for this
        quadratic (from the exact spectrum: √κ epochs where gradient descent needs κ)
        on the gram engine with an automatic step and no L1 part, and ``"gd"``
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
        Precision of training.
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
        shard of the rows (``tapereg.distributed.ShardedBlocks``). The shards'
        moments are pooled with two all-reduces (the gram engine's statistics, the
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
    moments_ : tapereg.gram.Moments
        Only after :meth:`fit_stream`: the float64 moments of [X, Y] its first pass
        took (means, covariance, row count).

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
        self.logdir = logdir
        self.checkpoint_dir = checkpoint_dir
        self.checkpoint_every = checkpoint_every
        self.resume = resume
        self.strategy = strategy

    def _check_params(self) -> None:
        """Raise ParameterError naming the first parameter with an unusable value."""

        def bad(name, expected):
            value = getattr(self, name)
            raise ParameterError(f"{name} must be {expected}, got {value!r}")

        def is_int(v):
            return isinstance(v, numbers.Integral) and not isinstance(v, bool)

        def is_real(v):
            return isinstance(v, numbers.Real) and not isinstance(v, bool)

        lr = self.learning_rate
        if not (
            lr == "auto" if isinstance(lr, str) else is_real(lr) and 0 < lr < np.inf
        ):
            bad("learning_rate", '"auto" or a number > 0')
        if not (is_int(self.max_iter) and self.max_iter >= 1):
            bad("max_iter", "an integer >= 1")
        if self.optimizer not in ("auto", *OPTIMIZERS):
            bad("optimizer", f"one of auto, {', '.join(OPTIMIZERS)}")
        if self.engine not in ENGINES:
            bad("engine", f"one of {', '.join(ENGINES)}")
        if self.batch_size is not None and not (
            is_int(self.batch_size) and self.batch_size >= 1
        ):
            bad("batch_size", "None or an integer >= 1")
        if self.tol is not None and not (is_real(self.tol) and 0 <= self.tol < 1):
            bad("tol", "None or a number in [0, 1)")
        if not (is_int(self.n_iter_no_change) and self.n_iter_no_change >= 1):
            bad("n_iter_no_change", "an integer >= 1")
        if self.solver not in SOLVERS:
            bad("solver", f"one of {', '.join(SOLVERS)}")
        if not (is_real(self.momentum) and 0 <= self.momentum < 1):
            bad("momentum", "a number in [0, 1)")
        if not (is_int(self.checkpoint_every) and self.checkpoint_every >= 1):
            bad("checkpoint_every", "an integer >= 1")
        if self.resume and self.checkpoint_dir is None:
            raise ParameterError("resume=True needs checkpoint_dir")
        if self.verbose not in (0, 1, 2, False, True):
            bad("verbose", "0, 1 or 2")
        if not (is_real(self.alpha) and 0 <= self.alpha < np.inf):
            bad("alpha", "a number >= 0")
        if not (is_real(self.l1_ratio) and 0 <= self.l1_ratio <= 1):
            bad("l1_ratio", "a number in [0, 1]")
        if isinstance(self.strategy, str) and self.strategy not in STRATEGIES:
            bad(
                "strategy",
                f"one of {', '.join(STRATEGIES)} or a tf.distribute.Strategy",
            )
        if self._l1_strength > 0 and self.solver == "exact":
            raise ParameterError(
                "solver='exact' solves ridge only (l1_ratio=0); an L1 penalty "
                f"(alpha={self.alpha}, l1_ratio={self.l1_ratio}) needs solver='gd'"
            )
        if self._l1_strength > 0 and self.optimizer == "adam":
            raise ParameterError(
                "an L1 penalty needs optimizer 'gd' or 'momentum': its proximal step "
                "needs one step size for every coefficient, which Adam does not have"
            )
        try:
            dtype_name = np.dtype(self.dtype).name
        except TypeError:
            dtype_name = None
        if dtype_name not in DTYPES:
            bad("dtype", '"float32" or "float64"')

    @property
    def _distributed(self) -> bool:
        return self.strategy is not None and not (
            isinstance(self.strategy, str) and self.strategy == "none"
        )

    def _pooled(self, local, n_columns: int, n_features: int):
        """The moments of every worker's rows (``local`` alone when not
        distributed): two all-reduces, once per fit; the epochs then need none."""
        if not self._distributed:
            return local
        from .parallel.distributed import pooled_moments, resolve_strategy, strategy_sum

        strategy = resolve_strategy(self.strategy)
        moments = pooled_moments(local, n_columns, n_features, strategy_sum(strategy))
        if moments.n_samples == 0:
            raise DataError("no worker has any rows")
        return moments

    @property
    def _l1_strength(self) -> float:
        return self.alpha * self.l1_ratio if self.alpha else 0.0

    def fit(self, X, y, sample_weight=None, *, epoch_callback=None):
        """Fit the model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
        sample_weight : array-like of shape (n_samples,), optional
            Weights of the mean squared error.
        epoch_callback : callable, optional
            ``epoch_callback(epoch, loss)`` after each epoch (called in chunks, as the
            compiled loop hands losses back to Python).

        Returns
        -------
        self : LinearRegressor
        """
        self._check_params()
        # A refit must not keep what only the previous fit had (statistics of an
        # unpenalized fit, the engine of a trained one).
        for name in (*_FIT_DEPENDENT, "target_names_", "moments_"):
            self.__dict__.pop(name, None)
        target_names = _target_names(y)
        y_values = np.asarray(y)
        if y_values.dtype.kind == "f" and y_values.ndim in (1, 2) and y_values.size:
            _check_finite(y_values.reshape(y_values.shape[0], -1), "y", target_names)
        X, y = _validated(
            self,
            X,
            y,
            multi_output=True,
            y_numeric=True,
            dtype=[np.float64, np.float32],
            ensure_all_finite=False,
        )
        Y = y.reshape(-1, 1) if y.ndim == 1 else y
        self._check_finite(X, "X")
        self._target_names = target_names
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64)

        solution = None
        if self.solver == "exact":
            solution, moments = self._solve_exact(X, Y, sample_weight)
            coef, intercept = solution.coef, solution.intercept
            self._set_exact_attributes()
        else:
            coef, intercept, moments = self._train(X, Y, sample_weight, epoch_callback)
        if self.compute_statistics and self.alpha == 0:
            # From the moments where the fit has them (across workers: all rows').
            self._set_statistics(
                X,
                Y,
                coef,
                intercept,
                sample_weight,
                solution=solution,
                moments=moments,
            )

        self.coef_ = coef.T[0] if y.ndim == 1 else coef.T
        self.intercept_ = float(intercept[0]) if y.ndim == 1 else intercept
        if target_names is not None:
            self.target_names_ = np.asarray(target_names, dtype=object)
        return self

    def fit_stream(self, blocks, *, epoch_callback=None):
        """Fit on data read a block of rows at a time: files bigger than memory.

        Parameters
        ----------
        blocks : re-iterable of (X, Y) or (X, Y, sample_weight) array blocks
            For example :func:`tapereg.data.open_table`'s stream. It is read several
            times: once for the float64 moments (which give the standardization,
            the gram engine's statistics and the OLS inference), once more to cache
            the training rows for the data engine and mini-batches, or once more
            for the exact solver's QR. Feature and target names are taken from its
            ``feature_names`` and ``target_names`` when it has them.
        epoch_callback : callable, optional
            As for :meth:`fit`.

        Returns
        -------
        self : LinearRegressor
        """
        self._check_params()
        for name in (*_FIT_DEPENDENT, "target_names_", "feature_names_in_", "moments_"):
            self.__dict__.pop(name, None)
        feature_names = getattr(blocks, "feature_names", None)
        target_names = getattr(blocks, "target_names", None)
        # Across workers a shard may be empty (given the names, its sizes are
        # known); the pooled moments are all rows'.
        named = feature_names is not None and target_names is not None
        moments = _stream_moments(blocks, allow_empty=self._distributed and named)
        if self._distributed:
            if moments is None:
                sizes = len(feature_names) + len(target_names), len(feature_names)
            else:
                sizes = moments.mean.shape[0], moments.n_features
            moments = self._pooled(moments, *sizes)
        self.moments_ = moments
        n_columns = moments.mean.shape[0]
        n_features = (
            len(feature_names) if feature_names is not None else moments.n_features
        )
        n_targets = n_columns - n_features
        self.n_features_in_ = n_features
        if feature_names is not None:
            self.feature_names_in_ = np.asarray(feature_names, dtype=object)
        if target_names is not None and n_targets > 1:
            self.target_names_ = np.asarray(target_names, dtype=object)
        self._target_names = target_names

        if self.solver == "exact":
            solution = self._solve_exact_stream(blocks, moments, n_features)
            coef, intercept = solution.coef, solution.intercept
            self._set_exact_attributes()
        else:
            with contextlib.ExitStack() as closing:
                callback = self._progress_callback(epoch_callback, closing)
                coef, intercept, _ = self._train_engines(
                    None, None, None, callback, stream=blocks, moments=moments
                )
        if self.compute_statistics and self.alpha == 0:
            names = (
                [str(n) for n in feature_names]
                if feature_names is not None
                else [f"x{i}" for i in range(n_features)]
            )
            self._set_statistics_attributes(
                ols_statistics_from_moments(
                    moments,
                    coef,
                    intercept,
                    fit_intercept=self.fit_intercept,
                    feature_names=names,
                )
            )
        self.coef_ = coef.T[0] if n_targets == 1 else coef.T
        self.intercept_ = float(intercept[0]) if n_targets == 1 else intercept
        return self

    def _check_finite(self, X, name: str) -> None:
        names = getattr(self, "feature_names_in_", None)
        _check_finite(X, name, None if names is None else list(names))

    def _set_exact_attributes(self) -> None:
        # One pass over the data; there are no epoch losses to record.
        self.n_iter_, self.loss_curve_ = 1, np.empty(0)
        self.learning_rate_ = float("nan")
        self.standardization_ = None
        self.engine_ = self.optimizer_ = None

    def _warn_about_columns(self, n_samples, n_features, scaling, collinear=()):
        """Warn about too few rows, constant columns and collinear features.

        ``scaling`` is a Standardization that measured its columns (None: nothing
        is known); ``collinear`` the indices of dependent columns, constant ones
        included or not.
        """
        n_parameters = n_features + int(self.fit_intercept)
        if self.alpha == 0 and n_samples < n_parameters:
            warnings.warn(
                f"{n_samples} sample{'s' if n_samples != 1 else ''} "
                f"(row{'s' if n_samples != 1 else ''}) for {n_parameters} "
                f"parameters ({n_features} coefficient{'s' if n_features != 1 else ''}"
                f"{' + intercept' if self.fit_intercept else ''}) per target: the "
                "least-squares fit is not determined, and the minimum-norm solution "
                "is returned; add rows, use fewer features, or set alpha > 0",
                CollinearityWarning,
                stacklevel=4,
            )
            return
        if scaling is None or scaling.x_constant is None:
            return
        names = getattr(self, "feature_names_in_", None)
        features = [str(n) for n in names] if names is not None else None
        constant = np.flatnonzero(scaling.x_constant)
        if constant.size:
            shown = _some_names(features, constant, "x")
            many = constant.size > 1
            value = "zero" if not self.fit_intercept else "constant"
            warnings.warn(
                f"column{'s' if many else ''} {shown} {'are' if many else 'is'} "
                f"{value}; {'their coefficients are' if many else 'its coefficient is'}"
                " 0",
                ConstantColumnWarning,
                stacklevel=4,
            )
        dependent = [c for c in collinear if not scaling.x_constant[c]]
        if dependent:
            warnings.warn(
                f"columns {_some_names(features, dependent, 'x')} are collinear "
                "(linearly dependent); the minimum-norm solution is returned",
                CollinearityWarning,
                stacklevel=4,
            )
        targets = getattr(self, "_target_names", None)
        n_targets = len(scaling.y_constant)
        if targets is None:
            targets = ["y"] if n_targets == 1 else [f"y{j}" for j in range(n_targets)]
        for j in np.flatnonzero(scaling.y_constant):
            value = scaling.y_mean[j] if self.fit_intercept else 0.0
            warnings.warn(
                f"target {targets[j]!r} is constant (every value is {value:.6g}): "
                "every coefficient is 0 and R² is undefined",
                ConstantTargetWarning,
                stacklevel=4,
            )

    def _solve_exact(self, X, Y, sample_weight):
        """(solution, moments) for arrays; moments (all workers' rows) only when
        distributed, where this worker's rows are one shard of a stream."""
        if self._distributed:
            n_features, n_columns = X.shape[1], X.shape[1] + Y.shape[1]
            moments = self._pooled(
                data_moments(X, Y, sample_weight), n_columns, n_features
            )
            solution = self._solve_exact_stream(
                row_blocks(X, Y, sample_weight), moments, n_features
            )
            return solution, moments
        solution = solve_least_squares(
            X, Y, sample_weight, fit_intercept=self.fit_intercept, alpha=self.alpha
        )
        # One more pass (cheap beside the QR) tells constant columns apart.
        self._warn_about_columns(
            X.shape[0],
            X.shape[1],
            Standardization.fit(X, Y, sample_weight, center=self.fit_intercept),
            solution.collinear,
        )
        return solution, None

    def _solve_exact_stream(self, blocks, moments, n_features: int):
        """The exact solver's pass over ``blocks`` centred on ``moments``' means;
        across workers, every shard's factor is gathered into that of all rows."""
        solution = solve_least_squares_stream(
            blocks,
            moments,
            n_features,
            fit_intercept=self.fit_intercept,
            alpha=self.alpha,
            gather=self._across().gather if self._distributed else None,
        )
        self._warn_about_columns(
            moments.n_samples,
            n_features,
            standardization_from_moments(
                moments, n_features, center=self.fit_intercept
            ),
            solution.collinear,
        )
        return solution

    def _set_statistics(
        self, X, Y, coef, intercept, sample_weight, *, solution=None, moments=None
    ):
        """OLS inference: from the gram engine's moments when there are some (no
        extra pass), otherwise from the exact solver's QR of the data."""
        names = getattr(self, "feature_names_in_", None)
        feature_names = (
            [str(n) for n in names]
            if names is not None
            else [f"x{i}" for i in range(X.shape[1])]
        )
        if moments is not None:
            stats = ols_statistics_from_moments(
                moments,
                coef,
                intercept,
                fit_intercept=self.fit_intercept,
                feature_names=feature_names,
            )
        else:
            if solution is None:
                solution = solve_least_squares(
                    X, Y, sample_weight, fit_intercept=self.fit_intercept
                )
            stats = ols_statistics(
                X,
                Y,
                coef,
                intercept,
                solution,
                sample_weight=sample_weight,
                fit_intercept=self.fit_intercept,
                feature_names=feature_names,
            )
        self._set_statistics_attributes(stats)

    def _set_statistics_attributes(self, stats) -> None:
        one = stats.coef.shape[1] == 1

        def per_target(values):
            return float(values[0]) if one else values

        self.statistics_ = stats
        self.rsquared_ = per_target(stats.rsquared)
        self.rsquared_adj_ = per_target(stats.rsquared_adj)
        self.fvalue_ = per_target(stats.fvalue)
        self.f_pvalue_ = per_target(stats.f_pvalue)
        self.resid_std_err_ = per_target(stats.resid_std_err)
        self.nobs_ = stats.nobs
        self.df_model_, self.df_resid_ = float(stats.df_model), float(stats.df_resid)

    def summary(self, level: float = 0.95):
        """The coefficient table: estimate, standard error, t, p-value, interval.

        Ordinary least-squares inference (weighted least squares with
        ``sample_weight``), the same numbers as statsmodels' OLS/WLS.

        Parameters
        ----------
        level : float, default=0.95
            Confidence level of ``ci_low``/``ci_high``.

        Returns
        -------
        pandas.DataFrame
            Indexed by ``intercept`` (when fitted) and the feature names, with columns
            ``coef, std_err, t, p_value, ci_low, ci_high``. With several targets the
            index is (target, term).
        """
        check_is_fitted(self)
        if self.alpha:
            raise ParameterError(
                f"summary() is for ordinary least squares; this model has a penalty "
                f"(alpha={self.alpha}), and its standard errors would not be valid"
            )
        check_is_fitted(self, "statistics_")
        if not 0 < level < 1:
            raise ParameterError(f"level must be in (0, 1), got {level!r}")
        stats = self.statistics_
        n_targets = stats.coef.shape[1]
        if n_targets == 1:
            return stats.table(level)
        import pandas as pd

        targets = getattr(self, "target_names_", [f"y{j}" for j in range(n_targets)])
        return pd.concat(
            [stats.table(level, j) for j in range(n_targets)],
            keys=[str(t) for t in targets],
            names=["target", "term"],
        )

    def _resolve_engine(self, n_features: int) -> str:
        if self.engine == "gram" and self.batch_size is not None:
            raise ParameterError(
                "engine='gram' trains on the full batch; drop batch_size or use "
                "engine='data'"
            )
        if self.engine != "auto":
            return self.engine
        full_batch = self.batch_size is None
        return "gram" if full_batch and n_features <= GRAM_MAX_FEATURES else "data"

    def _resolve_update(self, lipschitz: float, strong_convexity: float | None):
        """(optimizer, learning_rate, momentum) for this fit.

        ``optimizer="auto"`` with the exact spectrum (gram engine), no L1 part and an
        automatic step is heavy-ball momentum with the constants that are optimal for
        a quadratic: step 4/(√L+√μ)², momentum ((√κ−1)/(√κ+1))², κ = L/μ; it needs
        about √κ epochs where gradient descent needs κ. Otherwise "auto" is the
        seeds' gradient descent, and an automatic step is 1/L.
        """
        optimizer, momentum = self.optimizer, self.momentum
        automatic = self.learning_rate == "auto"
        if optimizer == "auto":
            if strong_convexity is not None and automatic and not self._l1_strength:
                mu = max(strong_convexity, lipschitz * 1e-12)
                root_kappa = np.sqrt(lipschitz / mu)
                step = 4 / (np.sqrt(lipschitz) + np.sqrt(mu)) ** 2
                return (
                    "momentum",
                    float(step),
                    float(((root_kappa - 1) / (root_kappa + 1)) ** 2),
                )
            optimizer = "gd"
        if not automatic:
            return optimizer, float(self.learning_rate), momentum
        if optimizer == "adam":
            return optimizer, ADAM_AUTO_LEARNING_RATE, momentum
        return optimizer, 1.0 / lipschitz if lipschitz > 0 else 1.0, momentum

    def _train(self, X, Y, sample_weight, epoch_callback):
        with contextlib.ExitStack() as closing:
            callback = self._progress_callback(epoch_callback, closing)
            return self._train_engines(X, Y, sample_weight, callback)

    def _train_engines(
        self, X, Y, sample_weight, callback, *, stream=None, moments=None
    ):
        """Standardize, pick the step, train; arrays (X, Y) or a ``stream`` of blocks.

        A stream comes with its ``moments`` already taken (its first pass).
        """
        from .core.training import fit_gradient_descent, fit_gradient_descent_gram
        from .runtime.checkpoints import CheckpointPlan

        if stream is None:
            n_features, n_targets = X.shape[1], Y.shape[1]
        else:
            n_features = moments.n_features
            n_targets = moments.mean.shape[0] - n_features
        engine = self._resolve_engine(n_features)
        if (engine == "gram" or self._distributed) and moments is None:
            # One float64 pass gives the standardization, the statistics the epochs
            # run on, and (later) the OLS inference; across workers, their sum
            # (which also gives every worker the same standardization and step).
            moments = self._pooled(
                data_moments(X, Y, sample_weight), n_features + n_targets, n_features
            )
        if not self.standardize:
            scaling = Standardization.identity(n_features, n_targets)
        elif moments is not None:
            scaling = standardization_from_moments(
                moments, n_features, center=self.fit_intercept
            )
        else:
            scaling = Standardization.fit(
                X, Y, sample_weight, center=self.fit_intercept
            )
        measured = scaling
        if moments is not None and not self.standardize:
            measured = standardization_from_moments(
                moments, n_features, center=self.fit_intercept
            )
        self._warn_about_columns(
            moments.n_samples if X is None else X.shape[0],
            n_features,
            measured,
            ()
            if moments is None
            else dependent_columns(
                moments,
                n_features,
                center=self.fit_intercept,
                skip=measured.x_constant,
            ),
        )
        l1, l2 = self._penalty_weights(scaling, n_targets)
        options = dict(
            fit_intercept=self.fit_intercept,
            max_iter=self.max_iter,
            tol=self.tol,
            n_iter_no_change=self.n_iter_no_change,
            loss_scale=scaling.y_scale**2,
            l1=l1,
            l2=l2,
            callback=callback,
            checkpoint=None
            if self.checkpoint_dir is None
            else CheckpointPlan(
                str(self.checkpoint_dir), self.checkpoint_every, resume=self.resume
            ),
        )
        if engine == "data" and self._distributed:
            from .parallel.distributed import resolve_strategy

            # Every step all-reduces the workers' loss and gradient sums.
            options["strategy"] = resolve_strategy(self.strategy)

        if engine == "gram":
            # Every epoch now costs O(d²) and the spectrum O(d³), whatever n is.
            statistics = statistics_from_moments(moments, scaling)
            lipschitz, mu = hessian_spectrum(
                statistics,
                fit_intercept=self.fit_intercept,
                n_targets=n_targets,
                l2=l2,
            )
            # Unstandardized, the second moments alone can put the problem beyond
            # what the spectrum (and gradient descent) can resolve.
            curvatures = np.append(np.diag(statistics.xx), float(self.fit_intercept))
            curvatures = curvatures[curvatures > 0]
            spread = curvatures.max() / curvatures.min() if curvatures.size else 1.0
            if not self.standardize and spread > MAX_CONDITION:
                warnings.warn(
                    f"the loss's curvature ranges over a factor {spread:.3g} "
                    "(features on very different scales): gradient descent cannot "
                    "reach the optimum at this precision; standardize the features "
                    "(the default) or use solver='exact'",
                    ConvergenceWarning,
                    stacklevel=4,
                )
            optimizer, learning_rate, momentum = self._resolve_update(lipschitz, mu)
            result = fit_gradient_descent_gram(
                statistics,
                learning_rate=learning_rate,
                optimizer=optimizer,
                momentum=momentum,
                nesterov=self.nesterov,
                **options,
            )
        elif stream is not None:
            optimizer, result = self._train_stream(stream, moments, scaling, options)
        else:
            dtype = np.dtype(self.dtype)
            if self.standardize:
                X_train = scaling.transform_X(X, dtype)
                Y_train = scaling.transform_y(Y, dtype)
            else:
                with np.errstate(over="ignore"):  # an overflow is refused next
                    X_train, Y_train = aligned(X, dtype), aligned(Y, dtype)
            self._check_fits_dtype(X_train, X, Y_train, Y)
            weights = None if sample_weight is None else aligned(sample_weight, dtype)
            lipschitz = None
            batches = {"batch_size": self.batch_size}
            if self._distributed:
                lipschitz = self._lipschitz_from_moments(
                    moments,
                    scaling,
                    l2,
                    _largest_row(X_train, weights, moments, self.fit_intercept),
                )
                batches = self._shard_batches(X_train.shape[0], moments.n_samples)
            elif self.learning_rate == "auto" and self.optimizer != "adam":
                lipschitz = auto_lipschitz(
                    X_train,
                    weights,
                    fit_intercept=self.fit_intercept,
                    n_targets=n_targets,
                    batch_size=self.batch_size,
                    l2_max=0.0 if l2 is None else float(np.max(l2)),
                )
            optimizer, learning_rate, momentum = self._resolve_update(lipschitz, None)
            result = fit_gradient_descent(
                X_train,
                Y_train,
                weights,
                learning_rate=learning_rate,
                **batches,
                seed=self._seed(),
                optimizer=optimizer,
                momentum=momentum,
                nesterov=self.nesterov,
                **options,
            )
        self.engine_, self.optimizer_ = engine, optimizer
        self.n_iter_ = result.n_iter
        # A loss written through the moments can round to -1e-14 at a perfect fit.
        self.loss_curve_ = np.maximum(result.loss_history.astype(np.float64), 0.0)
        self.learning_rate_ = result.learning_rate
        self.standardization_ = scaling if self.standardize else None
        if self.tol is not None and not result.converged:
            losses = result.loss_history
            gap = ""
            if len(losses) > 1 and losses[-2] > 0:
                step = (losses[-2] - losses[-1]) / losses[-2]
                gap = (
                    f"; the last epoch lowered it by {step:.2g}, relative, "
                    f"against tol={self.tol:g}"
                )
            warnings.warn(
                f"training stopped at max_iter={self.max_iter} while the loss was "
                f"still falling (last loss {losses[-1]:.6g}{gap}); raise "
                "max_iter, or use solver='exact'",
                ConvergenceWarning,
                stacklevel=3,
            )
        return (*scaling.to_original(result.coef, result.intercept), moments)

    def _check_fits_dtype(self, X_train, X, Y_train, Y, *, first_row: int = 0):
        """Refuse values that overflowed when cast to the training dtype."""
        names = getattr(self, "feature_names_in_", None)
        for cast, original, name, columns in (
            (X_train, X, "X", None if names is None else list(names)),
            (Y_train, Y, "y", self._target_names),
        ):
            _check_fits_dtype(
                cast,
                original,
                name,
                columns,
                first_row=first_row,
                standardized=self.standardize,
            )

    def _seed(self) -> int:
        return int(check_random_state(self.random_state).randint(2**31 - 1))

    def _train_stream(self, stream, moments, scaling, options):
        """The data engine on a stream: one pass caches the standardized rows in
        the training dtype, then every epoch reads the cache (tf.data)."""
        from .core.training import fit_gradient_descent_blocks
        from .runtime.row_cache import RowCache

        dtype = np.dtype(self.dtype)
        n_features = moments.n_features
        n_targets = moments.mean.shape[0] - n_features
        weighted = moments.weighted
        n_columns = n_features + n_targets + int(weighted)
        l2 = options["l2"]
        with RowCache(n_columns, dtype) as cache:
            largest_row = 0.0  # max s_i·‖a_i‖²/s̄, for the mini-batch step
            for block in stream:
                X, Y = block[0], block[1]
                s = block[2] if weighted else None
                rows = np.empty((X.shape[0], n_columns), dtype)
                with np.errstate(over="ignore"):  # an overflow is refused below
                    rows[:, :n_features] = scaling.transform_X(X, dtype)
                    rows[:, n_features : n_features + n_targets] = scaling.transform_y(
                        Y, dtype
                    )
                if weighted:
                    rows[:, -1] = s
                self._check_fits_dtype(
                    rows[:, :n_features],
                    X,
                    rows[:, n_features : n_features + n_targets],
                    Y,
                    first_row=cache.n_rows,
                )
                largest_row = max(
                    largest_row,
                    _largest_row(
                        rows[:, :n_features],
                        s,
                        moments,
                        self.fit_intercept,
                    ),
                )
                cache.write(rows)
            cache.finish()
            lipschitz = self._lipschitz_from_moments(moments, scaling, l2, largest_row)
            batches = {"batch_size": self.batch_size}
            if self._distributed:
                batches = self._shard_batches(cache.n_rows, moments.n_samples)
            optimizer, learning_rate, momentum = self._resolve_update(lipschitz, None)
            result = fit_gradient_descent_blocks(
                cache,
                n_features,
                n_targets,
                weighted=weighted,
                total_weight=moments.total_weight,
                learning_rate=learning_rate,
                **batches,
                seed=self._seed(),
                optimizer=optimizer,
                momentum=momentum,
                nesterov=self.nesterov,
                **options,
            )
        return optimizer, result

    def _lipschitz_from_moments(self, moments, scaling, l2, largest_row: float):
        """The L behind ``learning_rate="auto"`` from the (pooled) moments: the
        exact full-batch constant, the larger one of a random batch for
        mini-batches (from the largest row's, over every worker's rows), plus the
        L2 penalty's curvature. None when the step is not automatic."""
        if self.learning_rate != "auto" or self.optimizer == "adam":
            return None
        n_features = moments.n_features
        n_targets = moments.mean.shape[0] - n_features
        lipschitz, _ = hessian_spectrum(
            statistics_from_moments(moments, scaling),
            fit_intercept=self.fit_intercept,
            n_targets=n_targets,
        )
        n_rows = moments.n_samples
        if self.batch_size is not None and self.batch_size < n_rows:
            if self._distributed:
                largest_row = self._across().maximum(largest_row)
            lipschitz = batch_lipschitz(
                lipschitz,
                2.0 * largest_row / n_targets,
                n_samples=n_rows,
                batch_size=self.batch_size,
            )
        return lipschitz + (0.0 if l2 is None else 2.0 * float(np.max(l2)) / n_targets)

    def _shard_batches(self, n_local: int, n_all: int) -> dict:
        """Across workers, mini-batches as every worker takes them: this worker's
        rows per step and the steps per epoch (the same on every worker); none
        (full batch) when ``batch_size`` is unset or covers every row."""
        if self.batch_size is None or self.batch_size >= n_all:
            return {"batch_size": None}
        local, steps = self._across().batches(n_local, n_all, self.batch_size)
        return {"batch_size": local, "steps": steps}

    def _across(self):
        from .parallel.distributed import Across, resolve_strategy

        return Across(resolve_strategy(self.strategy))

    def _progress_callback(self, epoch_callback, closing):
        """Per-epoch reporting for ``verbose``, ``logdir`` and ``epoch_callback``.

        verbose=1 is a progress bar on a terminal (one line per epoch otherwise),
        verbose=2 one line per epoch, as in Keras. ``closing`` closes the bar and
        the TensorBoard writer when training ends, also on an error.
        """
        if epoch_callback is None and not self.verbose and self.logdir is None:
            return None
        bar = writer = None
        if self.verbose == 1:
            from .runtime.progress import EpochProgress

            bar = closing.enter_context(EpochProgress(self.max_iter, stream=sys.stdout))
        if self.logdir is not None:
            import tensorflow as tf

            writer = tf.summary.create_file_writer(str(self.logdir))
            closing.callback(writer.close)

        def callback(chunk):
            first = chunk.first
            for k, loss in enumerate(np.maximum(chunk.losses, 0.0), start=first):
                if bar is not None:
                    bar(k, float(loss))
                elif self.verbose:
                    print(f"epoch {k}: loss {loss:.6g}", flush=True)
                if epoch_callback is not None:
                    epoch_callback(k, float(loss))
            if writer is not None:
                _write_scalars(writer, chunk)

        return callback

    def _penalty_weights(self, scaling, n_targets: int):
        """The elastic-net weights in the standardized units training sees.

        With w = v·σ_y/σ_x, the original objective divided by σ_y² is the training
        MSE plus Σ 2·alpha·l1_ratio/(σ_y·σ_x)·|v| + alpha·(1 − l1_ratio)/σ_x²·v².
        (Twice sklearn's objective: our loss is the MSE, not half of it.)
        """
        if not self.alpha:
            return None, None
        x_scale = scaling.x_scale[:, None]
        ones = np.ones((1, n_targets))
        l1 = 2 * self._l1_strength / (x_scale * scaling.y_scale[None, :])
        l2 = self.alpha * (1 - self.l1_ratio) / x_scale**2 * ones
        return (l1 if self.l1_ratio > 0 else None), (l2 if self.l1_ratio < 1 else None)

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
        X = _validated(
            self,
            X,
            reset=False,
            dtype=[np.float64, np.float32],
            ensure_all_finite=False,
        )
        self._check_finite(X, "X")
        return linear_predictions(
            X, np.asarray(self.coef_, np.float64).T, self.intercept_
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
