"""Real tables on the command line: formulas, text categories and missing cells.

The Grunfeld investment data (``firm`` is text) written to CSV and Parquet, fitted
by ``tapereg fit`` with the exact solver, against ``statsmodels.formula.api.ols``
on the same frame: names in the same order and values to 1e-8. The raw readers
(``io.frames``) are checked beside: text kept, missing cells missing, one kind per
column in every block and shard.
"""

import json

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf

from tapereg.cli import main
from tapereg.io.frames import open_frames, read_frame

FORMULAS = [
    "invest ~ value + capital + C(firm)",
    "invest ~ np.log(value) + value:capital + C(firm)",
]


@pytest.fixture(scope="module")
def grunfeld():
    return sm.datasets.grunfeld.load_pandas().data


@pytest.fixture(scope="module")
def holed(grunfeld):
    """Grunfeld with four rows missing a cell: empty, NA and a missing firm."""
    frame = grunfeld.copy()
    frame.loc[[3, 50], "value"] = np.nan
    frame.loc[7, "invest"] = np.nan
    frame.loc[100, "firm"] = None
    return frame


@pytest.fixture(scope="module")
def files(tmp_path_factory, grunfeld, holed):
    folder = tmp_path_factory.mktemp("grunfeld")
    paths = {
        "csv": folder / "grunfeld.csv",
        "parquet": folder / "grunfeld.parquet",
        "holed": folder / "holed.csv",
        "holed_parquet": folder / "holed.parquet",
    }
    grunfeld.to_csv(paths["csv"], index=False)
    grunfeld.to_parquet(paths["parquet"], index=False)
    # Missing cells as CSV spells them: empty, NA, NaN.
    lines = holed.to_csv(index=False, na_rep="").splitlines()
    lines[51] = lines[51].replace(",,", ",NA,")  # row 50's value
    lines[101] = lines[101].replace(",,", ",NaN,")  # row 100's firm
    paths["holed"].write_text("\n".join(lines) + "\n")
    holed.to_parquet(paths["holed_parquet"], index=False)
    return paths


def _fit_json(capsys, *argv):
    status = main(["fit", *map(str, argv), "--solver", "exact", "--json"])
    out, err = capsys.readouterr()
    assert status == 0, err
    return json.loads(out), err


def _params(report) -> pd.Series:
    """The report's coefficients named as statsmodels names them."""
    names = ["Intercept", *report["feature_names"]]
    return pd.Series([report["intercept"], *report["coef"]], index=names)


def _error(capsys, *argv) -> str:
    try:
        status = main(list(map(str, argv)))
    except SystemExit as stop:
        status = stop.code
    err = capsys.readouterr().err
    assert status == 2
    assert len(err.strip().splitlines()) == 1, err
    return err.strip()


@pytest.mark.parametrize("kind", ["csv", "parquet"])
@pytest.mark.parametrize("formula", FORMULAS)
def test_formula_equals_statsmodels(capsys, files, grunfeld, kind, formula):
    report, _ = _fit_json(capsys, files[kind], "--formula", formula)
    reference = smf.ols(formula, grunfeld).fit()
    assert report["summary"]["terms"] == reference.params.index.tolist()
    ours = _params(report)[reference.params.index]
    np.testing.assert_allclose(ours, reference.params, rtol=1e-8)
    np.testing.assert_allclose(report["summary"]["std_err"], reference.bse, rtol=1e-8)
    assert report["target"] == "invest"
    assert report["metrics"]["r2"] == pytest.approx(reference.rsquared, rel=1e-10)


def test_text_columns_are_one_hot_without_a_formula(capsys, files, grunfeld):
    report, _ = _fit_json(capsys, files["csv"], "--target", "invest")
    reference = smf.ols("invest ~ value + capital + firm + year", grunfeld).fit()
    ours = _params(report)
    assert sorted(ours.index) == sorted(reference.params.index)
    np.testing.assert_allclose(ours[reference.params.index], reference.params, 1e-8)
    assert report["feature_names"][:3] == [
        "value",
        "capital",
        "firm[T.Atlantic Refining]",
    ]


