"""The diagnostics under statsmodels' OLS/WLS summary, from sums over rows.

Log-likelihood, AIC, BIC, Durbin–Watson, Jarque–Bera and the omnibus test are
functions of the whitened residuals r = √s·e (statsmodels' ``wresid``) through a
few sums: the count, Σ log s, Σr, Σr², Σr³, Σr⁴ and, in row order, Σ(rᵢ − rᵢ₋₁)².
:func:`residual_pass` takes them in one pass over blocks of rows, with the HC meats
and the cluster scores that pass also feeds, so streamed files and workers add
theirs like the moments (Durbin–Watson excepted: workers' rows have no common
order, and it is then NaN). The condition number and the variance inflation
factors are the design's: they come from the statistics' bread, not the rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .linear import factor_of, linear_predictions
from .robust import (
    add_meats,
    centred_terms,
    cluster_score_sums,
    empty_meats,
    merged_scores,
)
from .statistics import MAX_COV_TERMS

# Rows per slice of a block: a few thousand keep every temporary in cache.
CHUNK_ROWS = 16384
# statsmodels' omnibus test (D'Agostino's K²) needs this many rows.
OMNIBUS_MIN_ROWS = 8
# statsmodels' summary notes a condition number above this, and an
# eigenvalue of the weighted design's XᵀX below the next.
LARGE_CONDITION = 1000.0
# The columns of ``Diagnostics.jarque_bera`` and ``Diagnostics.omnibus``.
JARQUE_BERA = ("statistic", "p_value", "skew", "kurtosis")
OMNIBUS = ("statistic", "p_value")
SMALL_EIGENVALUE = 1e-10


@dataclass
class ResidualSums:
    """Additive sums of the whitened residuals, per target (arrays (n_targets,))."""

    n_rows: float
    log_weights: float  # Σ log s (0 without weights)
    powers: np.ndarray  # (4, n_targets): Σr, Σr², Σr³, Σr⁴
    squared_steps: np.ndarray  # Σ(rᵢ − rᵢ₋₁)² over consecutive rows seen
    last: np.ndarray | None = None  # the last row's r, to join the next block
    weighted: bool = False  # whether any rows came with weights (WLS)

    @classmethod
    def empty(cls, n_targets: int) -> ResidualSums:
        return cls(0.0, 0.0, np.zeros((4, n_targets)), np.zeros(n_targets))

    def add(self, residuals: np.ndarray, weights) -> None:
        """Add rows' residuals e (n, n_targets), following the rows added last."""
        r = residuals if weights is None else residuals * np.sqrt(weights)[:, None]
        if not r.shape[0]:
            return
        self.n_rows += r.shape[0]
        if weights is not None:
            self.weighted = True
            with np.errstate(divide="ignore"):  # a zero weight: log 0 = −inf
                self.log_weights += float(np.sum(np.log(weights)))
        squares = r * r
        self.powers += np.stack(
            [r.sum(0), squares.sum(0), (squares * r).sum(0), (squares**2).sum(0)]
        )
        self.squared_steps += np.sum(np.diff(r, axis=0) ** 2, axis=0)
        if self.last is not None:
            self.squared_steps += (r[0] - self.last) ** 2
        self.last = r[-1].copy()

    def packed(self) -> np.ndarray:
        """One vector to add across workers (the order-free sums)."""
        return np.concatenate(
            [[self.n_rows, self.log_weights], self.powers.ravel(), self.squared_steps]
        )

    @classmethod
    def unpacked(cls, vector: np.ndarray, n_targets: int, weighted: bool):
        t = n_targets
        return cls(
            float(vector[0]),
            float(vector[1]),
            vector[2 : 2 + 4 * t].reshape(4, t),
            vector[2 + 4 * t :],
            weighted=weighted,
        )


