"""The one solve: a source, a plan, a reducer and callbacks in; a FitOutcome out.

The exact solver or gradient descent on one of two engines: the gram engine
(float64 moments, then O(d²) epochs) or the data engine (the rows through the tape
every epoch, from memory or from a row cache). Across workers only the reducer
differs: it pools the moments, gathers the exact solver's factors and adds the
data engine's sums at every step. Warnings point at the user's line.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..errors import DataError, ParameterError
from ..numerics.checks import check_second_moments
from ..numerics.exact import (
    solve_from_moments,
    solve_least_squares,
    solve_least_squares_stream,
)
from ..numerics.gram import gram_from_moments
from ..numerics.hypotheses import f_test
from ..numerics.linear import feature_names as default_feature_names
from ..numerics.moments import dependent_columns
from ..numerics.nonnegative import nonnegative_from_moments, nonnegative_solution
from ..numerics.residuals import ResidualSums, diagnostics, residual_pass
from ..numerics.robust import (
    cluster_covariance,
    merge_cluster_scores,
    robust_covariances,
)
from ..numerics.standardization import Standardization, standardization_from_moments
from ..numerics.statistics import ols_statistics, ols_statistics_from_moments
from ..runtime.notes import factoring_flops, note_if_long
from .diagnostics import (
    warn_about_clusters,
    warn_about_columns,
    warn_if_not_converged,
)
from .gradient import (
    train_on_gram,
    train_on_rows,
    train_on_stream,
    train_whitened,
    whitens,
)
from .outcome import FitOutcome, TrainingRecord
from .plan import FitPlan, clamp_batch_size, penalty_weights, resolve_engine
from .source import column_names, moments_of
from .whitening import (
    factor_arrays,
    factor_rows,
    loss_on_gram,
    needs_rows,
    optimum_of,
    whitened_gram,
)


def has_rows(source) -> bool:
    """Whether the source has rows to pass over (not only their moments)."""
    return getattr(source, "has_rows", True)


def all_rows_here(source, reducer) -> bool:
    """Whether this process holds every row in memory: then a fit may skip the
    moments pass (the exact solver factors the arrays, the data engine
    standardizes them directly)."""
    return source.arrays is not None and reducer.count == 1


def solve(source, plan: FitPlan, reducer, *, callback=None) -> FitOutcome:
    """Fit the linear model on ``source`` as ``plan`` says.

    Parameters
    ----------
    source : ArraySource or BlockSource
        This worker's rows (all of them in one process).
    plan : FitPlan
    reducer : LocalReducer or StrategyReducer
        Adds sums over workers (identity in one process).
    callback : callable, optional
        Receives each chunk of epochs (``core.train.EpochChunk``).
    """
    if plan.solver == "exact":
        coef, intercept, moments, solution = _solve_exact(source, plan, reducer)
        if plan.positive and solution is not None:
            coef, intercept = nonnegative_solution(solution, plan.fit_intercept)
        elif plan.positive:
            coef, intercept = nonnegative_from_moments(moments, plan.fit_intercept)
        record = TrainingRecord.exact()
    else:
        # One float64 pass gives the standardization, the gram engine's moments,
        # the automatic step and the OLS inference: every worker's rows'. Only
        # the data engine on rows all here goes without.
        moments = (
            None if all_rows_here(source, reducer) else moments_of(source, reducer)
        )
        n_rows = source.arrays[0].shape[0] if moments is None else moments.n_samples
        plan = clamp_batch_size(plan, n_rows)
        engine = resolve_engine(
            plan.engine, plan.batch_size, source.n_features, plan.loss
        )
        if engine != "gram" and not has_rows(source):
            raise ParameterError(
                "partial_fit keeps the moments of the rows it has seen, which the "
                f"gram engine trains on; this fit would take the {engine} engine "
                "(mini-batches, engine='data', or over 1,000 features): use fit"
            )
        if engine == "gram" and moments is None:
            moments = moments_of(source, reducer)
        coef, intercept, record, solution = _train(
            source, plan, reducer, engine, moments, callback
        )
    statistics = None
    if (
        plan.compute_statistics
        and plan.alpha == 0
        and not plan.positive
        and plan.loss == "squared_error"
    ):
        statistics, solution = _statistics(
            source, plan, coef, intercept, moments, solution
        )
        statistics = _from_residual_pass(
            statistics, source, plan, coef, intercept, reducer
        )
    return FitOutcome(
        coef=coef,
        intercept=intercept,
        single_target=False,
        feature_names=source.feature_names,
        target_names=source.target_names,
        training=record,
        statistics=statistics,
        moments=None if source.arrays is not None else moments,
        exact=solution,
    )


def _solve_exact(source, plan: FitPlan, reducer):
    """(coef, intercept, moments or None, solution) of the exact solver."""
    if not has_rows(source):  # partial_fit: the normal equations of the moments
        moments = moments_of(source, reducer)
        coef, intercept = solve_from_moments(
            moments, fit_intercept=plan.fit_intercept, alpha=plan.alpha
        )
        measured = standardization_from_moments(
            moments, source.n_features, center=plan.fit_intercept
        )
        _warn_about_columns(source, plan, moments, measured, ())
        return coef, intercept, moments, None
    if all_rows_here(source, reducer):
        X, Y, sample_weight = source.arrays
        solution = solve_least_squares(
            X, Y, sample_weight, fit_intercept=plan.fit_intercept, alpha=plan.alpha
        )
        # One more pass (cheap beside the QR) tells constant columns apart.
        measured = Standardization.fit(X, Y, sample_weight, center=plan.fit_intercept)
        moments = None
    else:
        # Each worker factors its rows centred on the pooled means; the factors
        # are gathered and factored once more: the solution of all rows.
        moments = moments_of(source, reducer)
        solution = solve_least_squares_stream(
            source.blocks(),
            moments,
            source.n_features,
            fit_intercept=plan.fit_intercept,
            alpha=plan.alpha,
            gather=reducer.gather,
        )
        measured = standardization_from_moments(
            moments, source.n_features, center=plan.fit_intercept
        )
    _warn_about_columns(source, plan, moments, measured, solution.collinear)
    return solution.coef, solution.intercept, moments, solution


def _warn_about_columns(source, plan, moments, measured, collinear) -> None:
    warn_about_columns(
        source.n_rows if moments is None else moments.n_samples,
        source.n_features,
        measured,
        collinear,
        alpha=plan.alpha,
        fit_intercept=plan.fit_intercept,
        feature_names=source.feature_names,
        target_names=source.target_names,
    )


def _train(source, plan: FitPlan, reducer, engine, moments, callback):
    """Standardize, warn, pick the penalty, train on the engine; original units."""
    n_features, n_targets = source.n_features, source.n_targets
    if not plan.standardize:
        scaling = Standardization.identity(n_features, n_targets)
    elif moments is not None:
        scaling = standardization_from_moments(
            moments, n_features, center=plan.fit_intercept
        )
    else:
        scaling = Standardization.fit(*source.arrays, center=plan.fit_intercept)
        check_second_moments(
            np.concatenate([scaling.x_scale, scaling.y_scale]), column_names(source)
        )
    measured = scaling
    if moments is not None and not plan.standardize:
        measured = standardization_from_moments(
            moments, n_features, center=plan.fit_intercept
        )
    collinear = ()
    if moments is not None:
        collinear = dependent_columns(
            moments, n_features, center=plan.fit_intercept, skip=measured.x_constant
        )
    l1, l2 = penalty_weights(plan, scaling, n_targets)
    engine, gram, whitened = _whitening(
        source, plan, reducer, engine, moments, scaling, l1, l2
    )
    solution = None
    if whitened is not None and whitened.factor is not None:
        # The factor, not the moments, tells an exact dependence apart; and its
        # SVD gives the exact solution (statistics, the report's reference).
        solution = whitened.factor.solution()
        if whitened.factor.n_samples >= n_features + int(plan.fit_intercept):
            # (Fewer rows than parameters get their own warning instead.)
            collinear = [c for c in solution.collinear if not measured.x_constant[c]]
    _warn_about_columns(source, plan, moments, measured, collinear)
    if whitened is not None:
        result, optimizer = train_whitened(whitened, plan, scaling, callback)
    elif engine == "gram":
        result, optimizer = train_on_gram(
            gram, plan, l1, l2, scaling, callback, moments.n_samples
        )
    elif source.arrays is not None:
        result, optimizer = train_on_rows(
            source, plan, reducer, moments, scaling, l1, l2, callback
        )
    else:
        result, optimizer = train_on_stream(
            source, plan, reducer, moments, scaling, l1, l2, callback
        )
    if plan.tol is not None and not result.converged:
        _warn_not_converged(plan, result, moments, scaling, gram, whitened)
    coef, intercept = scaling.to_original(result.coef, result.intercept)
    record = TrainingRecord.of(
        result, engine, optimizer, scaling if plan.standardize else None
    )
    return coef, intercept, record, solution


def _warn_not_converged(plan: FitPlan, result, moments, scaling, gram, whitened):
    """The max_iter warning; with the moments at hand (and no penalty) it gives
    the returned weights' loss against the exact optimum's, and κ."""
    optimum = final = None
    if moments is not None and plan.alpha == 0 and plan.loss == "squared_error":
        if gram is None:
            gram = gram_from_moments(moments, scaling)
        optimum = optimum_of(
            gram,
            whitened,
            fit_intercept=plan.fit_intercept,
            n_samples=moments.n_samples,
            y_scale=scaling.y_scale,
        )
        final = loss_on_gram(gram, result.coef, result.intercept, scaling.y_scale)
    warn_if_not_converged(
        result.loss_history,
        tol=plan.tol,
        max_iter=plan.max_iter,
        optimum=optimum,
        final=final,
        least_squares=plan.loss == "squared_error",
    )


def _whitening(source, plan: FitPlan, reducer, engine, moments, scaling, l1, l2):
    """(engine, gram, whitened): the problem the defaults train on, whitened.

    From the moments while they resolve it; from the rows' factor (one more pass)
    where they cannot (κ beyond ``MOMENTS_RESOLVE``), and for wide data in memory
    (fewer rows than features, beyond the gram engine's width), where the factor
    costs O(n²·d) and the moments d²: the data engine's epochs would then crawl
    towards an optimum the factor gives in one step. None where the fit does not
    whiten (a chosen optimizer or step, an L1 part).
    """
    gram = whitened = factor = None
    if engine == "gram":
        gram = gram_from_moments(moments, scaling)
        if whitens(plan, l1):
            whitened = whitened_gram(
                gram,
                fit_intercept=plan.fit_intercept,
                l2=l2,
                n_samples=moments.n_samples,
            )
        if needs_rows(whitened, l2) and has_rows(source):
            factor = factor_rows(
                source, moments, fit_intercept=plan.fit_intercept, reducer=reducer
            )
    elif (
        whitens(plan, l1)
        and l2 is None
        and plan.engine == "auto"
        and all_rows_here(source, reducer)
        and source.n_rows < source.n_features
    ):
        factor = factor_arrays(*source.arrays, fit_intercept=plan.fit_intercept)
    if factor is not None and factor.svd.rank > 0:  # else nothing to whiten
        return "gram", gram, factor.whitened(scaling)
    return engine, gram, whitened


def _statistics(source, plan: FitPlan, coef, intercept, moments, solution):
    """(OLS inference, the exact solution it used or None): from the moments when
    the fit took them (no extra pass; all workers' rows), otherwise from the exact
    solver's QR of the arrays; the (X_cᵀSX_c)⁺ of the exact ``solution`` where
    the fit has one."""
    names = default_feature_names(source.feature_names, source.n_features)
    if moments is not None:
        statistics = ols_statistics_from_moments(
            moments,
            coef,
            intercept,
            fit_intercept=plan.fit_intercept,
            feature_names=names,
            solution=solution,
            intercept_name=plan.intercept_name,
        )
        return statistics, solution
    X, Y, sample_weight = source.arrays
    if solution is None:
        note_if_long(
            factoring_flops(*X.shape),
            f"computing the statistics: a QR and an SVD of the {X.shape[0]:,} x "
            f"{X.shape[1]:,} rows (compute_statistics=False, --no-statistics, "
            "skips them)",
        )
        solution = solve_least_squares(
            X, Y, sample_weight, fit_intercept=plan.fit_intercept
        )
    statistics = ols_statistics(
        X,
        Y,
        coef,
        intercept,
        solution,
        sample_weight=sample_weight,
        fit_intercept=plan.fit_intercept,
        feature_names=names,
        intercept_name=plan.intercept_name,
    )
    return statistics, solution


def _grouped_anywhere(source, reducer) -> bool:
    """Whether the rows have cluster labels, on every worker alike: one without
    rows has seen no labels, yet must join the others' gather."""
    grouped = bool(source.grouped)
    if reducer.count == 1:
        return grouped
    anywhere = reducer.maximum(float(grouped)) > 0
    if anywhere and source.grouped is False:
        raise DataError(
            "this worker's rows have no groups, other workers' have; give every "
            "worker's blocks groups, or none"
        )
    return anywhere


def _from_residual_pass(statistics, source, plan, coef, intercept, reducer):
    """The statistics completed by one more pass over the rows (every worker's,
    added like the moments): statsmodels' diagnostics always, HC0–HC3 under a
    robust ``cov_type``, the cluster-robust covariance where cluster labels are
    given. Under a robust ``cov_type`` F becomes its Wald F, as statsmodels
    reports. The bread they are made with is dropped."""
    if not has_rows(source):  # partial_fit: no rows to pass over
        if plan.cov_type != "nonrobust":
            raise ParameterError(
                f"cov_type={plan.cov_type!r} needs a pass over the rows, which "
                "partial_fit does not keep; use fit (or fit_stream) for robust errors"
            )
        return dataclasses.replace(statistics, bread=None)
    grouped = _grouped_anywhere(source, reducer)
    if plan.cov_type == "cluster" and not grouped:
        raise ParameterError(
            "cov_type='cluster' needs the cluster labels: fit(X, y, groups=...), "
            "or blocks of (X, y, sample_weight, groups)"
        )
    keeps_cov = statistics.cov is not None
    meats = keeps_cov and plan.cov_type not in ("nonrobust", "cluster")
    sums, meat, scores = residual_pass(
        source.group_blocks(),
        coef,
        intercept,
        statistics.bread,
        plan.fit_intercept,
        meats=meats,
        clusters=keeps_cov and grouped,
    )
    n_targets = coef.shape[1]
    statistics = dataclasses.replace(
        statistics,
        diagnostics=diagnostics(
            ResidualSums.unpacked(
                reducer.sum(sums.packed()), n_targets, weighted=sums.weighted
            ),
            statistics,
            fit_intercept=plan.fit_intercept,
            in_order=reducer.count == 1,
        ),
    )
    if not keeps_cov:
        return dataclasses.replace(statistics, bread=None)
    cov = dict(statistics.cov)
    if meats:
        cov.update(
            robust_covariances(statistics, reducer.sum(meat), plan.fit_intercept)
        )
    if scores is not None:
        _, score_sums = merge_cluster_scores(*scores, reducer)
        cov["cluster"] = cluster_covariance(statistics, score_sums, plan.fit_intercept)
        statistics = dataclasses.replace(statistics, n_groups=score_sums.shape[0])
        if plan.cov_type == "cluster":
            warn_about_clusters(score_sums.shape[0], source.n_features)
    if plan.cov_type != "nonrobust":
        statistics = _robust_model_f(statistics, cov[plan.cov_type], plan)
    return dataclasses.replace(statistics, cov=cov, bread=None)


def _robust_model_f(statistics, cov, plan):
    """As statsmodels: F is the Wald test of every slope = 0 under the robust
    covariance, with G − 1 denominator degrees of freedom for clusters."""
    if plan.cov_type == "cluster":
        df_denom = statistics.n_groups - 1
    else:
        df_denom = statistics.df_resid
    slopes = np.eye(len(statistics.terms))[int(plan.fit_intercept) :]
    tests = [
        f_test(coef_k, cov_k, slopes, np.zeros(len(slopes)), df_denom)
        for coef_k, cov_k in zip(statistics.coef.T, cov, strict=True)
    ]
    return dataclasses.replace(
        statistics,
        fvalue=np.array([test["fvalue"] for test in tests]),
        f_pvalue=np.array([test["p_value"] for test in tests]),
    )
