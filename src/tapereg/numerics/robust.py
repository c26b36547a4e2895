"""Robust covariances (HC0–HC3, cluster): sandwiches from sums over rows.

statsmodels' definitions (White 1980; MacKinnon and White 1985), for OLS and, with
weights s, for WLS on the whitened rows √s·x, √s·e:

    Cov = B · (Σᵢ ωᵢ · sᵢ² eᵢ² · zᵢ zᵢᵀ) · B,   B = (Zᵀ S Z)⁺,

with ωᵢ = 1 (HC0), n/(n − k) (HC1), 1/(1 − hᵢ) (HC2), 1/(1 − hᵢ)² (HC3), and the
leverage hᵢ = sᵢ · zᵢᵀ B zᵢ. The sums are taken in centred coordinates,
z = [1, x − x̄] (B is then block diagonal: 1/Σs and the pseudo-inverse the
statistics already hold as W·Wᵀ), one block of rows at a time, so streamed files
and workers add theirs like the moments; the covariance of the user's terms
(intercept, then the features) follows by the change of coordinates
b = b_c − x̄ᵀw. The cluster-robust meat is Σ_g u_g u_gᵀ with each cluster's score
u_g = Σ_{i∈g} sᵢeᵢzᵢ (summed by label with pandas' groupby; across workers the
sums of a label are gathered by its 64-bit hash and added). NumPy and pandas.
"""

from __future__ import annotations

import numpy as np

# Which leverage power each summed meat takes: HC0 (and HC1) 0, HC2 1, HC3 2.
_MEATS = 3


def empty_meats(n_terms: int, n_targets: int) -> np.ndarray:
    """Zeros for :func:`add_meats`: (3, n_targets, p, p), p the number of terms."""
    return np.zeros((_MEATS, n_targets, n_terms, n_terms))


def centred_terms(X, bread, fit_intercept) -> np.ndarray:
    """z = [1, x − x̄] per row (x − x̄ without an intercept)."""
    Z = X - bread.x_mean
    return np.hstack([np.ones((X.shape[0], 1)), Z]) if fit_intercept else Z


def add_meats(sums, Z, residuals, s, bread, fit_intercept) -> None:
    """Add the rows' Σ s²e²·zzᵀ/(1 − h)^m for m = 0, 1, 2 to ``sums``; ``Z`` are
    their :func:`centred_terms`, ``bread`` the statistics'
    :class:`~tapereg.numerics.statistics.Bread`."""
    whitening = bread.whitening
    if fit_intercept:  # a zero row for z's 1: Z itself stays contiguous (BLAS)
        whitening = np.vstack([np.zeros((1, whitening.shape[1])), whitening])
    leverage = np.einsum("ij,ij->i", *(2 * [Z @ whitening]))
    if fit_intercept:
        leverage += 1 / bread.total_weight
    squared = residuals**2
    if s is not None:
        leverage *= s
        squared *= (s**2)[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        shrink = 1 / (1 - leverage)
    for k in range(squared.shape[1]):
        v = squared[:, k]
        for m in range(_MEATS):  # HC0/HC1, HC2, HC3: (v∘Z)ᵀZ with v = e²/(1 − h)^m
            sums[m, k] += (Z * v[:, None]).T @ Z
            v = v * shrink


def bread_matrix(whitening, total_weight, fit_intercept) -> np.ndarray:
    """(ZᵀSZ)⁺ in centred coordinates: blockdiag(1/Σs, W·Wᵀ)."""
    inner = whitening @ whitening.T
    if not fit_intercept:
        return inner
    d = inner.shape[0]
    out = np.zeros((d + 1, d + 1))
    out[0, 0] = 1 / total_weight
    out[1:, 1:] = inner
    return out


def in_terms(centred, x_mean, fit_intercept) -> np.ndarray:
    """A covariance in centred coordinates as one of the user's terms (the
    intercept b = b_c − x̄ᵀw first)."""
    if not fit_intercept:
        return centred
    to_terms = np.eye(centred.shape[0])
    to_terms[0, 1:] = -x_mean
    return to_terms @ centred @ to_terms.T


def robust_covariances(stats, sums, fit_intercept) -> dict[str, np.ndarray]:
    """HC0–HC3, each (n_targets, p, p) over the terms, from :func:`add_meats`'
    (all workers' rows added) and the statistics' bread."""
    bread = stats.bread
    B = bread_matrix(bread.whitening, bread.total_weight, fit_intercept)
    with np.errstate(divide="ignore", invalid="ignore"):
        hc1 = stats.nobs / stats.df_resid  # n / (n − k), k counting the intercept
        kinds = (("HC0", 0, 1.0), ("HC1", 0, hc1), ("HC2", 1, 1.0), ("HC3", 2, 1.0))
        return {
            name: np.stack(
                [
                    factor * in_terms(B @ meat @ B, bread.x_mean, fit_intercept)
                    for meat in sums[m]
                ]
            )
            for name, m, factor in kinds
        }


def cluster_score_sums(Z, residuals, s, groups):
    """The rows' scores sᵢ·eᵢ·zᵢ summed per label: a DataFrame indexed by label,
    n_targets·p columns (target-major). Add several with :func:`merged_scores`."""
    import pandas as pd

    if s is not None:
        residuals = residuals * s[:, None]
    scores = (residuals[:, :, None] * Z[:, None, :]).reshape(Z.shape[0], -1)
    return pd.DataFrame(scores).groupby(groups).sum()


def merged_scores(parts, n_targets: int, n_terms: int):
    """(labels, sums): the parts' scores added per label, sums (G, n_targets, p)."""
    import pandas as pd

    if not parts:  # a worker without rows
        return np.empty(0, object), np.zeros((0, n_targets, n_terms))
    summed = pd.concat(parts).groupby(level=0).sum()
    return summed.index.to_numpy(), summed.to_numpy().reshape(-1, n_targets, n_terms)


def label_hashes(labels) -> np.ndarray:
    """64-bit hashes (uint64) of cluster labels, the same in every process.

    pandas' SipHash with its fixed key, not Python's salted ``hash``, over a
    canonical text: labels pandas groups together hash alike (1, 1.0, True,
    np.int64(1)), and text stays apart from numbers ("1" is not 1).
    """
    import pandas as pd

    keys = np.array([_canonical(v) for v in np.asarray(labels).tolist()], object)
    return pd.util.hash_array(keys, categorize=False)


def _canonical(value) -> str:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, str):
        return "s" + value
    if isinstance(value, bytes):
        return "b" + value.hex()
    if isinstance(value, int):  # bool too
        return "n" + str(int(value))
    if isinstance(value, float):  # integral floats as their integer
        return "n" + (str(int(value)) if value.is_integer() else repr(value))
    return f"{type(value).__module__}.{type(value).__qualname__}:{value!r}"


