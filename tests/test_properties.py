"""Property tests (Hypothesis): invariances of the fit and robustness of the reader.

The regression problems are random but well posed: a seeded NumPy generator (the seed
drawn by Hypothesis) builds X with a random scale and offset per column and a mild
random correlation, and only problems whose standardized X is well conditioned are
kept, so every fit should reach the least-squares optimum without warnings.
"""

from __future__ import annotations

import gzip
import itertools
import json
import re
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, assume, event, given, settings
from hypothesis import strategies as st

from tapereg import LinearRegressor, TaperegError
from tapereg.io.readers import open_table, read_table

FITS = settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
FILES = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

# Gradient descent stops when the loss falls by less than tol=1e-8 (relative) for 5
# epochs: within this much of the optimum's MSE (relative) when the loss's Hessian has
# a condition number (the square of standardized X's) of about 1e2 or less, ...
EXCESS_RTOL = 1e-6
# ... plus this much of var(y) for near-perfect fits (float64 rounding) ...
EXCESS_ATOL = 1e-12
# ... or this much in float32, whose residuals are rounded to ~6e-8 of y: the loss it
# sees is noisy at about 1e-9 of var(y) when the fit is good.
EXCESS_ATOL_FLOAT32 = 3e-9
# Standardized X at most this ill conditioned: momentum (the defaults) needs about
# cond·log(1/tol) epochs, plain gradient descent (engine="data") cond² times as many.
MAX_CONDITION = 30.0
MAX_CONDITION_GD = 8.0


# -- problems ------------------------------------------------------------------------


class Problem:
    """A random regression problem and its exact least-squares solution."""

    def __init__(self, X, Y, weights=None):
        self.X, self.Y = X, Y
        self.weights = np.ones(len(X)) if weights is None else weights
        w = self.weights / self.weights.sum()
        self.x_mean = w @ X
        centred = X - self.x_mean
        self.x_std = np.sqrt(w @ centred**2)
        self.y_var = w @ (Y - w @ Y) ** 2  # per target
        root = np.sqrt(w)[:, None]
        A = root * np.column_stack([X, np.ones(len(X))])
        best, *_ = np.linalg.lstsq(A, root * Y, rcond=None)
        self.coef, self.intercept = best[:-1].T, best[-1]  # (k, d), (k,)
        self.best_mse = self.mse(self.coef, self.intercept)
        R = (root * centred / self.x_std).T @ (root * centred / self.x_std)
        self.lambda_min = float(np.linalg.eigvalsh(R)[0])

    def mse(self, coef, intercept):
        """Per-target (weighted) MSE of coefficients shaped (k, d) and (k,)."""
        residual = self.X @ np.asarray(coef).T + intercept - self.Y
        return self.weights @ residual**2 / self.weights.sum()

    def allowed_excess(self, rtol=EXCESS_RTOL, atol=EXCESS_ATOL):
        """The MSE above the optimum a converged fit may have, per target."""
        return rtol * self.best_mse + atol * self.y_var

    def coef_tolerance(self, excess):
        """How far coefficients (k, d) and intercepts (k,) with MSE excess ``excess``
        (per target) can be from the optimum.

        The excess is ``uᵀ R u + (Δb + x̄·Δβ)²`` with u = Δβ·σ_x and R the correlation
        matrix of X, so ``|Δβ_j| ≤ √(excess/λ_min(R))/σ_j`` and
        ``|Δb| ≤ √excess + Σ_j |x̄_j|·|Δβ_j|``.
        """
        root = np.sqrt(np.asarray(excess))[:, None]
        coef = root / np.sqrt(self.lambda_min) / self.x_std
        intercept = root[:, 0] + coef @ np.abs(self.x_mean)
        return coef, intercept


def as_matrix(coef, intercept, n_targets):
    """A model's coef_/intercept_ as (k, d) and (k,)."""
    return np.reshape(coef, (n_targets, -1)), np.reshape(intercept, (n_targets,))


def make_problem(seed, n, d, k, noise):
    """X (n, d) and Y (n, k), and the condition number of the standardized X."""
    rng = np.random.default_rng(seed)
    mixing = np.eye(d) + 0.3 * rng.standard_normal((d, d))
    scale = 10.0 ** rng.uniform(-2, 2, d)
    offset = scale * rng.uniform(-20, 20, d)
    X = (rng.standard_normal((n, d)) @ mixing) * scale + offset
    centred = X - X.mean(0)
    condition = np.linalg.cond(centred / centred.std(0))
    w = rng.standard_normal((d, k)) / scale[:, None]
    Y = X @ w + rng.uniform(-100, 100, k) + noise * rng.standard_normal((n, k))
    return X, Y, condition


