import json
import os

import numpy as np
import pandas as pd
import pytest

from tapereg import LinearRegressor, ModelFileError, load, save


@pytest.fixture
def fitted(problem):
    X, y, _ = problem
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(5)])
    return LinearRegressor(max_iter=200).fit(frame, pd.Series(y, name="target")), frame


def test_round_trip_keeps_everything(tmp_path, fitted):
    est, frame = fitted
    path = tmp_path / "model.json"
    save(est, path, metrics={"mse": 1.0})
    again = load(path)
    np.testing.assert_array_equal(again.predict(frame), est.predict(frame))
    assert list(again.feature_names_in_) == list(est.feature_names_in_)
    assert list(again.target_names_) == ["target"]
    assert again.get_params() == est.get_params()
    np.testing.assert_array_equal(again.loss_curve_, est.loss_curve_)
    np.testing.assert_array_equal(
        again.standardization_.x_scale, est.standardization_.x_scale
    )
    assert again.metrics_ == {"mse": 1.0}
    assert not list(tmp_path.glob(".*tmp"))  # no temporary file left behind
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def test_multi_target_round_trip(tmp_path, problem):
    X, y, _ = problem
    est = LinearRegressor(solver="exact").fit(X, np.column_stack([y, -y]))
    save(est, tmp_path / "m.json")
    again = load(tmp_path / "m.json")
    np.testing.assert_array_equal(again.predict(X), est.predict(X))
    assert list(again.target_names_) == ["y0", "y1"]


def _tamper(path, edit):
    document = json.loads(path.read_text())
    edit(document)
    path.write_text(json.dumps(document))


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda p: p.write_bytes(p.read_bytes()[:100]), "truncated"),
        (lambda p: p.write_bytes(b"\x00\xff" * 50), "not JSON"),
        (lambda p: p.write_text('{"hello": 1}'), "not a tapereg model file"),
        (
            lambda p: _tamper(p, lambda d: d["content"]["coef"][0].__setitem__(0, 9.0)),
            "corrupt",
        ),
        (
            lambda p: _tamper(p, lambda d: d.__setitem__("format_version", 99)),
            "newer tapereg",
        ),
    ],
)
def test_damaged_files_are_refused(tmp_path, fitted, damage, message):
    path = tmp_path / "model.json"
    save(fitted[0], path)
    damage(path)
    with pytest.raises(ModelFileError, match=message):
        load(path)


def test_missing_model_file(tmp_path):
    with pytest.raises(ModelFileError, match="no such model file"):
        load(tmp_path / "none.json")


def test_statistics_survive_the_round_trip(tmp_path, problem):
    X, y, _ = problem
    est = LinearRegressor(solver="exact").fit(X, y)
    save(est, tmp_path / "m.json")
    again = load(tmp_path / "m.json")
    pd.testing.assert_frame_equal(again.summary(0.9), est.summary(0.9))
    assert again.rsquared_ == est.rsquared_ and again.df_resid_ == est.df_resid_
