"""Saving and loading fitted models: one self-describing JSON file, never a pickle.

The file holds a format name and version, the tapereg version, and a ``content``
object (names, coefficients, standardization, settings, training record, metrics)
with its SHA-256, so a truncated or accidentally altered file is refused. Written
atomically. The format is editable by hand, so the content is then checked against
the format (``model_format``): a file edited with its checksum recomputed loads as
a model that predicts finite numbers, or is refused with one line naming the field.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import re

import numpy as np

from ..design.encoding import Encoding
from ..errors import ModelFileError
from ..fitting.outcome import FitOutcome, TrainingRecord
from ..fitting.plan import dtype_name
from ..numerics.linear import target_names as default_target_names
from ..numerics.moments import MAX_SAVED_MOMENT_COLUMNS, Moments
from ..numerics.residuals import Diagnostics
from ..numerics.standardization import Standardization
from ..numerics.statistics import OLSStatistics
from ..parallel.cluster import strategy_name
from ..runtime.atomic import atomic_write
from .json_values import strict_json
from .model_format import content_problem

FORMAT = "tapereg.model"
FORMAT_VERSION = 1
DOCUMENT_KEYS = ("format", "format_version", "tapereg_version", "sha256", "content")
# A model file nests 5 levels; json's parser recurses, so far deeper is refused
# before parsing (a RecursionError otherwise).
MAX_DEPTH = 64


def _canonical(content: dict) -> bytes:
    return json.dumps(
        content, sort_keys=True, separators=(",", ":"), allow_nan=False
    ).encode()


def _finite_or_none(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def _json_params(params: dict) -> dict:
    """Estimator parameters as JSON values (a RandomState is not kept; a
    ``tf.distribute`` strategy object is kept as the name of its kind)."""
    out = {}
    for key, value in params.items():
        if isinstance(value, np.random.RandomState):
            value = None
        elif key == "strategy" and not isinstance(value, str | type(None)):
            value = strategy_name(value)
        elif key == "dtype" and not isinstance(value, str):
            value = dtype_name(value) or str(value)  # np.float64 itself: "float64"
        elif isinstance(value, np.generic):
            value = value.item()
        elif not isinstance(value, str | int | float | bool | type(None)):
            value = str(value)
        out[key] = value
    return out


def _json_metrics(metrics: dict | None) -> dict | None:
    """Metrics as JSON (nested per target too): NaN and ±inf as null (R² of one
    row is NaN)."""
    return None if metrics is None else strict_json(metrics)


def model_content(estimator, *, metrics: dict | None = None) -> dict:
    """Everything about a fitted LinearRegressor that a file keeps."""
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(estimator)
    coef = np.atleast_2d(np.asarray(estimator.coef_, np.float64))
    intercept = np.atleast_1d(np.asarray(estimator.intercept_, np.float64))
    names = getattr(estimator, "feature_names_in_", None)
    targets = getattr(estimator, "target_names_", None)
    scaling = getattr(estimator, "standardization_", None)
    encoding = getattr(estimator, "encoding_", None)
    return {
        "feature_names": None if names is None else [str(n) for n in names],
        "n_features": int(estimator.n_features_in_),
        "target_names": default_target_names(targets, coef.shape[0]),
        "single_target": np.ndim(estimator.coef_) == 1,
        "coef": coef.tolist(),
        "intercept": intercept.tolist(),
        "dtype": str(np.dtype(estimator.dtype)),
        "standardization": None
        if scaling is None
        else {
            field: getattr(scaling, field).tolist()
            for field in ("x_mean", "x_scale", "y_mean", "y_scale")
        },
        # A LinearRegressorCV's are its refit's: it loads as that LinearRegressor.
        "params": _json_params(estimator._fit_params()),
        "n_iter": int(estimator.n_iter_),
        "learning_rate": _finite_or_none(estimator.learning_rate_),
        "loss_curve": [float(v) for v in estimator.loss_curve_],
        "metrics": _json_metrics(metrics),
        "statistics": _statistics_content(getattr(estimator, "statistics_", None)),
        "encoding": None if encoding is None else encoding.to_json(),
        "moments": _moments_content(getattr(estimator, "moments_", None)),
    }


def _moments_content(moments) -> dict | None:
    """What ``partial_fit`` needs to go on after ``load``: the rows' moments."""
    if moments is None or len(moments.mean) > MAX_SAVED_MOMENT_COLUMNS:
        return None
    return {
        "total_weight": float(moments.total_weight),
        "n_samples": int(moments.n_samples),
        "mean": moments.mean.tolist(),
        "covariance": moments.covariance.tolist(),
        "weighted": bool(moments.weighted),
    }


STATISTICS_FIELDS = (
    "coef",
    "std_err",
    "nobs",
    "df_model",
    "df_resid",
    "rsquared",
    "rsquared_adj",
    "fvalue",
    "f_pvalue",
    "resid_std_err",
)


