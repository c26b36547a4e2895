"""What a model file's ``content`` must hold: its keys, JSON types and shapes.

The format is meant to be read and edited by hand, and whoever edits it can
recompute the checksum, so the checksum proves nothing about the content. This
module describes the content declaratively (:data:`CONTENT`) and checks a parsed
content against it, so that every model :func:`tapereg.load` builds predicts
finite numbers from finite data (short of overflowing float64) and names its
columns unambiguously. :func:`content_problem` says what is wrong, naming the
field (``content.coef[0][0] is null; a model's numbers must be finite``), or
returns None.

Sizes are named dimensions: ``n_features`` is ``content.n_features``,
``n_targets`` the number of rows of ``content.coef``, ``n_terms`` the number of
``content.statistics.terms``; every array with one of these lengths must have it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

from ..fitting.choices import COV_TYPES

# Where each dimension's size comes from, and what it counts (for messages).
_DIMENSIONS = {
    "n_features": ("feature", "content.n_features"),
    "n_targets": ("target", "the rows of content.coef"),
    "n_terms": ("term", "content.statistics.terms"),
}
_KINDS = {
    "null": "null",
    "bool": "true or false",
    "integer": "an integer",
    "number": "a number",
    "string": "a string",
    "list": "a list",
    "object": "an object",
}


class _Invalid(Exception):
    """The first problem found (one line, without the file's name)."""


def _kind(value) -> str:
    """The JSON kind of a parsed value (an integer is also a number)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "list" if isinstance(value, list) else "object"


def _shown(value) -> str:
    """A value as the file spells it, cut to a readable length."""
    text = json.dumps(value, default=repr)  # save() checks Python values too
    return text if len(text) <= 40 else text[:37] + "..."


def _expected(kinds, where: str, value) -> _Invalid:
    wanted = " or ".join(_KINDS[k] for k in kinds)
    return _Invalid(f"{where} must be {wanted}, got {_shown(value)}")


def _member(where: str, key: str) -> str:
    return f"{where}.{key}" if key.isidentifier() else f"{where}[{json.dumps(key)}]"


def _length(where: str, items, dimension: str | None, dims: dict) -> None:
    """Check ``len(items)`` against a dimension, binding it on first sight."""
    if dimension is None:
        return
    if isinstance(dimension, int):  # a fixed size (a test's figures)
        if len(items) != dimension:
            raise _Invalid(f"{where} has {len(items)} entries, not {dimension}")
        return
    noun, source = _DIMENSIONS[dimension]
    if dimension not in dims:
        if not items:
            raise _Invalid(f"{where} is empty; a model has at least one {noun}")
        dims[dimension] = len(items)
    elif len(items) != dims[dimension]:
        size = dims[dimension]
        raise _Invalid(
            f"{where} has {len(items)} entries for the model's {size} "
            f"{noun}{'' if size == 1 else 's'} ({source})"
        )


@dataclass(frozen=True)
class Number:
    """A finite number; null (NaN or ±inf when written) only where ``nullable``."""

    nullable: bool = False
    positive: bool = False

    def check(self, value, where: str, dims: dict) -> None:
        kind = _kind(value)
        if kind == "null":
            if not self.nullable:
                raise _Invalid(f"{where} is null; a model's numbers must be finite")
            return
        if kind not in ("integer", "number"):
            raise _expected(
                ("number", "null") if self.nullable else ("number",), where, value
            )
        try:
            finite = math.isfinite(value)
        except OverflowError:  # an integer beyond float64
            finite = False
        if not finite:
            raise _Invalid(f"{where} is {value}; a model's numbers must be finite")
        if self.positive and not value > 0:
            raise _Invalid(f"{where} must be > 0, got {_shown(value)}")


@dataclass(frozen=True)
class Integer:
    """An integer >= ``minimum``; with ``whole``, also a float with no fraction
    (the statistics' ``nobs`` is written as ``20.0``)."""

    minimum: int
    whole: bool = False

    def check(self, value, where: str, dims: dict) -> None:
        kind = _kind(value)
        whole = self.whole and kind == "number" and float(value).is_integer()
        if kind != "integer" and not whole:
            raise _expected(("integer",), where, value)
        if value < self.minimum:
            raise _Invalid(f"{where} must be >= {self.minimum}, got {_shown(value)}")


@dataclass(frozen=True)
class Size:
    """An integer >= 1 that fixes a dimension (``content.n_features``)."""

    dimension: str

    def check(self, value, where: str, dims: dict) -> None:
        Integer(minimum=1).check(value, where, dims)
        dims[self.dimension] = value


@dataclass(frozen=True)
class Flag:
    """true or false."""

    def check(self, value, where: str, dims: dict) -> None:
        if _kind(value) != "bool":
            raise _expected(("bool",), where, value)


@dataclass(frozen=True)
class Choice:
    """One of a few strings."""

    choices: tuple[str, ...]

    def check(self, value, where: str, dims: dict) -> None:
        if value not in self.choices or _kind(value) != "string":
            wanted = " or ".join(json.dumps(c) for c in self.choices)
            raise _Invalid(f"{where} must be {wanted}, got {_shown(value)}")


@dataclass(frozen=True)
class Text:
    """A string."""

    def check(self, value, where: str, dims: dict) -> None:
        if _kind(value) != "string":
            raise _expected(("string",), where, value)


@dataclass(frozen=True)
class Levels:
    """An object of lists of distinct levels (strings, numbers or booleans): a
    categorical column's, the reference first."""

    def check(self, value, where: str, dims: dict) -> None:
        if _kind(value) != "object":
            raise _expected(("object",), where, value)
        for column, levels in value.items():
            here = _member(where, column)
            if _kind(levels) != "list" or not levels:
                raise _Invalid(f"{here} must be a non-empty list of levels")
            for i, level in enumerate(levels):
                if _kind(level) not in ("string", "number", "integer", "bool"):
                    raise _expected(("string", "number", "bool"), f"{here}[{i}]", level)
            if len({json.dumps(level) for level in levels}) != len(levels):
                raise _Invalid(f"{here} names a level twice; levels must be unique")


@dataclass(frozen=True)
class Names:
    """A list of distinct strings, one per entry of a dimension."""

    dimension: str

    def check(self, value, where: str, dims: dict) -> None:
        if _kind(value) != "list":
            raise _expected(("list",), where, value)
        for i, name in enumerate(value):
            if _kind(name) != "string":
                raise _expected(("string",), f"{where}[{i}]", name)
        _length(where, value, self.dimension, dims)
        seen = set()
        for name in value:
            if name in seen:
                raise _Invalid(
                    f"{where} names {_shown(name)} twice; names must be unique"
                )
            seen.add(name)


@dataclass(frozen=True)
class Array:
    """Nested lists of ``item`` with one dimension (or None: any length) per level."""

    item: object
    shape: tuple[str | int | None, ...]

    def check(self, value, where: str, dims: dict) -> None:
        if _kind(value) != "list":
            raise _expected(("list",), where, value)
        _length(where, value, self.shape[0], dims)
        inner = Array(self.item, self.shape[1:]) if len(self.shape) > 1 else self.item
        for i, entry in enumerate(value):
            inner.check(entry, f"{where}[{i}]", dims)


@dataclass(frozen=True)
class Nullable:
    """null, or what ``spec`` describes."""

    spec: object

    def check(self, value, where: str, dims: dict) -> None:
        if value is not None:
            self.spec.check(value, where, dims)


@dataclass(frozen=True)
class Record:
    """An object with exactly these keys, checked in this order."""

    fields: dict
    optional: tuple = ()  # keys a file may lack (added to the format later)

    def check(self, value, where: str, dims: dict) -> None:
        if _kind(value) != "object":
            raise _expected(("object",), where, value)
        for key in self.fields:
            if key not in value and key not in self.optional:
                raise _Invalid(f"{_member(where, key)} is missing")
        for key in value:
            if key not in self.fields:
                raise _Invalid(f"{_member(where, key)} is not part of a model file")
        for key, spec in self.fields.items():
            if key in value:
                spec.check(value[key], _member(where, key), dims)


@dataclass(frozen=True)
class Metrics:
    """An object of numbers (null for undefined ones) or, up to ``depth`` levels
    deep, of such objects: the CLI's metrics, per target for several
    (``{"mean_over_targets": {...}, "targets": {"y1": {...}}}``)."""

    depth: int = 3

    def check(self, value, where: str, dims: dict) -> None:
        if _kind(value) != "object":
            raise _expected(("object",), where, value)
        for key, entry in value.items():
            if _kind(entry) == "object" and self.depth > 1:
                Metrics(self.depth - 1).check(entry, _member(where, key), dims)
            else:
                _OPTIONAL_NUMBERS.check(entry, _member(where, key), dims)


# The JSON kinds of LinearRegressor's parameters (the estimator's own
# ``check_params`` then judges the values); any other parameter it gains is a
# JSON scalar.
PARAM_KINDS = {
    "learning_rate": ("string", "number"),
    "max_iter": ("integer",),
    "optimizer": ("string",),
    "batch_size": ("integer", "null"),
    "fit_intercept": ("bool",),
    "standardize": ("bool",),
    "alpha": ("number",),
    "l1_ratio": ("number",),
    "tol": ("number", "null"),
    "n_iter_no_change": ("integer",),
    "solver": ("string",),
    "engine": ("string",),
    "momentum": ("number",),
    "nesterov": ("bool",),
    "dtype": ("string",),
    "random_state": ("integer", "null"),
    "verbose": ("integer", "bool"),
    "compute_statistics": ("bool",),
    "cov_type": ("string",),
    "formula": ("string", "null"),
    "categorical": ("string",),
    "missing": ("string",),
    "positive": ("bool",),
    "loss": ("string",),
    "epsilon": ("number",),
    "quantile": ("number",),
    "warm_start": ("bool",),
    "logdir": ("string", "null"),
    "checkpoint_dir": ("string", "null"),
    "checkpoint_every": ("integer",),
    "resume": ("bool",),
    "strategy": ("string", "null"),
}
_SCALAR = ("string", "number", "bool", "null")


@dataclass(frozen=True)
class Params:
    """LinearRegressor's parameters (a subset: the others keep their defaults),
    of the right JSON kinds and accepted by the estimator's ``check_params``."""

    def check(self, value, where: str, dims: dict) -> None:
        from ..errors import ParameterError
        from ..estimator import LinearRegressor
        from ..fitting.plan import check_params

        if _kind(value) != "object":
            raise _expected(("object",), where, value)
        names = LinearRegressor._get_param_names()
        for key, entry in value.items():
            if key not in names:
                raise _Invalid(
                    f"{_member(where, key)} is not a LinearRegressor parameter"
                )
            kinds = PARAM_KINDS.get(key, _SCALAR)
            kind = _kind(entry)
            if kind not in kinds and not (kind == "integer" and "number" in kinds):
                raise _expected(kinds, _member(where, key), entry)
        try:
            check_params(LinearRegressor(**value).get_params())
        except (ParameterError, TypeError, ValueError) as error:
            raise _Invalid(f"{where}: {error}") from None


_NUMBERS = Array(Number(), (None,))
_OPTIONAL_NUMBERS = Number(nullable=True)  # null where the writer had NaN or ±inf

#: The content of model format 1: every key, in the order they are checked
#: (``n_features`` and ``coef`` first: they fix the dimensions).
CONTENT = Record(
    {
        "n_features": Size("n_features"),
        "coef": Array(Number(), ("n_targets", "n_features")),
        "intercept": Array(Number(), ("n_targets",)),
        "single_target": Flag(),
        "feature_names": Nullable(Names("n_features")),
        "target_names": Names("n_targets"),
        "dtype": Choice(("float32", "float64")),
        "standardization": Nullable(
            Record(
                {
                    "x_mean": Array(Number(), ("n_features",)),
                    "x_scale": Array(Number(positive=True), ("n_features",)),
                    "y_mean": Array(Number(), ("n_targets",)),
                    "y_scale": Array(Number(positive=True), ("n_targets",)),
                }
            )
        ),
        "params": Params(),
        "n_iter": Integer(minimum=0),
        "learning_rate": Nullable(Number(positive=True)),
        "loss_curve": _NUMBERS,
        "metrics": Nullable(Metrics()),
        "statistics": Nullable(
            Record(
                {
                    "terms": Names("n_terms"),
                    "coef": Array(_OPTIONAL_NUMBERS, ("n_terms", "n_targets")),
                    "std_err": Array(_OPTIONAL_NUMBERS, ("n_terms", "n_targets")),
                    "nobs": Integer(minimum=0, whole=True),
                    "df_model": _OPTIONAL_NUMBERS,
                    "df_resid": _OPTIONAL_NUMBERS,
                    "rsquared": Array(_OPTIONAL_NUMBERS, ("n_targets",)),
                    "rsquared_adj": Array(_OPTIONAL_NUMBERS, ("n_targets",)),
                    "fvalue": Array(_OPTIONAL_NUMBERS, ("n_targets",)),
                    "f_pvalue": Array(_OPTIONAL_NUMBERS, ("n_targets",)),
                    "resid_std_err": Array(_OPTIONAL_NUMBERS, ("n_targets",)),
                    "n_groups": Nullable(Integer(minimum=2)),
                    "diagnostics": Nullable(
                        Record(
                            {
                                "llf": Array(_OPTIONAL_NUMBERS, ("n_targets",)),
                                "aic": Array(_OPTIONAL_NUMBERS, ("n_targets",)),
                                "bic": Array(_OPTIONAL_NUMBERS, ("n_targets",)),
                                "durbin_watson": Array(
                                    _OPTIONAL_NUMBERS, ("n_targets",)
                                ),
                                "jarque_bera": Array(
                                    _OPTIONAL_NUMBERS, ("n_targets", 4)
                                ),
                                "omnibus": Array(_OPTIONAL_NUMBERS, ("n_targets", 2)),
                                "condition_number": _OPTIONAL_NUMBERS,
                                "smallest_eigenvalue": _OPTIONAL_NUMBERS,
                                "vif": Array(_OPTIONAL_NUMBERS, ("n_features",)),
                                "weighted": Flag(),
                            }
                        )
                    ),
                    "cov": Nullable(
                        Record(
                            {
                                name: Array(
                                    _OPTIONAL_NUMBERS,
                                    ("n_targets", "n_terms", "n_terms"),
                                )
                                for name in COV_TYPES
                            },
                            optional=COV_TYPES[1:],  # robust types: when fitted
                        )
                    ),
                },
                optional=("cov", "n_groups", "diagnostics"),
            )
        ),
        "encoding": Nullable(
            Record(
                {
                    "formula": Nullable(Text()),
                    "target_formula": Nullable(Text()),
                    "columns": Array(Text(), (None,)),
                    "levels": Levels(),
                    "names": Names("n_features"),
                    "targets": Array(Text(), (None,)),
                    "intercept": Flag(),
                }
            )
        ),
        "moments": Nullable(
            Record(
                {
                    "total_weight": Number(positive=True),
                    "n_samples": Integer(minimum=1),
                    "mean": Array(Number(), (None,)),
                    "covariance": Array(Number(), (None, None)),
                    "weighted": Flag(),
                }
            )
        ),
    },
    optional=("encoding", "moments"),
)


def _cross_checks(content: dict, dims: dict) -> None:
    """What the per-field description cannot say."""
    n_targets = dims["n_targets"]
    if content["single_target"] and n_targets != 1:
        raise _Invalid(
            f"content.single_target is true but the model has {n_targets} targets"
        )
    moments = content.get("moments")
    if moments is not None:
        columns = dims["n_features"] + n_targets
        covariance = moments["covariance"]
        if (
            len(moments["mean"]) != columns
            or len(covariance) != columns
            or any(len(row) != columns for row in covariance)
        ):
            raise _Invalid(
                f"content.moments must describe the model's {columns} columns of "
                "[X, Y] (mean: that many entries; covariance: that many squared)"
            )
    if content["statistics"] is not None:
        n_terms, n_features = dims["n_terms"], dims["n_features"]
        if n_terms not in (n_features, n_features + 1):
            raise _Invalid(
                f"content.statistics.terms has {n_terms} terms for the model's "
                f"{n_features} features (one per feature, and the intercept's)"
            )


def content_problem(content) -> str | None:
    """What makes ``content`` (a parsed model file's) unusable, in one line; None
    when it describes a model."""
    dims: dict[str, int] = {}
    try:
        CONTENT.check(content, "content", dims)
        _cross_checks(content, dims)
    except _Invalid as problem:
        return str(problem)
    return None
