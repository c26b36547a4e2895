import numpy as np
import pytest

from tapereg.stepsize import auto_learning_rate, lipschitz_constant


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


def test_auto_step_for_adam_is_fixed_and_gd_uses_one_over_l():
    X = np.random.default_rng(1).standard_normal((100, 2))
    common = dict(fit_intercept=True, n_targets=1, batch_size=None)
    assert auto_learning_rate(X, None, optimizer="adam", **common) == 0.01
    gd = auto_learning_rate(X, None, optimizer="gd", **common)
    assert gd == pytest.approx(1 / lipschitz_constant(X), rel=1e-3)
    # A smaller batch is noisier and gets a smaller step.
    small = auto_learning_rate(
        X, None, optimizer="gd", fit_intercept=True, n_targets=1, batch_size=4
    )
    assert small < gd