def _json_numbers(value):
    """An array or scalar as (nested lists of) JSON numbers; NaN and ±inf as null."""
    array = np.asarray(value, np.float64)
    if array.ndim == 0:
        return float(array) if np.isfinite(array) else None
    return [_json_numbers(item) for item in array]


def _statistics_content(stats) -> dict | None:
    """OLSStatistics as JSON values (a perfect fit has infinite t and F: null)."""
    if stats is None:
        return None
    content = {
        field: _json_numbers(getattr(stats, field)) for field in STATISTICS_FIELDS
    }
    content["terms"] = list(stats.terms)
    content["n_groups"] = stats.n_groups
    content["diagnostics"] = _diagnostics_content(stats.diagnostics)
    content["cov"] = (
        None
        if stats.cov is None
        else {name: _json_numbers(matrix) for name, matrix in stats.cov.items()}
    )
    return content


def _diagnostics_content(found) -> dict | None:
    if found is None:
        return None
    content = {
        field.name: _json_numbers(getattr(found, field.name))
        for field in dataclasses.fields(found)
        if field.name != "weighted"
    }
    content["weighted"] = bool(found.weighted)
    return content


def save(estimator, path, *, metrics: dict | None = None) -> None:
    """Write a fitted LinearRegressor to ``path`` (JSON, atomically).

    Parameters
    ----------
    estimator : LinearRegressor, fitted
    path : str or PathLike
    metrics : dict, optional
        Metrics to keep with the model (the CLI stores its training metrics).
    """
    from .. import __version__
    from ..errors import ParameterError

    content = model_content(estimator, metrics=metrics)
    problem = content_problem(content)
    if problem is not None:  # never write a file that load() refuses
        raise ParameterError(f"{os.fspath(path)}: cannot save this model: {problem}")
    document = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "tapereg_version": __version__,
        "sha256": hashlib.sha256(_canonical(content)).hexdigest(),
        "content": content,
    }
    with atomic_write(path, "w", encoding="utf-8") as file:
        json.dump(document, file, indent=1, allow_nan=False)
        file.write("\n")


class _Refused(Exception):
    """A parser hook's refusal (one line, without the file's name)."""


def _refuse_constant(name: str):
    raise _Refused(
        f"the file holds {name}, which is not JSON; a model's numbers must be finite"
    )


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Refused(
            f"{text} is beyond float64's range; a model's numbers must be finite"
        )
    return value


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > 308:  # beyond float64 (and Python's digit limit)
        raise _Refused(
            f"{text[:20]}... ({len(text)} digits) is beyond float64's range; a "
            "model's numbers must be finite"
        )
    return int(text)


_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')


def _nesting_depth(text: str) -> int:
    """How deep ``[`` and ``{`` nest outside strings (without recursing)."""
    codes = np.frombuffer(_STRING.sub('""', text).encode(), np.uint8)
    steps = np.isin(codes, (ord("["), ord("{"))).astype(np.int64)
    steps -= np.isin(codes, (ord("]"), ord("}")))
    return int(np.cumsum(steps).max(initial=0))


def _ends_inside(text: str, error: json.JSONDecodeError) -> bool:
    """Whether the parser ran out of text: the file was cut short."""
    rest = text[error.pos :].strip()
    return (
        error.msg.startswith("Unterminated string")
        or not rest
        or (
            not error.msg.startswith("Extra data")
            and len(rest) < 10
            and (
                any(word.startswith(rest) for word in ("true", "false", "null"))
                or re.fullmatch(r"[-+.eE0-9]+", rest) is not None
            )
        )
    )


def _parse(path: str, raw: bytes):
    """The JSON document of a model file, or a ModelFileError saying why not."""
    if not raw.strip():
        raise ModelFileError(f"{path}: the model file is empty")
    truncated = ModelFileError(
        f"{path}: the model file is truncated (it ends inside the JSON)"
    )
    not_json = ModelFileError(f"{path}: not a tapereg model file (not JSON)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        cut = error.reason == "unexpected end of data"
        raise (truncated if cut else not_json) from None
    if _nesting_depth(text) > MAX_DEPTH:
        raise ModelFileError(
            f"{path}: not a tapereg model file (JSON nested more than {MAX_DEPTH} "
            "levels deep)"
        )
    try:
        return json.loads(
            text,
            parse_constant=_refuse_constant,
            parse_float=_finite_float,
            parse_int=_bounded_int,
        )
    except _Refused as problem:
        raise ModelFileError(f"{path}: {problem}") from None
    except json.JSONDecodeError as error:
        raise (truncated if _ends_inside(text, error) else not_json) from None
    except (ValueError, RecursionError):
        raise not_json from None


def _check_version(path: str, version) -> None:
    """Compare format versions as integers (``"1"`` is not a version)."""
    if not isinstance(version, int) or isinstance(version, bool):
        shown = json.dumps(version)
        raise ModelFileError(
            f"{path}: format_version must be an integer, got "
            f"{shown if len(shown) <= 40 else shown[:37] + '...'}"
        )
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path}: written by a newer tapereg (model format {version}, this "
            f"one reads up to {FORMAT_VERSION}); upgrade tapereg"
        )
    if version < 1:
        raise ModelFileError(
            f"{path}: format_version {version} is not a model format (they start at 1)"
        )


