"""Inference for ordinary least squares: standard errors, t, p, intervals, R², F.

The formulas are the textbook ones statsmodels' OLS/WLS uses (checked against it in the
tests), evaluated from the exact solver's ``(X_cᵀ S X_c)⁺`` and the residuals of the
fitted coefficients. NumPy and SciPy only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .linear import linear_predictions, whitening_of

COLUMNS = ("coef", "std_err", "t", "p_value", "ci_low", "ci_high")


@dataclass(frozen=True)
class OLSStatistics:
    """Per-coefficient and whole-model statistics of a least-squares fit.

    Coefficient arrays have shape (n_terms, n_targets), terms being the intercept (when
    fitted) and then the features; model-level arrays have shape (n_targets,).
    """

    terms: list[str]
    coef: np.ndarray
    std_err: np.ndarray
    nobs: int
    df_model: float
    df_resid: float
    rsquared: np.ndarray
    rsquared_adj: np.ndarray
    fvalue: np.ndarray
    f_pvalue: np.ndarray
    resid_std_err: np.ndarray
    # Covariance of the terms per type (``robust.COV_TYPES``), each (n_targets,
    # n_terms, n_terms); None beyond ``MAX_COV_TERMS`` terms or in older files.
    cov: dict | None = None
    # The number of clusters behind cov["cluster"] (its tests have G − 1 df).
    n_groups: int | None = None
    # statsmodels' summary diagnostics (``residuals.Diagnostics``); None in
    # older files.
    diagnostics: object = None
    # What the robust covariances are computed from (``Bread``); fit time only.
    bread: object = None

    def table(self, level: float = 0.95, target: int = 0, cov_type="nonrobust"):
        """The coefficient table of one target as a DataFrame indexed by term.

        With a robust ``cov_type`` the statistic is z and the p-values and
        intervals come from the normal distribution, as statsmodels' default
        (``use_t=False``) for robust covariances.
        """
        import pandas as pd
        from scipy import stats

        coef = self.coef[:, target]
        if cov_type == "nonrobust":
            std_err = self.std_err[:, target]
            distribution = stats.t(self.df_resid)
        else:
            std_err = np.sqrt(np.diagonal(self.cov[cov_type][target]))
            distribution = stats.norm()
        with np.errstate(divide="ignore", invalid="ignore"):
            t = coef / std_err
        p_value = 2 * distribution.sf(np.abs(t))
        half_width = distribution.ppf(0.5 + level / 2) * std_err
        return pd.DataFrame(
            {
                "coef": coef,
                "std_err": std_err,
                "t": t,
                "p_value": p_value,
                "ci_low": coef - half_width,
                "ci_high": coef + half_width,
            },
            index=pd.Index(self.terms, name="term"),
        )


PREDICTION_COLUMNS = (
    "mean",
    "mean_se",
    "mean_ci_lower",
    "mean_ci_upper",
    "obs_ci_lower",
    "obs_ci_upper",
)


def prediction_table(stats, X, level, target, cov_type) -> dict[str, np.ndarray]:
    """statsmodels' ``get_prediction(X).summary_frame()`` columns for one target.

    The mean's variance is x̃ᵀ·Cov·x̃ (x̃ = [1, x] with an intercept) under
    ``cov_type``; a new observation adds σ² (the residual variance, whatever the
    covariance type, as statsmodels). Quantiles: Student's t on the residual
    degrees of freedom, or the normal distribution for robust types.
    """
    terms = np.asarray(X, np.float64)
    if len(stats.terms) == terms.shape[1] + 1:  # the intercept's column first
        terms = np.hstack([np.ones((terms.shape[0], 1)), terms])
    mean = terms @ stats.coef[:, target]
    cov = stats.cov[cov_type][target]
    with np.errstate(invalid="ignore"):
        mean_se = np.sqrt(np.einsum("ij,jk,ik->i", terms, cov, terms))
        obs_se = np.sqrt(mean_se**2 + stats.resid_std_err[target] ** 2)
    quantile = prediction_quantile(stats, level, cov_type)
    return dict(
        zip(
            PREDICTION_COLUMNS,
            (
                mean,
                mean_se,
                mean - quantile * mean_se,
                mean + quantile * mean_se,
                mean - quantile * obs_se,
                mean + quantile * obs_se,
            ),
            strict=True,
        )
    )


def prediction_quantile(stats, level, cov_type) -> float:
    """The quantile the prediction intervals are ± that many standard errors:
    Student's t on the residual degrees of freedom for ``"nonrobust"``, the
    normal distribution for the robust types (statsmodels' ``use_t`` defaults).

    Shared by :func:`prediction_table` and the SavedModel export, which bakes it in.
    """
    from scipy import stats as distributions

    if cov_type == "nonrobust":
        return float(distributions.t.ppf(0.5 + level / 2, stats.df_resid))
    return float(distributions.norm.ppf(0.5 + level / 2))


# Beyond this many terms no covariance matrix is kept (each is n_terms² numbers
# per target and type, in memory and in the model file).
MAX_COV_TERMS = 1001


@dataclass(frozen=True)
class Bread:
    """What the sandwich covariances need from the fit: W with (X_cᵀSX_c)⁺ = W·Wᵀ,
    the weighted mean the rows are centred on, and Σs."""

    whitening: np.ndarray
    x_mean: np.ndarray
    total_weight: float


def ols_statistics(
    X: np.ndarray,
    Y: np.ndarray,
    coef: np.ndarray,
    intercept: np.ndarray,
    solution,
    *,
    sample_weight: np.ndarray | None = None,
    fit_intercept: bool = True,
    feature_names: list[str],
    intercept_name: str = "intercept",
) -> OLSStatistics:
    """Statistics of the fit ``X·coef + intercept`` (coef (d, t)) on (X, Y (n, t)).

    ``solution`` is the exact solver's LeastSquaresSolution on the same data: it gives
    the rank and ``(X_cᵀ S X_c)⁺`` from its SVD, so no condition number is squared.
    With weights these are the WLS statistics.
    """
    weights = np.ones(X.shape[0]) if sample_weight is None else sample_weight
    total_weight = float(weights.sum())
    ssr = weights @ (Y - linear_predictions(X, coef, intercept)) ** 2
    if fit_intercept:
        tss = weights @ (Y - weights @ Y / total_weight) ** 2
    else:
        tss = weights @ Y**2
    return _statistics(
        coef,
        intercept,
        solution.whitening,
        solution.x_mean,
        solution.rank,
        ssr,
        tss,
        total_weight,
        X.shape[0],
        fit_intercept,
        feature_names,
        intercept_name,
    )


def ols_statistics_from_moments(
    moments,
    coef: np.ndarray,
    intercept: np.ndarray,
    *,
    fit_intercept: bool,
    feature_names: list[str],
    solution=None,
    intercept_name: str = "intercept",
) -> OLSStatistics:
    """The same statistics from the gram engine's moments, without touching the data.

    ``(X_cᵀSX_c)⁺`` comes from the column-scaled moment matrix, so its precision is
    that of the normal equations (about 16 − 2·log10 κ digits, κ the condition number
    of the standardized X); the exact solver's route keeps 16 − log10 κ, and is
    taken where the fit factored the rows (``solution``). The residual
    sum of squares is written in centred form, ``E[r²] = vᵀCv + (vᵀm − b)²``.
    """
    d = coef.shape[0]
    total, mean, covariance = moments.total_weight, moments.mean, moments.covariance
    x_mean = mean[:d] if fit_intercept else np.zeros(d)
    second = covariance if fit_intercept else covariance + np.outer(mean, mean)
    if solution is not None:  # the rows' factor's: the condition number unsquared
        whitening = solution.whitening
    else:
        whitening, _ = whitening_of(total * second[:d, :d], moments.n_samples)
    rank = whitening.shape[1]

    # Residual r_k = vᵀa − b_k with a = [x, y], v = [−w_k; e_k].
    n_targets = coef.shape[1]
    V = np.vstack([-coef, np.eye(n_targets)])
    centred = np.einsum("pk,pq,qk->k", V, covariance, V)
    ssr = total * (centred + (mean @ V - intercept) ** 2)
    y_var = np.diag(covariance)[d:]
    tss = total * (y_var if fit_intercept else y_var + mean[d:] ** 2)
    return _statistics(
        coef,
        intercept,
        whitening,
        x_mean,
        rank,
        ssr,
        tss,
        total,
        moments.n_samples,
        fit_intercept,
        feature_names,
        intercept_name,
    )


def _statistics(
    coef,
    intercept,
    whitening,
    x_mean,
    rank,
    ssr,
    tss,
    total_weight,
    n_samples,
    fit_intercept,
    feature_names,
    intercept_name="intercept",
) -> OLSStatistics:
    """statsmodels' OLS formulas from the sums.

    σ²_k = SSR_k / (n − rank − 1[intercept]);  Var(w) = σ²·(X_cᵀSX_c)⁺;
    Var(b) = σ²·(1/Σs + x̄ᵀ(X_cᵀSX_c)⁺x̄), with (X_cᵀSX_c)⁺ = W·Wᵀ (``whitening``)
    never formed: only its diagonal and one quadratic form are needed.
    """
    from scipy import stats

    from .robust import bread_matrix, in_terms

    k_constant = int(fit_intercept)
    # An SSR written through the moments can round below 0 at a perfect fit.
    ssr = np.maximum(ssr, 0.0)
    # NumPy scalars so that a fit with no residual degrees of freedom gives inf/NaN
    # statistics (as statsmodels does) instead of a ZeroDivisionError.
    df_model = np.float64(rank)
    df_resid = np.float64(n_samples - rank - k_constant)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = ssr / df_resid  # σ² per target
        std_err = np.sqrt(np.sum(whitening**2, axis=1)[:, None] * scale)
        if fit_intercept:
            intercept_var = 1 / total_weight + np.sum((x_mean @ whitening) ** 2)
            std_err = np.vstack([np.sqrt(intercept_var * scale), std_err])
        rsquared = 1 - ssr / tss
        rsquared_adj = 1 - (n_samples - k_constant) / df_resid * (1 - rsquared)
        fvalue = ((tss - ssr) / df_model) / scale
    n_terms = whitening.shape[0] + k_constant
    cov = None
    if n_terms <= MAX_COV_TERMS:
        B = bread_matrix(whitening, total_weight, fit_intercept)
        with np.errstate(invalid="ignore"):  # no residual df: σ² is inf, 0·inf NaN
            cov = {
                "nonrobust": np.stack(
                    [in_terms(B * sigma2, x_mean, fit_intercept) for sigma2 in scale]
                )
            }
    return OLSStatistics(
        cov=cov,
        bread=Bread(whitening, x_mean, total_weight),
        terms=([intercept_name] if fit_intercept else []) + list(feature_names),
        coef=np.vstack([intercept, coef]) if fit_intercept else coef,
        std_err=std_err,
        nobs=n_samples,
        df_model=df_model,
        df_resid=df_resid,
        rsquared=rsquared,
        rsquared_adj=rsquared_adj,
        fvalue=fvalue,
        f_pvalue=stats.f.sf(fvalue, df_model, df_resid),
        resid_std_err=np.sqrt(scale),
    )
