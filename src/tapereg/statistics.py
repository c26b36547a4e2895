"""Inference for ordinary least squares: standard errors, t, p, intervals, R², F.

The formulas are the textbook ones statsmodels' OLS/WLS uses (checked against it in the
tests), evaluated from the exact solver's ``(X_cᵀ S X_c)⁺`` and the residuals of the
fitted coefficients. NumPy and SciPy only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

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

    def table(self, level: float = 0.95, target: int = 0):
        """The coefficient table of one target as a DataFrame indexed by term."""
        import pandas as pd
        from scipy import stats

        coef, std_err = self.coef[:, target], self.std_err[:, target]
        with np.errstate(divide="ignore", invalid="ignore"):
            t = coef / std_err
        p_value = 2 * stats.t.sf(np.abs(t), self.df_resid)
        half_width = stats.t.ppf(0.5 + level / 2, self.df_resid) * std_err
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
) -> OLSStatistics:
    """Statistics of the fit ``X·coef + intercept`` (coef (d, t)) on (X, Y (n, t)).

    ``solution`` is the exact solver's LeastSquaresSolution on the same data: it gives
    the rank and ``(X_cᵀ S X_c)⁺``. With weights these are the WLS statistics.

    σ²_k = Σ s·r_k² / (n − rank − 1[intercept]);  Var(w) = σ²·(X_cᵀSX_c)⁺;
    Var(b) = σ²·(1/Σs + x̄ᵀ(X_cᵀSX_c)⁺x̄).
    """
    n_samples = X.shape[0]
    weights = np.ones(n_samples) if sample_weight is None else sample_weight
    total_weight = weights.sum()
    residual = Y - (X @ coef + intercept)
    ssr = weights @ residual**2
    k_constant = int(fit_intercept)
    # NumPy scalars so that a fit with no residual degrees of freedom gives inf/NaN
    # statistics (as statsmodels does) instead of a ZeroDivisionError.
    df_model = np.float64(solution.rank)
    df_resid = np.float64(n_samples - solution.rank - k_constant)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = ssr / df_resid  # σ² per target

        slope_var = np.diag(solution.gram_inverse)[:, None] * scale
        std_err = np.sqrt(slope_var)
        if fit_intercept:
            x_mean = solution.x_mean
            intercept_var = 1 / total_weight + x_mean @ solution.gram_inverse @ x_mean
            std_err = np.vstack([np.sqrt(intercept_var * scale), std_err])
            y_mean = weights @ Y / total_weight
            tss = weights @ (Y - y_mean) ** 2
        else:
            tss = weights @ Y**2
        rsquared = 1 - ssr / tss
        rsquared_adj = 1 - (n_samples - k_constant) / df_resid * (1 - rsquared)
        fvalue = ((tss - ssr) / df_model) / scale
    from scipy import stats

    return OLSStatistics(
        terms=(["intercept"] if fit_intercept else []) + list(feature_names),
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
