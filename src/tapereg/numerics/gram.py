"""The gram engine's moments: one float64 pass, then every epoch costs O(d²).

For the mean squared error the full-batch loss and gradient depend on the data only
through the weighted moments of ``[X, y, 1]``. With ``A = [(x − μ)/σ, (y − ν)/σ_y, 1]``
(the standardization training uses) and weights ``s``, ``M = AᵀSA / Σs``; its blocks
are everything the loss needs:

    mse_k(w, b) = yy_k − 2·w_kᵀxy_k − 2·b_k·ȳ_k + w_kᵀ·xx·w_k + 2·b_k·w_kᵀx̄ + b_k²

NumPy only; the loss itself is written in TensorFlow in ``core/losses.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .moments import ZERO_CURVATURE, Moments, data_moments

# Above this many features the O(d²) moments and O(d³) spectrum stop being cheap
# next to streaming the data; engine="auto" then uses the data engine.
GRAM_MAX_FEATURES = 1000


@dataclass(frozen=True)
class Gram:
    """Second moments of ``[X, y, 1]`` in training units, float64, per Σs.

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


def gram_from_moments(moments: Moments, scaling) -> Gram:
    """The gram in the units ``scaling`` trains in, from the moments."""
    d = scaling.x_mean.shape[0]
    shift = np.concatenate([scaling.x_mean, scaling.y_mean])
    scale = np.concatenate([scaling.x_scale, scaling.y_scale])
    offset = moments.mean - shift
    # Second moment about the training shift, in training units.
    second = (moments.covariance + np.outer(offset, offset)) / np.outer(scale, scale)
    return Gram(
        xx=second[:d, :d],
        xy=second[:d, d:],
        x_mean=offset[:d] / scale[:d],
        y_mean=offset[d:] / scale[d:],
        yy=np.diag(second[d:, d:]).copy(),
    )


def gram_of_data(
    X: np.ndarray, Y: np.ndarray, sample_weight: np.ndarray | None, scaling
) -> Gram:
    """The gram of (X, Y) in the units ``scaling`` trains in (one pass)."""
    return gram_from_moments(data_moments(X, Y, sample_weight), scaling)


def hessian_spectrum(
    gram: Gram,
    *,
    fit_intercept: bool,
    n_targets: int,
    l2: np.ndarray | None = None,
) -> tuple[float, float]:
    """Largest and smallest nonzero curvature (L, μ) of the loss, from the moments.

    The Hessian of target k's loss (divided by t, as the mean over targets is) is
    ``2/t·([[xx, x̄], [x̄ᵀ, 1]] + diag(l2_k, 0))``; without an intercept just the xx
    block. With an L2 penalty the extremes over targets bound every block.
    """
    d = gram.xx.shape[0]
    hessian = np.empty((d + 1, d + 1))
    hessian[:d, :d] = gram.xx
    hessian[:d, d] = hessian[d, :d] = gram.x_mean
    hessian[d, d] = 1.0
    if not fit_intercept:
        hessian = hessian[:d, :d]
    high, low = np.zeros(hessian.shape[0]), np.zeros(hessian.shape[0])
    if l2 is not None:
        high[:d], low[:d] = l2.max(axis=1), l2.min(axis=1)
    largest = np.linalg.eigvalsh(hessian + np.diag(high))[-1]
    # Directions of zero curvature (a constant column, exactly collinear columns)
    # never see a gradient, so iterates from 0 stay out of them: the rate is set by
    # the smallest curvature of the rest. Counting the zeros would make the tuned
    # momentum ≈ 1, and the largest mode would then never settle.
    eigenvalues = np.linalg.eigvalsh(hessian + np.diag(low))
    curved = eigenvalues[eigenvalues > ZERO_CURVATURE * max(largest, 0.0)]
    smallest = curved[0] if curved.size else 0.0
    scale = 2.0 / n_targets
    return scale * float(largest), scale * max(float(smallest), 0.0)
