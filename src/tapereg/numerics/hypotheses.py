"""Tests of linear restrictions R·β = q: Wald F and t tests, as statsmodels'.

Restrictions come as statsmodels writes them, ``"x1 = 0, x2 = x3"`` over the
summary's term names (parsed by formulaic, the maintained formula library), or as a
matrix R (with q = 0) or a pair (R, q). Under a covariance V of the coefficients:

    F = (Rβ − q)ᵀ (R V Rᵀ)⁺ (Rβ − q) / J,   J = rank(R V Rᵀ),

against F(J, df), and per row t = (Rβ − q)ᵢ / √(R V Rᵀ)ᵢᵢ against Student's t(df),
or the normal distribution for robust covariances (statsmodels' default). df is the
residual degrees of freedom, G − 1 with clusters.
"""

from __future__ import annotations

import numpy as np

from ..errors import ParameterError


def restriction_matrix(restrictions, terms: list[str]):
    """(R, q, labels) of ``restrictions``: a string, a matrix R, or (R, q)."""
    if isinstance(restrictions, str):
        from formulaic.utils.constraints import LinearConstraints

        try:
            parsed = LinearConstraints.from_spec(restrictions, variable_names=terms)
        except KeyError as error:
            raise ParameterError(
                f"restrictions {restrictions!r} name {error.args[0]!r}, which is not "
                f"a term (terms: {', '.join(terms)})"
            ) from None
        except Exception as error:  # formulaic's parse errors
            first = str(error).strip().splitlines()[0] if str(error).strip() else ""
            raise ParameterError(
                f"cannot read restrictions {restrictions!r}: {first}"
            ) from None
        R = np.asarray(parsed.constraint_matrix, np.float64)
        q = np.asarray(parsed.constraint_values, np.float64)
        labels = [part.strip() for part in restrictions.split(",")]
        if len(labels) != R.shape[0]:
            labels = [f"c{i}" for i in range(R.shape[0])]
        return R, q, labels
    if isinstance(restrictions, tuple) and len(restrictions) == 2:
        R, q = restrictions
    else:
        R, q = restrictions, None
    R = np.atleast_2d(np.asarray(R, np.float64))
    q = np.zeros(R.shape[0]) if q is None else np.atleast_1d(np.asarray(q, np.float64))
    if R.ndim != 2 or R.shape[1] != len(terms) or q.shape != (R.shape[0],):
        raise ParameterError(
            f"a restriction matrix needs {len(terms)} columns (the terms: "
            f"{', '.join(terms)}) and one value of q per row; got R {R.shape}, "
            f"q {q.shape}"
        )
    return R, q, [f"c{i}" for i in range(R.shape[0])]


def f_test(coef, cov, R, q, df_denom) -> dict:
    """The Wald F of R·coef = q under ``cov``: F, its p-value, df_num, df_denom."""
    from scipy import stats

    difference = R @ coef - q
    V = R @ cov @ R.T
    with np.errstate(divide="ignore", invalid="ignore"):
        rank = int(np.linalg.matrix_rank(V))
        fvalue = float(difference @ np.linalg.pinv(V) @ difference) / rank
    return {
        "fvalue": fvalue,
        "p_value": float(stats.f.sf(fvalue, rank, df_denom)),
        "df_num": rank,
        "df_denom": float(df_denom),
    }


def t_test(coef, cov, R, q, df_denom, *, normal: bool, level: float) -> dict:
    """Each restriction's estimate R·coef, standard error, t (or z) of R·coef − q,
    p-value
    and interval (statsmodels' ``t_test(...).summary_frame()``)."""
    from scipy import stats

    estimate = R @ coef
    with np.errstate(invalid="ignore", divide="ignore"):
        std_err = np.sqrt(np.einsum("ij,jk,ik->i", R, cov, R))
        t = (estimate - q) / std_err
    distribution = stats.norm() if normal else stats.t(df_denom)
    half_width = distribution.ppf(0.5 + level / 2) * std_err
    return {
        "coef": estimate,
        "std_err": std_err,
        "t": t,
        "p_value": 2 * distribution.sf(np.abs(t)),
        "ci_low": estimate - half_width,
        "ci_high": estimate + half_width,
    }