def merge_cluster_scores(labels, sums, reducer):
    """:func:`merged_scores`' (labels, sums) of every worker, each cluster's sums
    added across workers (its rows may lie on several): (hashes, sums (G, t, p)).

    Labels travel as :func:`label_hashes`, split into two exact 32-bit halves,
    beside their t·p sums; the rows are padded to the largest G (a first column
    marks real rows) and gathered in one all-reduce, then the sums of one hash
    are added, in hash order, alike on every worker. Two of G distinct labels
    share a hash (and merge) with probability about G²/2⁶⁵: 3e-8 for a million.
    In one process the labels and sums are returned as they are.
    """
    import pandas as pd

    if reducer.count == 1:
        return labels, sums
    n, t, p = sums.shape
    hashes = label_hashes(labels)
    rows = np.zeros((round(reducer.maximum(n)), 3 + t * p))
    rows[:n, 0] = 1  # a real row (padding rows keep 0)
    rows[:n, 1] = hashes >> np.uint64(32)
    rows[:n, 2] = hashes & np.uint64(0xFFFFFFFF)
    rows[:n, 3:] = sums.reshape(n, t * p)
    every = reducer.gather(rows).reshape(-1, 3 + t * p)
    every = every[every[:, 0] == 1]
    high, low = every[:, 1].astype(np.uint64), every[:, 2].astype(np.uint64)
    merged = pd.DataFrame(every[:, 3:]).groupby((high << np.uint64(32)) | low).sum()
    return merged.index.to_numpy(np.uint64), merged.to_numpy().reshape(-1, t, p)


def cluster_covariance(stats, sums, fit_intercept) -> np.ndarray:
    """statsmodels' cluster-robust covariance (``cov_type="cluster"``, its default
    corrections G/(G − 1)·(n − 1)/(n − k), k the number of terms) from
    :func:`merged_scores`' sums: (n_targets, p, p)."""
    bread = stats.bread
    B = bread_matrix(bread.whitening, bread.total_weight, fit_intercept)
    n_groups, n_terms = sums.shape[0], sums.shape[2]
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = n_groups / (n_groups - 1) * (stats.nobs - 1) / (stats.nobs - n_terms)
    return np.stack(
        [
            factor * in_terms(B @ (scores.T @ scores) @ B, bread.x_mean, fit_intercept)
            for scores in sums.transpose(1, 0, 2)
        ]
    )
