"""Cross-validated penalties: the folds' moments in one pass, then every path.

:func:`fold_moments` (rows in memory, any splitter) and :func:`stream_fold_moments`
(blocks, the folds interleaved) read the rows once for each test fold's moments,
pooled over workers by the reducer; a fold's training moments are the total's less
its own. :func:`cross_validate` then solves every (alpha, l1_ratio) on every fold
and scores it on the held-out fold from the moments alone
(``numerics/folds.py``), and picks the penalty of least mean MSE, as
scikit-learn's ``ElasticNetCV`` does.
"""

from __future__ import annotations

import functools
import numbers
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from ..errors import DataError, ParameterError, warn
from ..numerics.folds import (
    alpha_grid,
    enet_path,
    held_out_mse,
    intercepts,
    normal_equations,
    removed_moments,
    ridge_path,
)
from ..numerics.moments import (
    Moments,
    MomentsAccumulator,
    data_moments,
    merged_moments,
    pooled_moments,
)


def _is_int(v) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _is_real(v) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def l1_ratios_of(l1_ratio) -> np.ndarray:
    """The l1_ratio parameter as a 1-D array (one value or several)."""
    return np.atleast_1d(np.asarray(l1_ratio, np.float64))


def check_cv_params(params: dict) -> None:
    """Raise ParameterError naming the first of LinearRegressorCV's own parameters
    with an unusable value (``alphas``, ``l1_ratio``, ``cv``, ``eps``)."""
    alphas, l1_ratio, cv, eps = (params[k] for k in ("alphas", "l1_ratio", "cv", "eps"))
    if not _is_int(alphas) or alphas < 1:
        values = None if _is_int(alphas) or isinstance(alphas, str) else alphas
        if not _numbers(values, lambda v: 0 <= v < np.inf):
            raise ParameterError(
                "alphas must be an integer >= 1 (that many on the automatic grid) "
                f"or a list of numbers >= 0, got {alphas!r}"
            )
    ratios = l1_ratio if isinstance(l1_ratio, Iterable) else [l1_ratio]
    if isinstance(l1_ratio, str) or not _numbers(ratios, lambda v: 0 <= v <= 1):
        raise ParameterError(
            f"l1_ratio must be a number in [0, 1] or a list of them, got {l1_ratio!r}"
        )
    if not (_is_real(eps) and 0 < eps < np.inf):
        raise ParameterError(f"eps must be a number > 0, got {eps!r}")
    if _is_int(cv):
        if cv < 2:
            raise ParameterError(f"cv must be at least 2 folds, got {cv!r}")
    elif isinstance(cv, str | bytes) or not (
        hasattr(cv, "split") or isinstance(cv, Iterable)
    ):
        raise ParameterError(
            "cv must be a number of folds (>= 2), a scikit-learn splitter or "
            f"(train, test) index pairs, got {cv!r}"
        )
    l1 = l1_ratios_of(l1_ratio).max() > 0
    if l1 and params["solver"] == "exact":
        raise ParameterError(
            "solver='exact' solves ridge only (l1_ratio=0); an L1 penalty "
            f"(l1_ratio={l1_ratio!r}) needs solver='gd'"
        )
    if l1 and params["optimizer"] == "adam":
        raise ParameterError(
            "an L1 penalty needs optimizer 'gd' or 'momentum': its proximal step "
            "needs one step size for every coefficient, which Adam does not have"
        )


def _numbers(values, accepts) -> bool:
    """Whether ``values`` is a non-empty list of real numbers that ``accepts``."""
    try:
        items = list(values)
    except TypeError:
        return False
    return bool(items) and all(_is_real(v) and accepts(v) for v in items)


@dataclass(frozen=True)
class FoldMoments:
    """The moments of all rows, and of each fold's test and training rows."""

    total: Moments
    tests: list[Moments]
    trains: list[Moments]


