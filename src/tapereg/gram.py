"""The gram engine's statistics: one float64 pass, then every epoch costs O(d²).

For the mean squared error the full-batch loss and gradient depend on the data only
through the weighted moments of ``[X, y, 1]``. With ``A = [(x − μ)/σ, (y − ν)/σ_y, 1]``
(the standardization training uses) and weights ``s``, one chunked pass accumulates
``M = AᵀSA / Σs``; its blocks are everything the loss needs:

    mse_k(w, b) = yy_k − 2·w_kᵀxy_k − 2·b_k·ȳ_k + w_kᵀ·xx·w_k + 2·b_k·w_kᵀx̄ + b_k²

NumPy only; the loss itself is written in TensorFlow in ``losses.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .preprocessing import _chunks

# Above this many features the O(d²) statistics and O(d³) spectrum stop being cheap
# next to streaming the data; engine="auto" then uses the data engine.
GRAM_MAX_FEATURES = 1000


@dataclass(frozen=True)
class GramStatistics:
    """Weighted second moments of the training data, float64, divided by Σs.

    Attributes
    ----------
    xx : (n_features, n_features)  ·  xy : (n_features, n_targets)
    x_mean : (n_features,)  ·  y_mean : (n_targets,)  ·  yy : (n_targets,)
    """

    xx: np.ndarray
    xy: np.ndarray
    x_mean: np.ndarray
    y_mean: np.ndarray
    yy: np.ndarray


def gram_statistics(
    X: np.ndarray, Y: np.ndarray, sample_weight: np.ndarray | None, scaling
) -> GramStatistics:
    """One chunked float64 pass over (X, Y) in the units ``scaling`` trains in.

    ``scaling`` is a :class:`~tapereg.preprocessing.Standardization` (the identity for
    raw training). Subtracting its means before squaring keeps the moments accurate
    for data with large offsets.
    """
    d, t = X.shape[1], Y.shape[1]
    moments = np.zeros((d + t + 1, d + t + 1))
    total = 0.0
    for rows in _chunks(X.shape[0]):
        block = np.empty((rows.stop - rows.start, d + t + 1))
        block[:, :d] = (X[rows] - scaling.x_mean) / scaling.x_scale
        block[:, d : d + t] = (Y[rows] - scaling.y_mean) / scaling.y_scale
        block[:, -1] = 1.0
        if sample_weight is None:
            moments += block.T @ block
            total += block.shape[0]
        else:
            moments += block.T @ (sample_weight[rows, None] * block)
            total += float(np.sum(sample_weight[rows]))
    moments /= total
    return GramStatistics(
        xx=moments[:d, :d],
        xy=moments[:d, d : d + t],
        x_mean=moments[:d, -1],
        y_mean=moments[d : d + t, -1],
        yy=np.diag(moments[d : d + t, d : d + t]).copy(),
    )


def hessian_spectrum(
    statistics: GramStatistics,
    *,
    fit_intercept: bool,
    n_targets: int,
    l2: np.ndarray | None = None,
) -> tuple[float, float]:
    """Largest and smallest curvature (L, μ) of the loss, exactly, from the moments.

    The Hessian of target k's loss (divided by t, as the mean over targets is) is
    ``2/t·([[xx, x̄], [x̄ᵀ, 1]] + diag(l2_k, 0))``; without an intercept just the xx
    block. With an L2 penalty the extremes over targets bound every block.
    """
    d = statistics.xx.shape[0]
    hessian = np.empty((d + 1, d + 1))
    hessian[:d, :d] = statistics.xx
    hessian[:d, d] = hessian[d, :d] = statistics.x_mean
    hessian[d, d] = 1.0
    if not fit_intercept:
        hessian = hessian[:d, :d]
    high, low = np.zeros(hessian.shape[0]), np.zeros(hessian.shape[0])
    if l2 is not None:
        high[:d], low[:d] = l2.max(axis=1), l2.min(axis=1)
    largest = np.linalg.eigvalsh(hessian + np.diag(high))[-1]
    smallest = np.linalg.eigvalsh(hessian + np.diag(low))[0]
    scale = 2.0 / n_targets
    return scale * float(largest), scale * max(float(smallest), 0.0)
