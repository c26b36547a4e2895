import numpy as np
import pytest

from tapereg.numerics.stepsize import auto_lipschitz, lipschitz_constant


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
def test_lipschitz_constant_matches_the_largest_eigenvalue(fit_intercept, weighted):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 4)) * [1, 2, 3, 4] + 1
    s = rng.uniform(0.5, 2, 300) if weighted else None
    A = np.column_stack([X, np.ones(300)]) if fit_intercept else X
    S = np.ones(300) if s is None else s
    expected = 2 * np.linalg.eigvalsh(A.T @ (S[:, None] * A))[-1] / S.sum()
    got = lipschitz_constant(X, s, fit_intercept=fit_intercept, rtol=1e-10)
    assert got == pytest.approx(expected, rel=1e-6)
    assert lipschitz_constant(X, s, fit_intercept=fit_intercept, n_targets=2) == (
        pytest.approx(expected / 2, rel=1e-3)
    )


def test_auto_lipschitz_adds_minibatch_noise_and_the_l2_curvature():
    X = np.random.default_rng(1).standard_normal((100, 2))
    common = dict(fit_intercept=True, n_targets=1)
    full = auto_lipschitz(X, None, batch_size=None, **common)
    assert full == pytest.approx(lipschitz_constant(X), rel=1e-12)
    # A smaller batch is noisier: its constant, hence 1/L, is more conservative.
    assert auto_lipschitz(X, None, batch_size=4, **common) > full
    assert auto_lipschitz(X, None, batch_size=None, l2_max=0.5, **common) == (
        pytest.approx(full + 1.0)
    )