def fold_moments(source, cv, groups, reducer) -> FoldMoments:
    """The folds of rows in memory: ``cv`` a number of folds (scikit-learn's
    ``KFold``: contiguous, in order), a splitter or (train, test) index pairs.

    Test sets that partition the rows are read once each and the training
    moments are the total's less the test's; other splits (repeated, shuffled
    subsets) read each training set too. Across workers each fold's moments
    are pooled: fold k is every worker's fold k.
    """
    from sklearn.model_selection import check_cv

    X, Y, weights = source.arrays
    try:
        splits = list(check_cv(cv).split(X, Y[:, 0], groups))
    except ValueError as error:  # too few rows for the folds, a bad splitter
        raise DataError(str(error).strip().splitlines()[0]) from None
    n = X.shape[0]
    splits = [
        (_rows(train, n, i, "train"), _rows(test, n, i, "test"))
        for i, (train, test) in enumerate(splits)
    ]

    def moments_of_rows(rows):
        if rows.size == 0:
            return None
        weight = None if weights is None else weights[rows]
        return data_moments(X[rows], Y[rows], weight)

    tests = [moments_of_rows(test) for _, test in splits]
    seen = np.concatenate([test for _, test in splits])
    partition = seen.size == n and np.array_equal(np.sort(seen), np.arange(n))
    # Every worker must pool the same things: one that does not partition decides.
    partition = reducer.maximum(0.0 if partition else 1.0) == 0.0
    trains = None if partition else [moments_of_rows(train) for train, _ in splits]
    n_folds = round(reducer.maximum(len(splits)))
    if n_folds != len(splits):
        raise DataError(
            f"this worker's cv gives {len(splits)} folds where another's gives "
            f"{n_folds}; give every worker the same number"
        )
    return _pooled(source, tests, trains, reducer)


def _rows(rows, n: int, split: int, name: str) -> np.ndarray:
    """A split's row indices, checked to be rows of X."""
    rows = np.asarray(rows)
    if rows.dtype == bool:
        rows = np.flatnonzero(rows)
    if rows.size and (rows.dtype.kind not in "iu" or rows.min() < 0 or rows.max() >= n):
        raise DataError(
            f"cv split {split}: the {name} rows must be indices 0 to {n - 1} of X, "
            f"got {rows[:5].tolist()}..."
        )
    return rows.astype(np.intp, copy=False)


def stream_fold_moments(source, n_folds: int, reducer) -> FoldMoments:
    """The folds of a stream, in one pass: row i of this process's stream is in
    fold ``i mod n_folds`` (the folds are interleaved, since how many rows a
    stream holds is known only at its end), and fold k is every worker's fold k."""
    accumulators = [MomentsAccumulator() for _ in range(n_folds)]
    row = 0
    for X, Y, weights in source.blocks():
        for k, accumulator in enumerate(accumulators):
            rows = slice((k - row) % n_folds, None, n_folds)
            weight = None if weights is None else weights[rows]
            accumulator.add(X[rows], Y[rows], weight)
        row += X.shape[0]
    tests = [a.result() if a.n_samples else None for a in accumulators]
    return _pooled(source, tests, None, reducer)


def _pooled(source, tests, trains, reducer) -> FoldMoments:
    """Each fold's moments over the workers; the training ones as total less
    test where ``trains`` is None (the tests partition the rows)."""
    if all(t is None for t in tests) and (
        source.n_features is None or source.n_targets is None
    ):
        raise source.no_rows_error()  # no sizes to pool with
    d = source.n_features
    p = d + source.n_targets

    def pooled(local):
        return pooled_moments(local, p, d, reducer.sum)

    tests = [pooled(t) for t in tests]
    if all(t.n_samples == 0 for t in tests):
        if reducer.count > 1:
            raise DataError("no worker has any rows")
        raise source.no_rows_error()
    _check_folds(tests, "test")
    if trains is None:
        total = functools.reduce(merged_moments, tests)
        trains = [removed_moments(total, test) for test in tests]
    else:
        trains = [pooled(t) for t in trains]
        total = pooled(source.local_moments())
    _check_folds(trains, "training")
    return FoldMoments(total, tests, trains)