def read_model_file(path) -> dict:
    """The verified ``content`` of a model file, or a ModelFileError saying why not.

    Verified: JSON with finite numbers, this format and a version it reads, the
    checksum, then the content against the format (``model_format``).
    """
    path = os.fspath(path)
    try:
        with open(path, "rb") as file:
            raw = file.read()
    except FileNotFoundError:
        raise ModelFileError(f"{path}: no such model file") from None
    except IsADirectoryError:
        raise ModelFileError(f"{path}: is a directory, not a model file") from None
    document = _parse(path, raw)
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ModelFileError(f"{path}: not a tapereg model file")
    _check_version(path, document.get("format_version"))
    for key in document:
        if key not in DOCUMENT_KEYS:
            raise ModelFileError(f"{path}: {key!r} is not part of a model file")
    content = document.get("content")
    if (
        not isinstance(content, dict)
        or document.get("sha256") != hashlib.sha256(_canonical(content)).hexdigest()
    ):
        raise ModelFileError(f"{path}: the model file is corrupt (checksum mismatch)")
    problem = content_problem(content)
    if problem is not None:
        raise ModelFileError(f"{path}: {problem}")
    return content


def load(path):
    """Read a model file written by :func:`save` into a fitted LinearRegressor.

    Raises
    ------
    ModelFileError
        Missing, empty, truncated, altered, foreign or newer-format file, or
        content that is not a valid model (the field named; see ``model_format``).
    """
    from ..estimator import LinearRegressor

    content = read_model_file(path)
    try:
        estimator = LinearRegressor(**content["params"])
        outcome = _outcome(content)
    except (KeyError, TypeError, ValueError) as error:
        raise ModelFileError(
            f"{os.fspath(path)}: malformed model content ({error})"
        ) from None
    estimator._set_fitted(outcome, single_target=content["single_target"])
    if content.get("encoding") is not None:
        estimator._set_encoding(Encoding.from_json(content["encoding"]))
    return estimator


def _outcome(content: dict) -> FitOutcome:
    """The FitOutcome a model file describes."""
    coef = np.asarray(content["coef"], np.float64)
    intercept = np.asarray(content["intercept"], np.float64)
    n_features = int(content["n_features"])
    if coef.shape != (len(intercept), n_features):
        raise ValueError("coefficient shapes disagree")
    rate = content["learning_rate"]
    scaling = content["standardization"]
    return FitOutcome(
        coef=coef.T,
        intercept=intercept,
        single_target=bool(content["single_target"]),
        feature_names=content["feature_names"],
        target_names=list(content["target_names"]),
        training=TrainingRecord(
            n_iter=int(content["n_iter"]),
            loss_curve=np.asarray(content["loss_curve"], np.float64),
            learning_rate=float("nan") if rate is None else float(rate),
            standardization=None
            if scaling is None
            else Standardization(
                **{k: np.asarray(v, np.float64) for k, v in scaling.items()}
            ),
        ),
        statistics=None
        if content.get("statistics") is None
        else _statistics(content["statistics"]),
        moments=None
        if content.get("moments") is None
        else Moments(
            total_weight=float(content["moments"]["total_weight"]),
            n_samples=int(content["moments"]["n_samples"]),
            mean=np.asarray(content["moments"]["mean"], np.float64),
            covariance=np.asarray(content["moments"]["covariance"], np.float64),
            n_features=n_features,
            weighted=bool(content["moments"]["weighted"]),
        ),
        metrics=content.get("metrics"),
    )


def _statistics(content: dict) -> OLSStatistics:
    """The OLSStatistics a model file keeps."""

    def array(value):
        return np.asarray(value, dtype=np.float64)  # null → NaN

    return OLSStatistics(
        terms=list(content["terms"]),
        **{
            field: array(content[field])
            for field in STATISTICS_FIELDS
            if field not in ("nobs", "df_model", "df_resid")
        },
        nobs=int(content["nobs"]),
        df_model=np.float64(content["df_model"]),
        df_resid=np.float64(content["df_resid"]),
        n_groups=content.get("n_groups"),
        diagnostics=None
        if content.get("diagnostics") is None
        else Diagnostics(
            **{
                name: value if name == "weighted" else array(value)
                for name, value in content["diagnostics"].items()
            }
        ),
        cov=None
        if content.get("cov") is None
        else {name: array(matrix) for name, matrix in content["cov"].items()},
    )