class Drawn(tuple):
    """(X, Y), shown in failures as the arguments of make_problem that rebuild it."""

    def __new__(cls, X, Y, arguments):
        drawn = super().__new__(cls, (X, Y))
        drawn.arguments = arguments
        return drawn

    def __repr__(self):
        return f"make_problem{self.arguments}"


@st.composite
def problems(draw, max_targets=2, noises=(1e-2, 1.0), max_condition=MAX_CONDITION):
    arguments = (
        draw(st.integers(0, 2**32 - 1), label="seed"),
        draw(st.integers(20, 200), label="n_samples"),
        draw(st.integers(1, 6), label="n_features"),
        draw(st.integers(1, max_targets), label="n_targets"),
        draw(st.sampled_from(noises), label="noise"),
    )
    X, Y, condition = make_problem(*arguments)
    assume(condition < max_condition)
    return Drawn(X, Y, arguments)


def targets_like(Y, k):
    """y as 1-D for one target, as sklearn users pass it."""
    return Y[:, 0] if k == 1 else Y


# -- 1. the defaults reach the exact solution ----------------------------------------

CONFIGURATIONS = [  # parameters, the worst conditioning, the absolute excess allowed
    ({}, MAX_CONDITION, EXCESS_ATOL),
    ({"dtype": "float64"}, MAX_CONDITION, EXCESS_ATOL),
    ({"engine": "data"}, MAX_CONDITION_GD, EXCESS_ATOL_FLOAT32),
    ({"engine": "data", "dtype": "float64"}, MAX_CONDITION_GD, EXCESS_ATOL),
]


def check_reaches_the_optimum(params, X, Y, atol=EXCESS_ATOL):
    k = Y.shape[1]
    exact = Problem(X, Y)
    model = LinearRegressor(**params).fit(X, targets_like(Y, k))
    coef, intercept = as_matrix(model.coef_, model.intercept_, k)
    excess = exact.mse(coef, intercept) - exact.best_mse
    allowed = exact.allowed_excess(atol=atol)
    assert np.all(excess <= allowed), (
        f"MSE above the optimum: {excess / exact.best_mse} (relative), "
        f"{excess / exact.y_var} of var(y) (the optimum: "
        f"{exact.best_mse / exact.y_var}); {model.n_iter_} epochs"
    )
    coef_tol, intercept_tol = exact.coef_tolerance(allowed)
    np.testing.assert_array_less(np.abs(coef - exact.coef), 1.01 * coef_tol)
    np.testing.assert_array_less(
        np.abs(intercept - exact.intercept), 1.01 * intercept_tol
    )


@pytest.mark.parametrize(
    "params, max_condition, atol",
    CONFIGURATIONS,
    ids=["defaults", "float64", "data", "data-float64"],
)
@FITS
@given(data=st.data())
def test_fit_reaches_the_least_squares_optimum(params, max_condition, atol, data):
    X, Y = data.draw(problems(max_condition=max_condition), label="problem")
    check_reaches_the_optimum(params, X, Y, atol)


@pytest.mark.parametrize(
    "params", [{}, {"engine": "data", "dtype": "float64"}], ids=["defaults", "data"]
)
@settings(
    FITS,
    max_examples=10,
    phases=[Phase.explicit, Phase.generate],
    report_multiple_bugs=False,
)
@given(data=st.data())
def test_near_perfect_fit_reaches_the_least_squares_optimum(params, data):
    # Noise 1e-4 of the signal: R² ≈ 1 - 1e-9, as in many physical measurements.
    X, Y = data.draw(
        problems(noises=(1e-4,), max_condition=MAX_CONDITION_GD), label="problem"
    )
    check_reaches_the_optimum(params, X, Y)


# -- 2. column order -----------------------------------------------------------------


