import gzip

import numpy as np
import pandas as pd
import pytest

from tapereg.errors import DataError
from tapereg.io.readers import read_features, read_table


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
        ("", "the file is empty"),
        ("x,y\n1,2\n3\n", "row 2: 1 value where the header names 2 columns"),
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


# -- several files and glob patterns ------------------------------------------------


def write(path, text):
    """Write ``text`` as bytes, so line endings and a BOM stay exactly as given."""
    path.write_bytes(text.encode("utf-8"))
    return path


def test_several_files_concatenate_rows_in_order(tmp_path):
    first = write(tmp_path / "first.csv", "x,y\n1,10\n2,20\n")
    second = write(tmp_path / "second.csv", "y,x,extra\n30,3,a\n")
    table = read_table([first, str(second)], "y")
    assert table.feature_names == ["x"]
    np.testing.assert_array_equal(table.X[:, 0], [1, 2, 3])
    np.testing.assert_array_equal(table.y[:, 0], [10, 20, 30])


def test_csv_and_parquet_files_mix(tmp_path):
    csv = write(tmp_path / "a.csv", "x,y\n1,2\n")
    parquet = tmp_path / "b.parquet"
    pd.DataFrame({"y": [4.0], "x": [3.0]}).to_parquet(parquet)
    np.testing.assert_array_equal(read_table([csv, parquet], "y").X[:, 0], [1, 3])


def test_glob_expands_sorted(tmp_path):
    write(tmp_path / "part-2.csv", "x,y\n3,30\n")
    write(tmp_path / "part-1.csv", "x,y\n1,10\n2,20\n")
    write(tmp_path / "other.csv", "x,y\n99,99\n")
    table = read_table(str(tmp_path / "part-*.csv"), "y")
    np.testing.assert_array_equal(table.X[:, 0], [1, 2, 3])


def test_glob_matching_nothing_names_the_pattern(tmp_path):
    pattern = str(tmp_path / "none-*.csv")
    with pytest.raises(DataError, match=r"none-\*\.csv: no file matches this pattern"):
        read_table(pattern, "y")
    with pytest.raises(DataError, match="no data files given"):
        read_table([], "y")


def test_existing_file_with_glob_characters_is_taken_literally(tmp_path):
    path = write(tmp_path / "data[1].csv", "x,y\n1,2\n")
    np.testing.assert_array_equal(read_table(str(path), "y").X, [[1]])


def test_file_missing_a_column_is_named_with_its_columns(tmp_path):
    first = write(tmp_path / "first.csv", "x,y\nabc,1\n")
    second = write(tmp_path / "second.csv", "x,z\n1,2\n")
    # Every header is checked before any data is read: the bad cell of the first
    # file is never reached.
    with pytest.raises(
        DataError, match=r"second\.csv: no target column 'y' \(columns: x, z\)"
    ):
        read_table([first, second], "y")


def test_column_types_may_differ_between_files(tmp_path):
    ints = write(tmp_path / "ints.csv", "x,y\n1,2\n")
    floats = write(tmp_path / "floats.csv", "x,y\n1.5,2.5\n")
    bools = write(tmp_path / "bools.csv", "x,y\ntrue,false\n")
    parquet = tmp_path / "ints.parquet"
    pd.DataFrame({"x": np.array([7], dtype=np.int32), "y": [8]}).to_parquet(parquet)
    table = read_table([ints, floats, bools, parquet], "y")
    assert table.X.dtype == np.float64 and table.y.dtype == np.float64
    np.testing.assert_array_equal(table.X[:, 0], [1, 1.5, 1, 7])
    np.testing.assert_array_equal(table.y[:, 0], [2, 2.5, 0, 8])


def test_bad_cell_names_its_file_and_its_row_there(tmp_path):
    first = write(tmp_path / "first.csv", "x,y\n1,2\n3,4\n5,6\n")
    second = write(tmp_path / "second.csv", "x,y\n1,2\n,4\n")
    with pytest.raises(DataError, match=r"second\.csv: column 'x', row 2: missing"):
        read_table([first, second], "y")


