import gzip

import numpy as np
import pandas as pd
import pytest

from tapereg.data import read_features, read_table
from tapereg.errors import DataError


@pytest.fixture
def frame():
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "a": rng.standard_normal(20),
            "b": rng.integers(0, 5, 20),
            "flag": rng.integers(0, 2, 20).astype(bool),
            "y": rng.standard_normal(20),
        }
    )


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz", ".parquet"])
def test_reads_csv_gzip_and_parquet(tmp_path, frame, suffix):
    path = tmp_path / f"data{suffix}"
    if suffix == ".parquet":
        frame.to_parquet(path)
    else:
        frame.to_csv(path, index=False)
    table = read_table(path, "y")
    assert table.feature_names == ["a", "b", "flag"] and table.target_names == ["y"]
    np.testing.assert_allclose(table.X, frame[["a", "b", "flag"]].to_numpy(float))
    np.testing.assert_allclose(table.y[:, 0], frame["y"])
    chosen = read_table(path, "y", ["b"])
    assert chosen.X.shape == (20, 1)


def test_missing_column_lists_the_available_ones(tmp_path, frame):
    path = tmp_path / "d.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(
        DataError, match=r"no target column 'price' \(columns: a, b, flag, y\)"
    ):
        read_table(path, "price")
    with pytest.raises(DataError, match="no feature column 'zz'"):
        read_table(path, "y", ["a", "zz"])


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("x,y\n1,2\nabc,3\n", r"column 'x', row 2: 'abc' is not a number"),
        ("x,y\n1,2\n,3\n", r"column 'x', row 2: missing value"),
        ("x,y\n1,2\n2,inf\n", r"column 'y', row 2: inf is not a finite number"),
        ("x,y\n", "no data rows"),
        ("", "cannot read it"),
        ("x,y\n1,2\n3\n", "cannot read it"),
    ],
)
def test_bad_cells_are_named_by_column_and_row(tmp_path, body, message):
    path = tmp_path / "bad.csv"
    path.write_text(body)
    with pytest.raises(DataError, match=message):
        read_table(path, "y")


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        read_table(tmp_path / "nope.csv", "y")
    with pytest.raises(DataError, match="is a directory"):
        read_table(tmp_path, "y")


def test_gzip_by_suffix(tmp_path):
    path = tmp_path / "d.csv.gz"
    path.write_bytes(gzip.compress(b"x,y\n1,2\n2,4\n"))
    np.testing.assert_array_equal(read_table(path, "y").X[:, 0], [1, 2])


def test_read_features_by_name_or_by_count(tmp_path, frame):
    path = tmp_path / "d.csv"
    frame.to_csv(path, index=False)
    table = read_features(path, ["b", "a"], 2)
    np.testing.assert_allclose(table.X, frame[["b", "a"]].to_numpy(float))
    with pytest.raises(DataError, match="takes 3 unnamed features but the file has 4"):
        read_features(path, None, 3)