@FITS
@given(problem=problems(), data=st.data())
def test_permuting_columns_permutes_the_coefficients(problem, data):
    X, Y = problem
    k, d = Y.shape[1], X.shape[1]
    permutation = np.asarray(data.draw(st.permutations(range(d)), label="permutation"))
    y = targets_like(Y, k)
    model = LinearRegressor(dtype="float64").fit(X, y)
    permuted = LinearRegressor(dtype="float64").fit(X[:, permutation], y)

    coef, intercept = as_matrix(model.coef_, model.intercept_, k)
    coef_p, intercept_p = as_matrix(permuted.coef_, permuted.intercept_, k)
    coef_tol, intercept_tol = Problem(X, Y).coef_tolerance(
        Problem(X, Y).allowed_excess()
    )
    np.testing.assert_array_less(
        np.abs(coef_p - coef[:, permutation]), 2 * coef_tol[:, permutation]
    )
    np.testing.assert_array_less(np.abs(intercept_p - intercept), 2 * intercept_tol)
    np.testing.assert_allclose(
        permuted.predict(X[:, permutation]),
        model.predict(X),
        rtol=1e-6,
        atol=1e-6 * float(np.max(np.std(Y, axis=0))),
    )


# -- 3. units of a feature -----------------------------------------------------------


@FITS
@given(
    problem=problems(),
    data=st.data(),
    exponent=st.floats(-3, 3),
    negative=st.booleans(),
)
def test_scaling_a_feature_divides_its_coefficient(problem, data, exponent, negative):
    X, Y = problem
    k, d = Y.shape[1], X.shape[1]
    j = data.draw(st.integers(0, d - 1), label="column")
    c = (-1.0 if negative else 1.0) * 10.0**exponent
    scaled = X.copy()
    scaled[:, j] *= c
    y = targets_like(Y, k)
    model = LinearRegressor(dtype="float64").fit(X, y)
    rescaled = LinearRegressor(dtype="float64").fit(scaled, y)

    coef, intercept = as_matrix(model.coef_, model.intercept_, k)
    coef_s, intercept_s = as_matrix(rescaled.coef_, rescaled.intercept_, k)
    exact = Problem(X, Y)
    coef_tol, intercept_tol = exact.coef_tolerance(exact.allowed_excess())
    # In X's units, the rescaled model's coefficient of column j is c·coef_s[:, j].
    back = coef_s.copy()
    back[:, j] *= c
    np.testing.assert_array_less(np.abs(back - coef), 2 * coef_tol)
    np.testing.assert_allclose(back, coef, rtol=1e-6, atol=0.0)
    np.testing.assert_array_less(np.abs(intercept_s - intercept), 2 * intercept_tol)
    np.testing.assert_allclose(
        rescaled.predict(scaled),
        model.predict(X),
        rtol=1e-6,
        atol=1e-6 * float(np.max(np.std(Y, axis=0))),
    )


# -- 4. repeated rows are integer weights --------------------------------------------


@pytest.mark.parametrize("solver", ["exact", "gd"])
@FITS
@given(problem=problems(), data=st.data())
def test_repeated_rows_equal_integer_sample_weights(solver, problem, data):
    X, Y = problem
    n, k = Y.shape
    counts = np.asarray(
        data.draw(st.lists(st.integers(1, 4), min_size=n, max_size=n), label="counts")
    )
    y = targets_like(Y, k)
    repeated = LinearRegressor(solver=solver).fit(
        np.repeat(X, counts, axis=0), np.repeat(y, counts, axis=0)
    )
    weighted = LinearRegressor(solver=solver).fit(
        X, y, sample_weight=counts.astype(float)
    )

    exact = Problem(X, Y, counts.astype(float))
    if solver == "exact":  # both are float64 solutions of the same problem
        excess = exact.allowed_excess(rtol=1e-20, atol=1e-20)
    else:  # each stops within the allowed excess of the optimum
        excess = 4 * exact.allowed_excess()
    coef_tol, intercept_tol = exact.coef_tolerance(excess)
    coef_r, intercept_r = as_matrix(repeated.coef_, repeated.intercept_, k)
    coef_w, intercept_w = as_matrix(weighted.coef_, weighted.intercept_, k)
    np.testing.assert_array_less(np.abs(coef_w - coef_r), coef_tol)
    np.testing.assert_array_less(np.abs(intercept_w - intercept_r), intercept_tol)
    if solver == "exact":
        np.testing.assert_allclose(coef_w, coef_r, rtol=1e-8, atol=0.0)
        np.testing.assert_allclose(coef_w, exact.coef, rtol=1e-8, atol=0.0)
        np.testing.assert_allclose(intercept_w, intercept_r, rtol=1e-8, atol=0.0)


# -- 5. the reader never fails with anything but a TaperegError ----------------------


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    """A folder for the files the examples write (tmp_path is per test, not per
    example); each example names its file afresh."""
    folder = tmp_path_factory.mktemp("fuzzed")
    names = itertools.count()
    return lambda suffix: folder / f"f{next(names)}{suffix}"