@pytest.mark.parametrize("kind", ["holed", "holed_parquet"])
def test_missing_drop_equals_statsmodels(capsys, files, holed, kind):
    formula = FORMULAS[0]
    report, err = _fit_json(
        capsys, files[kind], "--formula", formula, "--missing", "drop"
    )
    assert err.strip() == (
        "tapereg: warning: dropped 4 of 220 rows with a missing value (--missing drop)"
    )
    reference = smf.ols(formula, holed, missing="drop").fit()
    np.testing.assert_allclose(
        _params(report)[reference.params.index], reference.params, rtol=1e-8
    )
    assert report["summary"]["nobs"] == reference.nobs == 216


def test_missing_drop_without_a_formula(capsys, files, holed):
    report, _ = _fit_json(
        capsys, files["holed"], "--target", "invest", "--features", "value,firm",
        "--missing", "drop",
    )  # fmt: skip
    reference = smf.ols("invest ~ value + firm", holed, missing="drop").fit()
    ours = _params(report)
    np.testing.assert_allclose(ours[reference.params.index], reference.params, 1e-8)


def test_missing_cells_are_refused_by_default(capsys, files):
    err = _error(capsys, "fit", files["holed"], "--formula", FORMULAS[0])
    assert err == (
        f"tapereg: error: {files['holed']}: column 'value', row 4: missing value "
        "(empty, NA or NaN)"
    )


def test_categorical_error_keeps_the_old_refusal(capsys, files):
    err = _error(
        capsys, "fit", files["csv"], "--target", "invest", "--categorical", "error"
    )
    assert err == (
        f"tapereg: error: {files['csv']}: column 'firm', row 1: 'General Motors' "
        "is not a number"
    )


def test_target_and_formula_together_are_refused(capsys, files):
    err = _error(
        capsys, "fit", files["csv"], "--target", "invest", "--formula", FORMULAS[0]
    )
    assert "--target and --formula both name the columns" in err
    err = _error(capsys, "fit", files["csv"])
    assert "name the target: --target COL, or --formula" in err


def test_predict_applies_the_models_encoding(capsys, files, grunfeld, tmp_path):
    model = tmp_path / "m.json"
    formula = FORMULAS[1]
    _fit_json(capsys, files["csv"], "--formula", formula, "--save", model)
    reference = smf.ols(formula, grunfeld).fit()
    new = grunfeld.sample(12, random_state=0).drop(columns="invest")
    for path in (tmp_path / "new.csv", tmp_path / "new.parquet"):
        if path.suffix == ".csv":
            new.to_csv(path, index=False)
        else:
            new.to_parquet(path, index=False)
        assert main(["predict", str(model), str(path)]) == 0
        out = capsys.readouterr().out.splitlines()
        assert out[0] == "invest"
        np.testing.assert_allclose(
            np.array(out[1:], float), reference.predict(new), rtol=1e-8
        )


def test_predict_refuses_an_unseen_level(capsys, files, grunfeld, tmp_path):
    model = tmp_path / "m.json"
    _fit_json(capsys, files["csv"], "--target", "invest", "--save", model)
    acme = grunfeld.head(3).assign(firm=["IBM", "Acme", "IBM"])
    acme.to_csv(tmp_path / "acme.csv", index=False)
    err = _error(capsys, "predict", model, tmp_path / "acme.csv")
    assert err.startswith(
        "tapereg: error: column 'firm' holds 'Acme', a level not seen in training"
    )


def test_read_frame_keeps_text_and_missing_cells(files, holed):
    frame = read_frame(files["holed"], "invest")
    assert frame.columns.tolist() == ["invest", "value", "capital", "firm", "year"]
    assert frame["firm"].iloc[0] == "General Motors"
    assert frame.isna().sum().to_dict() == {
        "invest": 1, "value": 2, "capital": 0, "firm": 1, "year": 0
    }  # fmt: skip
    pd.testing.assert_frame_equal(
        read_frame(files["holed_parquet"], "invest"), frame, check_dtype=False
    )
    only = read_frame(files["csv"], formula="np.log(invest) ~ value:capital + C(firm)")
    assert only.columns.tolist() == ["invest", "capital", "firm", "value"]