def residual_pass(
    group_blocks, coef, intercept, bread, fit_intercept, *, meats, clusters
):
    """(ResidualSums, HC meats or None, (labels, cluster scores) or None) in one
    pass over ``group_blocks`` of ``(X, Y, s, groups)``: the meats
    (``robust.add_meats``) with ``meats``, the per-cluster score sums
    (``robust.merged_scores``) with ``clusters``."""
    d, t = coef.shape
    p = d + int(fit_intercept)
    sums = ResidualSums.empty(t)
    meat = empty_meats(p, t) if meats else None
    parts = []
    for X_block, Y_block, weights, groups in group_blocks:
        for start in range(0, X_block.shape[0], CHUNK_ROWS):
            rows = slice(start, start + CHUNK_ROWS)
            X = np.asarray(X_block[rows], np.float64)
            s = None if weights is None else weights[rows]
            residuals = Y_block[rows] - linear_predictions(X, coef, intercept)
            sums.add(residuals, s)
            if meats or clusters:
                Z = centred_terms(X, bread, fit_intercept)
            if meats:
                add_meats(meat, Z, residuals, s, bread, fit_intercept)
            if clusters:
                parts.append(cluster_score_sums(Z, residuals, s, groups[rows]))
    scores = merged_scores(parts, t, p) if clusters else None
    return sums, meat, scores


@dataclass(frozen=True)
class Diagnostics:
    """statsmodels' summary figures; per-target arrays have shape (n_targets,).

    ``jarque_bera`` is (n_targets, 4): statistic, p-value, skew, kurtosis;
    ``omnibus`` (n_targets, 2): statistic, p-value (NaN under 8 rows);
    ``durbin_watson`` is NaN where the rows have no one order (across workers);
    ``condition_number`` and ``smallest_eigenvalue`` are of the weighted design
    with its constant column (statsmodels' ``condition_number``, ``eigenvals``);
    ``vif`` (n_features,) each feature's variance inflation factor.
    """

    llf: np.ndarray
    aic: np.ndarray
    bic: np.ndarray
    durbin_watson: np.ndarray
    jarque_bera: np.ndarray
    omnibus: np.ndarray
    condition_number: float
    smallest_eigenvalue: float
    vif: np.ndarray
    weighted: bool = False


def diagnostics(sums: ResidualSums, stats, *, fit_intercept: bool, in_order: bool):
    """:class:`Diagnostics` from the residual sums (all rows') and the statistics
    (their degrees of freedom and bread); ``in_order``: the sums' steps follow
    every row in order (one process), so Durbin–Watson is defined."""
    from scipy import stats as distributions

    n = sums.n_rows
    s1, s2, s3, s4 = sums.powers
    with np.errstate(divide="ignore", invalid="ignore"):
        # The log-likelihood of normal errors with variance σ²/s at the optimum.
        llf = -n / 2 * (1 + np.log(2 * np.pi) + np.log(s2 / n)) + sums.log_weights / 2
        k = stats.df_model + int(fit_intercept)
        aic = -2 * llf + 2 * k
        bic = -2 * llf + np.log(n) * k
        durbin_watson = (
            sums.squared_steps / s2 if in_order else np.full_like(s2, np.nan)
        )
        # Central moments (about the residuals' mean, 0 for OLS with an intercept).
        mean = s1 / n
        m2 = s2 / n - mean**2
        m3 = s3 / n - 3 * mean * s2 / n + 2 * mean**3
        m4 = s4 / n - 4 * mean * s3 / n + 6 * mean**2 * s2 / n - 3 * mean**4
        skew = m3 / m2**1.5
        kurtosis = m4 / m2**2
        jb = n / 6 * (skew**2 + (kurtosis - 3) ** 2 / 4)
        omnibus = _omnibus(skew, kurtosis, n)
    condition, smallest, vif = design_diagnostics(stats.bread, fit_intercept)
    return Diagnostics(
        llf=llf,
        aic=aic,
        bic=bic,
        durbin_watson=durbin_watson,
        jarque_bera=np.column_stack([jb, distributions.chi2.sf(jb, 2), skew, kurtosis]),
        omnibus=omnibus,
        condition_number=condition,
        smallest_eigenvalue=smallest,
        vif=vif,
        weighted=sums.weighted,
    )


