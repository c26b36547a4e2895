"""Data bigger than memory: files read a block at a time, fits on streams of blocks."""

import gzip
import json

import numpy as np
import pandas as pd
import pytest
from conftest import correlated_problem

from tapereg import LinearRegressor
from tapereg.cli import main
from tapereg.errors import DataError
from tapereg.io.readers import open_table, read_table
from tapereg.runtime.row_cache import RowCache


class Blocks:
    """Arrays served as a re-iterable stream of row blocks."""

    def __init__(self, X, Y, sample_weight=None, rows=777):
        self.parts = [
            (X[i : i + rows], Y[i : i + rows])
            + (() if sample_weight is None else (sample_weight[i : i + rows],))
            for i in range(0, X.shape[0], rows)
        ]

    def __iter__(self):
        return iter(self.parts)


@pytest.fixture
def frame():
    X, y, _ = correlated_problem(5003, 4, seed=3)
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    frame["y"] = y
    return frame


def test_small_blocks_read_the_same_rows_as_one_read(tmp_path, frame):
    csv = tmp_path / "part1.csv"
    frame.iloc[:3000].to_csv(csv, index=False)
    gz = tmp_path / "part2.csv.gz"
    with gzip.open(gz, "wt") as handle:
        frame.iloc[3000:4000].to_csv(handle, index=False)
    parquet = tmp_path / "part3.parquet"
    frame.iloc[4000:].to_parquet(parquet)
    files = [csv, gz, parquet]
    stream = open_table(files, "y", block_bytes=4096)
    blocks = list(stream)
    assert len(blocks) > 20  # really read in pieces
    X = np.concatenate([b[0] for b in blocks])
    Y = np.concatenate([b[1] for b in blocks])
    np.testing.assert_array_equal(X, frame[["a", "b", "c", "d"]].to_numpy())
    np.testing.assert_array_equal(Y[:, 0], frame["y"].to_numpy())
    np.testing.assert_array_equal(X, read_table(files, "y").X)


def test_a_bad_cell_deep_in_a_file_names_its_row(tmp_path, frame):
    frame = frame.astype(object)
    frame.loc[4321, "c"] = "oops"
    path = tmp_path / "bad.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(DataError, match=r"bad.csv: column 'c', row 4322: 'oops'"):
        list(open_table(path, "y", block_bytes=4096))


def test_row_cache_gives_back_every_row_in_blocks(tmp_path):
    rows = np.arange(10 * 3, dtype=np.float32).reshape(10, 3)
    with RowCache(3, np.float32, directory=tmp_path, block_rows=4) as cache:
        for part in (rows[:3], rows[3:9], rows[9:]):
            cache.write(part)
        cache.finish()
        blocks = [b.numpy() for b in cache.blocks(lambda r: r)]
    assert [len(b) for b in blocks] == [4, 4, 2]
    np.testing.assert_array_equal(np.concatenate(blocks), rows)
    assert list(tmp_path.iterdir()) == []  # the cache is removed


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"solver": "exact"},
        {"engine": "data", "dtype": "float64", "optimizer": "gd"},
        {"engine": "data", "dtype": "float64", "alpha": 0.05, "l1_ratio": 0.5},
        {"engine": "data", "dtype": "float64", "optimizer": "momentum"},
    ],
    ids=["gram", "exact", "data-gd", "data-elastic-net", "data-momentum"],
)
def test_a_streamed_fit_equals_the_in_memory_fit(params):
    X, y, _ = correlated_problem(6001, 4, seed=1)
    weights = np.random.default_rng(0).uniform(0.5, 2, 6001)
    # A fixed step: "auto" differs in its last digits (power iteration vs eigh).
    if params.get("engine") == "data":
        params = {"learning_rate": 0.1, "max_iter": 20, "tol": None, **params}
    memory = LinearRegressor(**params).fit(X, y, sample_weight=weights)
    streamed = LinearRegressor(**params).fit_stream(Blocks(X, y[:, None], weights))
    np.testing.assert_allclose(streamed.coef_, memory.coef_, rtol=1e-9)
    assert streamed.intercept_ == pytest.approx(memory.intercept_, rel=1e-9)
    np.testing.assert_allclose(streamed.loss_curve_, memory.loss_curve_, rtol=1e-9)
    assert streamed.n_iter_ == memory.n_iter_
    if "alpha" not in params:
        np.testing.assert_allclose(
            streamed.statistics_.std_err, memory.statistics_.std_err, rtol=1e-6
        )


def test_streamed_mini_batches_and_several_targets_reach_the_optimum():
    X, Y, _ = correlated_problem(8000, 3, n_targets=2, seed=2)
    exact = LinearRegressor(solver="exact").fit(X, Y)
    model = LinearRegressor(
        batch_size=64, max_iter=30, random_state=0, learning_rate=0.01
    ).fit_stream(Blocks(X, Y))
    assert model.coef_.shape == (2, 3)
    mse = np.mean((model.predict(X) - Y) ** 2)
    best = np.mean((exact.predict(X) - Y) ** 2)
    assert (mse - best) / best < 1e-2
    again = LinearRegressor(
        batch_size=64, max_iter=30, random_state=0, learning_rate=0.01
    ).fit_stream(Blocks(X, Y))
    np.testing.assert_array_equal(again.coef_, model.coef_)  # seeded: bit-identical


def test_a_stream_with_nan_or_no_rows_is_refused(tmp_path):
    X, y, _ = correlated_problem(100, 2)
    X[57, 1] = np.nan
    with pytest.raises(DataError, match=r"X column 1, row 57: NaN"):
        LinearRegressor().fit_stream(Blocks(X, y[:, None], rows=50))
    empty = tmp_path / "empty.csv"
    empty.write_text("x,y\n")
    with pytest.raises(DataError, match="no data rows"):
        LinearRegressor().fit_stream(open_table(empty, "y"))


@pytest.mark.parametrize(
    "flags", [[], ["--engine", "data", "--dtype", "float64"], ["--solver", "exact"]]
)
def test_cli_stream_gives_the_in_memory_result(tmp_path, frame, capsys, flags):
    path = tmp_path / "d.csv"
    frame.to_csv(path, index=False)
    command = ["fit", str(path), "--target", "y", "--json", "--quiet", *flags]
    assert main(command) == 0
    memory = json.loads(capsys.readouterr().out)
    plot = tmp_path / "p.png"
    assert main([*command, "--stream", "--plot", str(plot)]) == 0
    streamed = json.loads(capsys.readouterr().out)
    assert streamed["streamed"] and not memory["streamed"]
    np.testing.assert_allclose(streamed["coef"], memory["coef"], rtol=1e-6)
    for key in ("mse", "mae", "r2"):
        assert streamed["metrics"][key] == pytest.approx(memory["metrics"][key])
    assert streamed["exact"]["mse"] == pytest.approx(memory["exact"]["mse"], rel=1e-9)
    assert plot.stat().st_size > 1000