CELLS = st.one_of(
    st.integers(-(10**20), 10**20).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(
        [
            *("", "nan", "NaN", "-", ".", "e", "1e", "-e", "1e400", "-1e-400"),
            *("inf", "-inf", '"', '""', '"1"', '"1,2"', " 1", "1 ", "0x10", "true"),
            *("1.5.2", "NA", "null", "N/A", "2020-01-01", "12:00:00", "é", "\t", "\r"),
        ]
    ),
    st.text(alphabet="0123456789,.-+e \"'nai\r", max_size=8),
)
NAMES = st.one_of(
    st.sampled_from(["y", "y", "x", "a", "b", "", '"y"', "Unnamed: 0", "1", "nan"]),
    st.text(alphabet="abxy01 ,\"'", max_size=4),
)
LINE_ENDS = st.sampled_from(["\n", "\r\n"])


@st.composite
def csv_texts(draw):
    """A header of random names (often y among them) and lines of random cells."""
    header = draw(st.lists(NAMES, min_size=0, max_size=5), label="header")
    width = max(1, len(header))
    ragged = draw(st.booleans(), label="ragged")
    lines = draw(
        st.lists(
            st.lists(
                CELLS,
                min_size=0 if ragged else width,
                max_size=width + 1 if ragged else width,
            ),
            max_size=12,
        ),
        label="lines",
    )
    end = draw(st.one_of(LINE_ENDS, st.just("\r")), label="line end")
    text = end.join(",".join(line) for line in [header, *lines])
    text += draw(st.sampled_from(["", end, end * 2, " "]), label="tail")
    return draw(st.sampled_from(["", "\ufeff"])) + text


NUMBERS = st.one_of(
    st.integers(-(10**25), 10**25).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.tuples(st.floats(-1e300, 1e300), st.integers(0, 17)).map(
        lambda value: f"{value[0]:.{value[1]}e}"
    ),
    st.tuples(st.floats(-1e6, 1e6), st.integers(0, 8)).map(
        lambda value: f"{value[0]:.{value[1]}f}"
    ),
)


NAME = st.tuples(
    st.sampled_from("abcxz_é"), st.text(alphabet="abcxz_0123456789 é", max_size=5)
).map(lambda parts: (parts[0] + parts[1]).rstrip())


@st.composite
def numeric_csvs(draw):
    """A well-formed CSV file of numbers: (text, X, y) with what it holds, or, with
    one cell spoiled, (text, None, None)."""
    names = draw(st.lists(NAME, min_size=1, max_size=4, unique=True), label="names")
    names.insert(draw(st.integers(0, len(names)), label="target position"), "y")
    n = draw(st.integers(1, 25), label="n_rows")
    cells = draw(
        st.lists(
            st.lists(NUMBERS, min_size=len(names), max_size=len(names)),
            min_size=n,
            max_size=n,
        ),
        label="cells",
    )
    values = np.array([[float(cell) for cell in row] for row in cells])
    spoiled = draw(st.booleans(), label="spoiled")
    if spoiled:
        row = draw(st.integers(0, n - 1), label="spoiled row")
        column = draw(st.integers(0, len(names) - 1), label="spoiled column")
        cells[row][column] = draw(CELLS, label="spoiled cell")
    end = draw(LINE_ENDS, label="line end")
    lines = [",".join(names), *(",".join(row) for row in cells)]
    text = end.join(lines) + draw(st.sampled_from(["", end, end * 3]), label="tail")
    text = draw(st.sampled_from(["", "\ufeff"]), label="BOM") + text
    if spoiled:
        return text, None, None
    target = names.index("y")
    X = np.delete(values, target, axis=1)
    return text, X, values[:, [target]]


CHARACTER_SOUP = st.text(alphabet="0123456789,\n\r\"'-.e naxy", max_size=200).map(
    lambda text: "x,y\n" + text
)


