"""``tapereg fit --cluster COL``: cluster-robust standard errors from the command line.

statsmodels' ``OLS(...).fit(cov_type="cluster", cov_kwds={"groups": codes})`` is the
reference, on scikit-learn's diabetes data clustered by decade of age (7 clusters,
labels such as ``"g05"``) written to small CSV and Parquet files. The commands
run in-process through ``main``; all but one use the exact solver.
"""

import json

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from conftest import run_cli

import tapereg

# statsmodels warns that 7 clusters give the 10 slopes' covariance rank 6.
pytestmark = pytest.mark.filterwarnings(
    "ignore::statsmodels.tools.sm_exceptions.ValueWarning"
)

FEATURES = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]


def _frame():
    """Diabetes with its decade of age as text (``g05``), integer and date labels."""
    from sklearn.datasets import load_diabetes

    data = load_diabetes(as_frame=True, scaled=False)
    frame = data.data.assign(y=data.target)
    decade = (frame["age"] // 10).astype(int)
    return frame.assign(
        g=[f"g{d:02d}" for d in decade],
        decade=decade,
        day=pd.to_datetime([f"2020-01-{d:02d}" for d in decade]),
    )


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """The same rows as CSV and as Parquet; ``clustered.csv`` has only ``g``
    besides the features and the target, so the features are "all others"."""
    folder = tmp_path_factory.mktemp("clusters")
    frame = _frame()
    paths = {"csv": folder / "diabetes.csv", "parquet": folder / "diabetes.parquet"}
    frame.to_csv(paths["csv"], index=False)
    frame.to_parquet(paths["parquet"], index=False)
    paths["clustered"] = folder / "clustered.csv"
    frame[[*FEATURES, "y", "g"]].to_csv(paths["clustered"], index=False)
    return paths


@pytest.fixture(scope="module")
def reference():
    frame = _frame()
    codes = pd.factorize(frame["g"])[0]
    ols = sm.OLS(frame["y"], sm.add_constant(frame[FEATURES]))
    return ols.fit(cov_type="cluster", cov_kwds={"groups": codes})


def _fit_json(data, *args, features=True):
    chosen = ["--features", ",".join(FEATURES)] if features else []
    result = run_cli("fit", data, "--target", "y", *chosen, "--quiet", "--json", *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["summary"]


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_exact_solver_equals_statsmodels(files, reference, tmp_path, kind):
    model = tmp_path / "model.json"
    summary = _fit_json(
        files[kind],
        *("--cluster", "g", "--cov-type", "cluster", "--solver", "exact"),
        *("--save", model),
    )
    assert summary["cov_type"] == "cluster" and summary["n_groups"] == 7
    assert summary["terms"] == ["intercept", *FEATURES]
    np.testing.assert_allclose(summary["std_err"], reference.bse, rtol=1e-8)
    np.testing.assert_allclose(summary["p_value"], reference.pvalues, rtol=1e-6)
    loaded = tapereg.load(model)
    np.testing.assert_allclose(
        loaded.summary(cov_type="cluster").std_err, reference.bse, rtol=1e-8
    )
    np.testing.assert_allclose(loaded.fvalue_, reference.fvalue, rtol=1e-8)


def test_default_solver_keeps_the_cluster_covariance(files, reference, tmp_path):
    """``--cluster`` alone, all other columns the features: the report stays
    nonrobust, as the API's ``fit(X, y, groups=...)`` does, and the model file
    keeps the cluster covariance."""
    model = tmp_path / "model.json"
    summary = _fit_json(
        files["clustered"], "--cluster", "g", "--save", model, features=False
    )
    assert summary["cov_type"] == "nonrobust" and summary["n_groups"] == 7
    assert summary["terms"] == ["intercept", *FEATURES]
    loaded = tapereg.load(model)
    assert loaded.cov_type == "nonrobust"
    np.testing.assert_allclose(
        loaded.summary(cov_type="cluster").std_err, reference.bse, rtol=1e-3
    )


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_streamed_equals_in_memory(files, kind):
    args = ("--cluster", "g", "--cov-type", "cluster", "--solver", "exact")
    whole = _fit_json(files[kind], *args)
    streamed = _fit_json(files[kind], *args, "--stream")
    assert streamed["n_groups"] == whole["n_groups"] == 7
    for column in ("coef", "std_err", "p_value", "ci_low", "ci_high"):
        np.testing.assert_allclose(streamed[column], whole[column], rtol=1e-9)
    assert streamed["fvalue"] == pytest.approx(whole["fvalue"], rel=1e-9)


@pytest.mark.parametrize(
    ("kind", "column"),
    [("csv", "decade"), ("parquet", "decade"), ("parquet", "day")],
    ids=["csv-integers", "parquet-integers", "parquet-dates"],
)
def test_labels_of_any_type_give_the_same_clusters(files, reference, kind, column):
    args = ("--cov-type", "cluster", "--solver", "exact")
    summary = _fit_json(files[kind], "--cluster", column, *args)
    assert summary["n_groups"] == 7
    np.testing.assert_allclose(summary["std_err"], reference.bse, rtol=1e-8)


def test_summary_text_names_the_clusters(files, capsys):
    from tapereg.cli import main

    argv = ["fit", str(files["clustered"]), "--target", "y", "--cluster", "g"]
    argv += ["--cov-type", "cluster", "--solver", "exact", "--summary", "--quiet"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "P>|z|" in text and "Covariance Type:              cluster" in text
    assert "No. Clusters:                       7" in text


@pytest.fixture
def gaps(tmp_path):
    """A CSV and a Parquet file whose label column misses its third row's value."""
    frame = pd.DataFrame(
        {
            "x": [1.0, 2.0, 3.0, 4.0],
            "y": [2.0, 3.0, 5.0, 4.0],
            "g": ["a", "b", None, "a"],
        }
    )
    frame.to_csv(tmp_path / "gap.csv", index=False)
    frame.to_parquet(tmp_path / "gap.parquet", index=False)
    return tmp_path


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_a_missing_label_names_its_column_and_row(gaps, suffix):
    path = gaps / f"gap.{suffix}"
    result = run_cli(
        "fit", path, "--target", "y", "--cluster", "g", "--solver", "exact"
    )
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"tapereg: error: {path}: column 'g', row 3: missing cluster label "
        "(empty, NA or NaN)"
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            # Refused before any file is read: this one does not exist.
            ["/no/such.csv", "--target", "y", "--cov-type", "cluster"],
            "--cov-type cluster needs the cluster labels: --cluster COL names "
            "their column",
        ),
        (
            ["{gap}", "--target", "y", "--cluster", "h"],
            "{gap}: no cluster column 'h' (columns: x, y, g)",
        ),
        (
            ["{gap}", "--target", "y", "--cluster", "g", "--features", "x,g"],
            "column 'g' is both a feature and the cluster labels; leave it out of "
            "the features, or cluster on a copy of it",
        ),
    ],
    ids=["cov-type-without-column", "no-such-column", "also-a-feature"],
)
def test_cluster_mistakes_are_one_line(gaps, args, message):
    gap = gaps / "gap.csv"
    result = run_cli("fit", *(a.format(gap=gap) for a in args), "--solver", "exact")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [f"tapereg: error: {message.format(gap=gap)}"]
    # A missing column of labels reads as a missing target column does.
    if "no cluster column" in message:
        target = run_cli("fit", gap, "--target", "h", "--solver", "exact")
        assert target.stderr.replace("target", "cluster") == result.stderr


def test_worker_shards_carry_their_labels(tmp_path):
    """Each worker's blocks hold their own rows' labels (each a function of the
    row's age here), so its cluster sums will be of its rows."""
    frame = pd.concat([_frame()[[*FEATURES, "y", "g"]]] * 8)  # 220 kB: 3 blocks
    frame.to_csv(tmp_path / "d.csv", index=False)
    table = tapereg.open_table(tmp_path / "d.csv", "y", groups="g", block_bytes=1 << 16)
    assert table.feature_names == FEATURES
    np.testing.assert_array_equal(table.read().groups, frame["g"].to_numpy())
    n_blocks, n_rows = [0, 0], 0
    for index in range(2):
        for X, _, weights, labels in table.for_worker(index, 2):
            assert weights is None
            expected = [f"g{int(age) // 10:02d}" for age in X[:, 0]]
            np.testing.assert_array_equal(labels, expected)
            n_blocks[index] += 1
            n_rows += X.shape[0]
    assert min(n_blocks) >= 1 and n_rows == len(frame)