def _omnibus(skew, kurtosis, n) -> np.ndarray:
    """D'Agostino–Pearson K² and its p-value (scipy's ``normaltest``, which
    statsmodels' ``omni_normtest`` calls) from the moments, not the rows:
    D'Agostino's transforms of skewness and kurtosis to z-scores."""
    from scipy import stats as distributions

    if n < OMNIBUS_MIN_ROWS:
        return np.full((len(skew), 2), np.nan)
    # Skewness (D'Agostino 1970).
    y = skew * np.sqrt((n + 1) * (n + 3) / (6 * (n - 2)))
    beta2 = 3 * (n**2 + 27 * n - 70) * (n + 1) * (n + 3)
    beta2 /= (n - 2) * (n + 5) * (n + 7) * (n + 9)
    w2 = -1 + np.sqrt(2 * (beta2 - 1))
    delta = 1 / np.sqrt(0.5 * np.log(w2))
    alpha = np.sqrt(2 / (w2 - 1))
    y = np.where(y == 0, 1, y)
    z_skew = delta * np.log(y / alpha + np.sqrt((y / alpha) ** 2 + 1))
    # Kurtosis (Anscombe and Glynn 1983).
    expected = 3 * (n - 1) / (n + 1)
    variance = 24 * n * (n - 2) * (n - 3) / ((n + 1) ** 2 * (n + 3) * (n + 5))
    x = (kurtosis - expected) / np.sqrt(variance)
    root_beta1 = (
        6
        * (n * n - 5 * n + 2)
        / ((n + 7) * (n + 9))
        * np.sqrt(6 * (n + 3) * (n + 5) / (n * (n - 2) * (n - 3)))
    )
    a = 6 + 8 / root_beta1 * (2 / root_beta1 + np.sqrt(1 + 4 / root_beta1**2))
    denominator = 1 + x * np.sqrt(2 / (a - 4))
    with np.errstate(divide="ignore", invalid="ignore"):
        term = np.sign(denominator) * np.where(
            denominator == 0, np.nan, ((1 - 2 / a) / np.abs(denominator)) ** (1 / 3)
        )
    z_kurtosis = (1 - 2 / (9 * a) - term) / np.sqrt(2 / (9 * a))
    k2 = z_skew**2 + z_kurtosis**2
    return np.column_stack([k2, distributions.chi2.sf(k2, 2)])


def design_diagnostics(bread, fit_intercept: bool):
    """(condition number, smallest eigenvalue, VIFs) of the weighted design.

    F = W⁺ has FᵀF = X_cᵀSX_c (W the bread's whitening), and the weighted design
    √S·[1, X] = Q·[[√Σs, √Σs·x̄ᵀ], [0, F]] with Q's columns orthonormal, so that
    small matrix has the design's singular values: its ratio is statsmodels'
    condition number, without the rows. A feature's VIF is 1/(1 − R²) of its
    weighted regression on the others (with the intercept when fitted):
    G_jj·(G⁺)_jj for G = FᵀF, and inf for a feature in an exact dependence.
    """
    W = bread.whitening
    d, rank = W.shape
    if d + int(fit_intercept) > MAX_COV_TERMS:  # O(d³): as the covariances, skipped
        return np.nan, np.nan, np.full(d, np.nan)
    F = factor_of(W)
    if fit_intercept:
        root = np.sqrt(bread.total_weight)
        top = np.concatenate([[root], root * bread.x_mean])
        design = np.vstack([top, np.hstack([np.zeros((rank, 1)), F])])
    else:
        design = F
    singular = np.linalg.svd(design, compute_uv=False)
    n_terms = design.shape[1]
    smallest = float(singular[-1] ** 2) if len(singular) == n_terms else 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        condition = float(singular[0] / np.sqrt(smallest)) if n_terms else np.nan
        vif = np.sum(F**2, axis=0) * np.sum(W**2, axis=1)
    if rank < d:
        # A feature with a part in FᵀF's null space depends exactly on the others.
        null = np.linalg.svd(F)[2][rank:] if rank else np.eye(d)
        vif[np.abs(null).max(axis=0) > np.sqrt(np.finfo(float).eps)] = np.inf
    return condition, smallest, vif