def check_reads_or_refuses(path, target="y"):
    """read_table either gives finite float64 arrays or raises a TaperegError; so
    does the stream, read whole, in tiny blocks and block by block, with the same
    result. Returns read_table's table, or None."""
    results = []
    for read in (
        lambda: read_table([path], target),
        lambda: open_table([path], target).read(),
        lambda: open_table([path], target, block_bytes=7).read(),
        lambda: _concatenated_blocks(open_table(path, target, block_bytes=16)),
    ):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            try:
                table = read()
            except TaperegError as error:
                results.append(error)
                continue
        X, y = table.X, table.y
        assert X.dtype == np.float64 and y.dtype == np.float64
        assert X.ndim == 2 and y.ndim == 2
        assert X.shape[0] == y.shape[0] >= 1
        assert X.shape[1] == len(table.feature_names) >= 1
        assert y.shape[1] == len(table.target_names) == 1
        assert np.all(np.isfinite(X)) and np.all(np.isfinite(y))
        results.append(table)
    first = results[0]
    if isinstance(first, TaperegError):
        event("refused", _gist(first))
    else:
        event("read")
    for other in results[1:]:
        if isinstance(first, TaperegError):
            assert isinstance(other, TaperegError), (first, other)
        else:
            assert not isinstance(other, TaperegError), (first, other)
            np.testing.assert_array_equal(other.X, first.X)
            np.testing.assert_array_equal(other.y, first.y)
    return None if isinstance(first, TaperegError) else first


def _gist(error):
    """An error's message without its path, values and numbers (for statistics)."""
    message = str(error).split(": ", 1)[-1]
    return re.sub(r"\(.*?\)|'.*?'|\d+", "_", message)[:40]


class _Blocks:
    def __init__(self, X, y, feature_names, target_names):
        self.X, self.y = X, y
        self.feature_names, self.target_names = feature_names, target_names


def _concatenated_blocks(stream):
    """The stream's blocks, iterated, as one table (what fit_stream sees)."""
    blocks = list(stream)
    if not blocks:
        raise stream.no_rows_error()
    assert all(X.shape[0] >= 1 for X, _ in blocks)
    X = np.concatenate([X for X, _ in blocks])
    Y = np.concatenate([Y for _, Y in blocks])
    return _Blocks(X, Y, stream.feature_names, stream.target_names)


@FILES
@given(content=st.binary(max_size=300), prefix=st.sampled_from([b"", b"x,y\n"]))
def test_random_bytes_in_a_csv_file(scratch, content, prefix):
    path = scratch(".csv")
    path.write_bytes(prefix + content)
    check_reads_or_refuses(path)


@FILES
@given(text=csv_texts())
def test_random_csv_text(scratch, text):
    path = scratch(".csv")
    path.write_bytes(text.encode())
    check_reads_or_refuses(path)


@FILES
@given(text=CHARACTER_SOUP)
def test_random_characters_after_a_header(scratch, text):
    path = scratch(".csv")
    path.write_bytes(text.encode())
    check_reads_or_refuses(path)


@settings(FILES, max_examples=150)
@given(csv=numeric_csvs(), compress=st.booleans())
def test_numbers_are_read_exactly(scratch, csv, compress):
    text, X, y = csv
    path = scratch(".csv.gz" if compress else ".csv")
    path.write_bytes(gzip.compress(text.encode()) if compress else text.encode())
    table = check_reads_or_refuses(path)
    if X is not None:  # no cell spoiled: every reader gives exactly these numbers
        assert table is not None
        np.testing.assert_array_equal(table.X, X)
        np.testing.assert_array_equal(table.y, y)


@FILES
@given(text=csv_texts(), content=st.binary(max_size=200), compress=st.booleans())
def test_random_gzip_files(scratch, text, content, compress):
    path = scratch(".csv.gz")
    path.write_bytes(gzip.compress(text.encode()) if compress else content)
    check_reads_or_refuses(path)


@FILES
@given(
    content=st.binary(max_size=300),
    magic=st.sampled_from([b"", b"PAR1", b"\x1f\x8b"]),
    suffix=st.sampled_from([".parquet", ".csv", ".pq"]),
)
def test_random_bytes_with_magic_numbers(scratch, content, magic, suffix):
    path = scratch(suffix)
    path.write_bytes(magic + content + magic)
    check_reads_or_refuses(path)


# Arrow types a Parquet column may have, and values for each.
PARQUET_COLUMNS = {
    "int64": ("int64", st.integers(-(2**63), 2**63 - 1)),
    "int8": ("int8", st.integers(-128, 127)),
    "uint64": ("uint64", st.integers(0, 2**64 - 1)),
    "float64": ("float64", st.floats()),
    "float32": ("float32", st.floats(width=32)),
    "float16": ("float16", st.floats(width=16).map(np.float16)),
    "bool": ("bool", st.booleans()),
    "string": ("string", CELLS),
    "date": ("date32", st.dates()),
    "decimal": ("decimal128(12, 2)", st.decimals(-1e6, 1e6, places=2)),
    "list": ("list<item: int64>", st.lists(st.integers(-5, 5), max_size=2)),
}
NUMERIC_PARQUET = ("int64", "int8", "uint64", "float64", "float32", "float16", "bool")