def test_blocks_and_shards_have_one_kind_per_column(tmp_path, grunfeld):
    # "code" looks like numbers for most rows, then holds text: text everywhere,
    # in every block, whether read whole or a block at a time.
    frame = pd.concat([grunfeld] * 30, ignore_index=True)
    frame["code"] = np.where(frame.index < 5000, "7", "x7")
    path = tmp_path / "long.csv"
    frame.to_csv(path, index=False)
    stream = open_frames(path, "invest", block_bytes=1 << 15)
    blocks = list(stream)
    assert len(blocks) > 3
    assert stream.resolved_kinds["code"] == "text"
    assert {block["code"].iloc[0] for block in blocks} >= {"7", "x7"}
    whole = stream.read()
    pd.testing.assert_frame_equal(whole, pd.concat(blocks, ignore_index=True))
    shards = [list(stream.for_worker(k, 3)) for k in range(3)]
    assert sum(len(b) for shard in shards for b in shard) == len(frame)
    assert all(b["code"].map(type).eq(str).all() for s in shards for b in s)


@pytest.mark.parametrize(
    "args",
    [
        ["--formula", FORMULAS[1]],
        ["--target", "invest"],
        ["--formula", FORMULAS[0], "--missing", "drop"],
    ],
    ids=["formula", "text-columns", "missing-drop"],
)
def test_streamed_equals_in_memory(capsys, files, args):
    data = files["holed"] if "drop" in args else files["csv"]
    whole, err = _fit_json(capsys, data, *args)
    streamed, streamed_err = _fit_json(capsys, data, *args, "--stream", "--quiet")
    assert streamed["streamed"] and not whole["streamed"]
    assert streamed_err == err
    assert streamed["feature_names"] == whole["feature_names"]
    np.testing.assert_allclose(streamed["coef"], whole["coef"], rtol=1e-9)
    np.testing.assert_allclose(streamed["intercept"], whole["intercept"], rtol=1e-9)
    for key in ("mse", "r2"):
        assert streamed["metrics"][key] == pytest.approx(whole["metrics"][key])
    assert streamed["summary"]["nobs"] == whole["summary"]["nobs"]


def test_a_formula_streams_over_many_blocks(tmp_path, grunfeld):
    from tapereg import LinearRegressor
    from tapereg.fitting.tables import fit_table

    frame = pd.concat([grunfeld] * 30, ignore_index=True)
    frame["size"] = np.where(frame.index % 3 == 0, "S", "L")
    frame.to_csv(tmp_path / "long.csv", index=False)
    formula = "invest ~ np.log(value) + capital:size + C(firm)"
    reference = smf.ols(formula, frame).fit()
    stream = open_frames(tmp_path / "long.csv", formula=formula, block_bytes=1 << 15)
    model = LinearRegressor(formula=formula, solver="exact")
    fitted = fit_table(model, stream, stream_rows=True, want_sample=True)
    assert fitted.table is None  # streamed
    assert fitted.feature_names == reference.params.index[1:].tolist()
    np.testing.assert_allclose(model.coef_, reference.params.iloc[1:], rtol=1e-8)
    assert fitted.metrics[0]["r2"][0] == pytest.approx(reference.rsquared, rel=1e-10)
    assert fitted.sample.X.shape[1] == len(fitted.feature_names)


def test_two_workers_fit_a_formula_each_on_other_firms(tmp_path, grunfeld):
    """Each worker's file holds other firms: the levels are every worker's."""
    from test_distributed import _start_workers

    formula = FORMULAS[0]
    firms = sorted(grunfeld.firm.unique())
    folders = [tmp_path / "w0", tmp_path / "w1"]
    for folder in folders:
        folder.mkdir()
        for k, part in enumerate((firms[:4], firms[4:])):
            rows = grunfeld[grunfeld.firm.isin(part)]
            rows.to_csv(folder / f"d{k}.csv", index=False)
    args = ["fit", "d0.csv", "d1.csv", "--formula", formula, "--solver", "exact"]
    args += ["--json", "--quiet", "--strategy", "multi-worker"]
    workers = _start_workers(["-m", "tapereg", *args], 2, folders)
    outputs = [process.communicate(timeout=300) for process in workers]
    for process, (_, err) in zip(workers, outputs, strict=True):
        assert process.returncode == 0, err[-2000:]
    report = json.loads(outputs[0][0])
    reference = smf.ols(formula, grunfeld).fit()
    assert report["summary"]["terms"] == reference.params.index.tolist()
    ours = _params(report)[reference.params.index]
    np.testing.assert_allclose(ours, reference.params, rtol=1e-8)