def _check_folds(folds: list[Moments], role: str) -> None:
    """Refuse a fold without rows (or without weight): its MSE or fit is undefined."""
    rows = sum(m.n_samples for m in folds)
    for k, moments in enumerate(folds):
        if moments.n_samples == 0 or not moments.total_weight > 0:
            what = "rows" if moments.n_samples == 0 else "weight"
            raise DataError(
                f"the {role} set of fold {k} of {len(folds)} has no {what} "
                f"({rows} rows in all); use fewer folds"
            )


@dataclass(frozen=True)
class CrossValidation:
    """The penalties tried, their held-out MSE, the one chosen and its fit on
    every row.

    ``alphas`` (n_l1_ratios, n_alphas) descending, ``l1_ratios`` (n_l1_ratios,),
    ``mse_path`` (n_l1_ratios, n_alphas, n_folds); ``coef`` (d, t) and
    ``intercept`` (t,) of the chosen penalty on all rows (where the refit starts).
    """

    alphas: np.ndarray
    l1_ratios: np.ndarray
    mse_path: np.ndarray
    alpha: float
    l1_ratio: float
    coef: np.ndarray
    intercept: np.ndarray


def cross_validate(
    folds: FoldMoments,
    *,
    alphas,
    l1_ratios: np.ndarray,
    eps: float,
    fit_intercept: bool,
    max_iter: int,
) -> CrossValidation:
    """Every penalty on every fold from the folds' moments (no pass over rows),
    and the one of least MSE averaged over the folds (the first, i.e. the
    largest alpha, among equals; across l1_ratios the first of the least)."""
    n_targets = len(folds.total.mean) - folds.total.n_features
    if n_targets > 1 and l1_ratios.max() > 0:
        raise ParameterError(
            f"y has {n_targets} columns; several targets are cross-validated for "
            "ridge only (l1_ratio=0), as scikit-learn's ElasticNetCV takes one"
        )
    grids = np.array(
        [
            alpha_grid(folds.total, r, fit_intercept=fit_intercept, eps=eps, n=alphas)
            if _is_int(alphas)
            else np.sort(np.asarray(alphas, np.float64))[::-1]
            for r in l1_ratios
        ]
    )
    normals = [normal_equations(m, fit_intercept) for m in folds.trains]
    mse = np.empty((len(l1_ratios), grids.shape[1], len(normals)))
    for i, (ratio, grid) in enumerate(zip(l1_ratios, grids, strict=True)):
        for k, normal in enumerate(normals):
            coef = _path(normal, grid, ratio, max_iter)
            mse[i, :, k] = held_out_mse(folds.tests[k], coef, intercepts(normal, coef))
    mean = mse.mean(axis=2)
    best = [int(np.argmin(row)) for row in mean]
    chosen = min(range(len(l1_ratios)), key=lambda i: (mean[i, best[i]], i))
    ratio, grid = float(l1_ratios[chosen]), grids[chosen]
    everything = normal_equations(folds.total, fit_intercept)
    coef = _path(everything, grid[: best[chosen] + 1], ratio, max_iter)[-1:]
    return CrossValidation(
        alphas=grids,
        l1_ratios=l1_ratios,
        mse_path=mse,
        alpha=float(grid[best[chosen]]),
        l1_ratio=ratio,
        coef=coef[0],
        intercept=intercepts(everything, coef)[0],
    )


def _path(normal, alphas, l1_ratio: float, max_iter: int) -> np.ndarray:
    """Coefficients (n_alphas, d, t) along the alphas: ridge in closed form, the
    elastic net by coordinate descent (one target), warning where it did not
    converge."""
    if l1_ratio == 0:
        return ridge_path(normal, alphas)
    path = enet_path(normal, alphas, l1_ratio, max_iter=max_iter)
    if not path.converged:
        from sklearn.exceptions import ConvergenceWarning

        worst = int(np.argmax(path.n_iter))
        warn(
            f"coordinate descent reached max_iter={max_iter} sweeps at "
            f"alpha={alphas[worst]:.4g} (l1_ratio={l1_ratio:g}) before the "
            "optimality conditions held; raise max_iter",
            ConvergenceWarning,
        )
    return path.coef[:, :, None]
