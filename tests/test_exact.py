import numpy as np
import pytest
from conftest import correlated_problem

from tapereg.numerics.exact import solve_least_squares


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("n_targets", [1, 3])
def test_matches_lstsq(fit_intercept, n_targets):
    X, y, _ = correlated_problem(3000, 6, n_targets, seed=2)
    A = np.column_stack([X, np.ones(len(X))]) if fit_intercept else X
    expected, *_ = np.linalg.lstsq(A, y, rcond=None)
    solution = solve_least_squares(X, y, fit_intercept=fit_intercept)
    np.testing.assert_allclose(solution.coef, expected[:6], rtol=1e-9)
    if fit_intercept:
        np.testing.assert_allclose(solution.intercept, expected[6], rtol=1e-9)
    assert solution.rank == 6 and solution.collinear == ()


def test_many_chunks_give_the_same_answer_as_one(monkeypatch):
    X, y, _ = correlated_problem(5000, 4, 1, seed=3)
    one = solve_least_squares(X, y)
    monkeypatch.setattr(
        "tapereg.numerics.arrays.chunks",  # row_blocks cuts with it
        lambda n, width=1: (slice(s, min(s + 333, n)) for s in range(0, n, 333)),
    )
    many = solve_least_squares(X, y)
    np.testing.assert_allclose(many.coef, one.coef, rtol=1e-11)


def test_integer_weights_equal_repeated_rows():
    X, y, _ = correlated_problem(200, 3, 1, seed=4)
    counts = np.random.default_rng(0).integers(0, 4, 200)
    weighted = solve_least_squares(X, y, counts.astype(float))
    repeated = solve_least_squares(np.repeat(X, counts, 0), np.repeat(y, counts, 0))
    np.testing.assert_allclose(weighted.coef, repeated.coef, rtol=1e-9)
    np.testing.assert_allclose(weighted.intercept, repeated.intercept, rtol=1e-9)


def test_rank_deficient_gives_the_minimum_norm_solution_and_names_columns():
    rng = np.random.default_rng(5)
    X = rng.standard_normal((100, 3)) * [1, 100, 1]
    X = np.column_stack([X, X[:, 0] + X[:, 2]])  # column 3 = column 0 + column 2
    y = (X @ [1.0, 0.02, -1.0, 0.5] + 0.1 * rng.standard_normal(100))[:, None]
    solution = solve_least_squares(X, y, fit_intercept=False)
    expected = np.linalg.pinv(X) @ y
    assert solution.rank == 3
    assert solution.collinear == (0, 2, 3)
    np.testing.assert_allclose(solution.coef, expected, rtol=1e-8, atol=1e-10)


def test_fewer_rows_than_columns_still_solves():
    rng = np.random.default_rng(6)
    X, y = rng.standard_normal((3, 5)), rng.standard_normal((3, 1))
    solution = solve_least_squares(X, y, fit_intercept=False)
    np.testing.assert_allclose(X @ solution.coef, y, atol=1e-10)
    np.testing.assert_allclose(solution.coef, np.linalg.pinv(X) @ y, atol=1e-10)