def test_no_rows_in_any_file(tmp_path):
    first = write(tmp_path / "first.csv", "x,y\n")
    second = write(tmp_path / "second.csv", "x,y\n")
    with pytest.raises(DataError, match="no data rows in any of the 2 files"):
        read_table([first, second], "y")
    table = read_table([first, write(tmp_path / "third.csv", "x,y\n1,2\n")], "y")
    np.testing.assert_array_equal(table.X, [[1]])


def test_read_features_from_several_files(tmp_path):
    first = write(tmp_path / "first.csv", "a,b\n1,2\n")
    second = write(tmp_path / "second.csv", "b,a\n4,3\n")
    table = read_features([first, second], ["a", "b"], 2)
    np.testing.assert_array_equal(table.X, [[1, 2], [3, 4]])
    # Unnamed features are taken in the first file's order, matched by name after.
    table = read_features([first, second], None, 2)
    assert table.feature_names == ["a", "b"]
    np.testing.assert_array_equal(table.X, [[1, 2], [3, 4]])
    third = write(tmp_path / "third.csv", "a,c\n1,2\n")
    with pytest.raises(DataError, match=r"third\.csv: no feature column 'b'"):
        read_features([first, third], None, 2)
    with pytest.raises(DataError, match=r"third\.csv: the model takes 1 unnamed"):
        read_features([write(tmp_path / "one.csv", "a\n1\n"), third], None, 1)


# -- encodings, line endings, compression, header ------------------------------------


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
@pytest.mark.parametrize("bom", ["", "\ufeff"])
def test_bom_and_crlf(tmp_path, bom, newline):
    path = write(tmp_path / "d.csv", bom + newline.join(["x,y", "1,2", "3,4", ""]))
    table = read_table(path, "y")
    assert table.feature_names == ["x"]
    np.testing.assert_array_equal(table.X[:, 0], [1, 3])
    np.testing.assert_array_equal(table.y[:, 0], [2, 4])


def test_gzip_with_bom_and_crlf(tmp_path):
    path = tmp_path / "d.csv.gz"
    path.write_bytes(gzip.compress("\ufeffx,y\r\n1,2\r\n".encode()))
    table = read_table(path, "y")
    assert table.feature_names == ["x"]
    np.testing.assert_array_equal(table.X, [[1]])


def test_suffixes_in_any_case(tmp_path):
    frame = pd.DataFrame({"x": [1.0, 2.0], "y": [3.0, 4.0]})
    plain = tmp_path / "d.CSV"
    frame.to_csv(plain, index=False)
    zipped = tmp_path / "d.CSV.GZ"
    zipped.write_bytes(gzip.compress(plain.read_bytes()))
    parquet = tmp_path / "d.Parquet"
    frame.to_parquet(parquet)
    table = read_table([plain, zipped, parquet], "y")
    np.testing.assert_array_equal(table.X[:, 0], [1, 2] * 3)


def test_booleans_become_zero_and_one(tmp_path):
    path = write(tmp_path / "d.csv", "flag,y\ntrue,1\nFalse,2\nTRUE,3\n")
    np.testing.assert_array_equal(read_table(path, "y").X[:, 0], [1, 0, 1])


def test_a_header_is_required(tmp_path):
    path = write(tmp_path / "d.csv", "1,2\n3,4\n")
    with pytest.raises(DataError, match=r"d\.csv: seems to have no header row"):
        read_table(path, "y")
    with pytest.raises(DataError, match="no header row"):
        read_features(path, None, 2)


def test_unneeded_columns_may_hold_anything(tmp_path):
    path = write(tmp_path / "d.csv", "x,note,y,when\n1,hello,2,\n3,,4,2024-01-01\n")
    table = read_table(path, "y", ["x"])
    np.testing.assert_array_equal(table.X[:, 0], [1, 3])


def test_duplicate_and_empty_columns(tmp_path):
    path = write(tmp_path / "dup.csv", "x,x,y\n1,2,3\n")
    with pytest.raises(DataError, match="column 'x' appears 2 times"):
        read_table(path, "y")
    path = write(tmp_path / "empty.csv", "x,y\n,1\n,2\n")
    with pytest.raises(DataError, match=r"column 'x', row 1: missing value"):
        read_table(path, "y")