@st.composite
def parquet_tables(draw):
    """A pyarrow table of random columns (usually with a y) and, when every value of
    every column is a finite number, the X and y it holds."""
    import pyarrow as pa

    n = draw(st.integers(0, 12), label="n_rows")
    kinds = draw(
        st.lists(st.sampled_from(sorted(PARQUET_COLUMNS)), min_size=2, max_size=4),
        label="column types",
    )
    names = [f"x{i}" for i in range(len(kinds))]
    if draw(st.sampled_from([True] * 9 + [False]), label="has a target"):
        names[draw(st.integers(0, len(names) - 1), label="target position")] = "y"
    columns, numbers = [], True
    for kind in kinds:
        type_name, values = PARQUET_COLUMNS[kind]
        if draw(st.sampled_from([False] * 3 + [True]), label="with nulls"):
            values = st.none() | values
        cells = draw(st.lists(values, min_size=n, max_size=n), label=kind)
        if kind == "decimal":
            arrow_type = pa.decimal128(12, 2)
        elif kind == "list":
            arrow_type = pa.list_(pa.int64())
        elif kind == "date":
            arrow_type = pa.date32()
        else:
            arrow_type = pa.type_for_alias(type_name)
        columns.append(pa.array(cells, type=arrow_type))
        numbers = numbers and kind in NUMERIC_PARQUET and None not in cells
    table = pa.table(columns, names=names)
    expected = None
    if numbers and n and "y" in names and len(names) > 1:
        values = np.column_stack(
            [
                column.to_numpy(zero_copy_only=False).astype(np.float64)
                for column in columns
            ]
        )
        if np.all(np.isfinite(values)):
            target = names.index("y")
            expected = np.delete(values, target, axis=1), values[:, [target]]
    return table, expected


def parquet_bytes(table, row_group_size):
    import pyarrow as pa
    import pyarrow.parquet as pq

    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, row_group_size=row_group_size)
    return sink.getvalue().to_pybytes()


@FILES
@given(
    drawn=parquet_tables(),
    row_group_size=st.integers(1, 5),
    suffix=st.sampled_from([".parquet", ".csv"]),
)
def test_parquet_columns_are_read_exactly_or_refused(
    scratch, drawn, row_group_size, suffix
):
    table, expected = drawn
    path = scratch(suffix)  # a Parquet file is known by its magic bytes too
    path.write_bytes(parquet_bytes(table, row_group_size))
    read = check_reads_or_refuses(path)
    if expected is not None:
        assert read is not None
        np.testing.assert_array_equal(read.X, expected[0])
        np.testing.assert_array_equal(read.y, expected[1])


@FILES
@given(drawn=parquet_tables(), data=st.data())
def test_damaged_parquet_files(scratch, drawn, data):
    table, _ = drawn
    content = bytearray(parquet_bytes(table, data.draw(st.integers(1, 5))))
    if data.draw(st.booleans(), label="truncate"):
        content = content[: data.draw(st.integers(0, len(content) - 1), label="to")]
    else:  # flip some bits; the footer (at the end) is where they do the most harm
        for _ in range(data.draw(st.integers(1, 3), label="flips")):
            at = data.draw(st.integers(0, len(content) - 1), label="at")
            content[at] ^= data.draw(st.integers(1, 255), label="bits")
    path = scratch(".parquet")
    path.write_bytes(bytes(content))
    check_reads_or_refuses(path)


PANDAS_METADATA = st.one_of(
    st.binary(max_size=30),
    st.text(alphabet='{}[]":,0123456789 abcdefghijklmnopqrstuvwxyz_', max_size=40),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=5),
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(
                st.sampled_from(["index_columns", "columns", "x0", "y"]),
                inner,
                max_size=3,
            )
        ),
        max_leaves=6,
    ).map(lambda value: json.dumps(value).encode()),
)


@settings(
    FILES,
    max_examples=50,
    phases=[Phase.explicit, Phase.generate],
    report_multiple_bugs=False,
)
@given(metadata=PANDAS_METADATA)
def test_parquet_files_with_any_pandas_metadata(scratch, metadata):
    import pyarrow as pa

    table = pa.table({"x": [1.0, 2.0, 3.0], "y": [2.0, 4.0, 7.0]})
    table = table.replace_schema_metadata({b"pandas": metadata})
    path = scratch(".parquet")
    path.write_bytes(parquet_bytes(table, 2))
    check_reads_or_refuses(path)
