"""How a table's columns become the model's numbers: formulas and text categories.

An :class:`Encoding` is learned once from the rows (the levels of every
categorical column) and then applied, unchanged, to every block of rows, to new
rows at predict time and after ``load``: the same columns in the same order, so
streamed blocks and workers build the same design without ever holding all of it.

Two kinds:

- a formula (``"invest ~ np.log(value) + C(firm)"``), evaluated by formulaic (the
  Wilkinson-formula library statsmodels builds on) with each categorical column's
  levels fixed, so a block that lacks a level still gets its column; the terms are
  ordered as statsmodels (patsy) orders them, and named as it names them;
- without a formula, every column: numbers as they are, booleans as 0/1, text and
  pandas categories one-hot with the first level (sorted) as the reference, named
  ``firm[T.Chrysler]`` as a formula's ``firm`` would be.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from ..errors import DataError, ParameterError, warn

# A categorical column with more levels than this is refused: its one-hot
# columns would make the design as wide as the number of distinct values.
MAX_LEVELS = 10_000
CATEGORICAL_CHOICES = ("auto", "error")
_CALL_OF_C = re.compile(r"^C\(\s*([A-Za-z_][A-Za-z0-9_.]*)\s*[,)]")


@dataclass(frozen=True)
class Encoding:
    """The recipe from raw columns to the design's columns.

    ``formula`` is the right-hand side (None: every column); ``targets`` the
    formula's left-hand side columns (empty without one); ``columns`` the raw
    columns read; ``levels`` each categorical column's levels, the reference
    first; ``names`` the design's columns (the intercept apart); ``intercept``
    whether the formula keeps one.
    """

    formula: str | None
    columns: tuple[str, ...]
    levels: dict = field(default_factory=dict)
    names: tuple[str, ...] = ()
    targets: tuple[str, ...] = ()
    target_formula: str | None = None
    intercept: bool = True

    def to_json(self) -> dict:
        return {
            "formula": self.formula,
            "target_formula": self.target_formula,
            "columns": list(self.columns),
            "levels": {name: list(values) for name, values in self.levels.items()},
            "names": list(self.names),
            "targets": list(self.targets),
            "intercept": self.intercept,
        }

    @classmethod
    def from_json(cls, content: dict) -> Encoding:
        return cls(
            formula=content["formula"],
            target_formula=content["target_formula"],
            columns=tuple(content["columns"]),
            levels={name: tuple(values) for name, values in content["levels"].items()},
            names=tuple(content["names"]),
            targets=tuple(content["targets"]),
            intercept=bool(content["intercept"]),
        )


def is_categorical(column) -> bool:
    """Text, pandas categories, booleans and Python objects that are not all
    numbers: the columns an encoding turns into 0/1 columns. A column of text
    is categorical whatever the text says ("1", "2" are two levels), as in
    statsmodels' formulas, so every block of a stream decides alike."""
    import pandas as pd

    dtype = column.dtype
    if isinstance(dtype, pd.CategoricalDtype | pd.StringDtype) or dtype.kind == "b":
        return True
    if dtype.kind in "iufmM":
        return False  # dates: refused by the numeric checks with their own advice
    present = column.dropna()
    return any(isinstance(value, str | bytes | bool) for value in present[:1000]) or (
        bool(pd.to_numeric(present, errors="coerce").isna().any())
    )


def needs_encoding(frame, formula, categorical: str) -> bool:
    """Whether ``frame`` (a DataFrame or not) needs an :class:`Encoding`."""
    if formula is not None:
        return True
    if categorical == "error" or not hasattr(frame, "columns"):
        return False
    return any(is_categorical(frame[name]) for name in frame.columns)


def learn_encoding(frame, formula: str | None = None) -> Encoding:
    """The encoding of ``frame``'s columns (or of ``formula`` over them), with
    the levels ``frame`` holds. For blocks of rows, :func:`schema_of` the
    first, :func:`levels_in` each, :func:`merge_levels` and
    :func:`build_encoding`."""
    schema = schema_of(frame, formula)
    return build_encoding(schema, levels_in(frame, schema))


@dataclass(frozen=True)
class Schema:
    """What the first block says of every block: the raw columns the encoding
    reads, the categorical ones among them, and their kind (ordered: a pandas
    category's own order; else levels are sorted)."""

    formula: str | None
    columns: tuple[str, ...]
    categorical: tuple[str, ...]
    ordered: tuple[str, ...] = ()
    booleans: tuple[str, ...] = ()

    def to_json(self) -> dict:
        return {key: getattr(self, key) for key in self.__dataclass_fields__}

    @classmethod
    def from_json(cls, content: dict) -> Schema:
        return cls(
            content["formula"],
            *(tuple(content[key]) for key in ("columns", "categorical", "ordered")),
            booleans=tuple(content["booleans"]),
        )


def schema_of(frame, formula: str | None) -> Schema:
    """The :class:`Schema` of a frame (the first block of a stream)."""
    import pandas as pd

    if formula is None:
        columns = tuple(str(c) for c in frame.columns)
        categorical = tuple(c for c in frame.columns if is_categorical(frame[c]))
    else:
        parsed = parse_formula(formula)
        rhs = parsed.rhs if hasattr(parsed, "lhs") else parsed
        _refuse_stateful(rhs)
        targets = (
            sorted(parsed.lhs.required_variables) if hasattr(parsed, "lhs") else []
        )
        columns = tuple(sorted(rhs.required_variables))
        _check_present(frame, targets + list(columns))
        wrapped = set(_wrapped_in_c(rhs))
        categorical = tuple(
            c for c in columns if c in wrapped or is_categorical(frame[c])
        )
    for name in categorical:
        _warn_if_mostly_numbers(frame[name], str(name))
    return Schema(
        formula=formula,
        columns=columns,
        categorical=tuple(str(c) for c in categorical),
        ordered=tuple(
            str(c)
            for c in categorical
            if isinstance(frame[c].dtype, pd.CategoricalDtype)
        ),
        booleans=tuple(str(c) for c in categorical if frame[c].dtype.kind == "b"),
    )


def _warn_if_mostly_numbers(column, name: str) -> None:
    """A column of numbers with a few stray words is encoded as categories (as
    pandas and statsmodels would); say so, since a typo is the likelier story."""
    import pandas as pd

    if isinstance(column.dtype, pd.CategoricalDtype) or column.dtype.kind == "b":
        return
    present = column.dropna()
    numbers = pd.to_numeric(present, errors="coerce")
    words = present[numbers.isna()]
    if len(present) and 0 < len(words) <= 0.1 * len(present):
        warn(
            f"column {name!r} holds numbers but for {len(words):,} of "
            f"{len(present):,} values (such as {words.iloc[0]!r}); it is encoded "
            "as text categories, one column per level. Fix those values, or "
            "categorical='error' to refuse such columns",
            UserWarning,
        )


def levels_in(frame, schema: Schema) -> dict[str, tuple]:
    """Each categorical column's levels in this frame."""
    return {name: _levels_of(frame[name], name) for name in schema.categorical}


def merge_levels(schema: Schema, parts) -> dict[str, tuple]:
    """The levels of several blocks' :func:`levels_in` together: sorted, or in
    order of appearance for pandas categories (booleans: False, True)."""
    merged = {}
    for name in schema.categorical:
        seen = {}
        for part in parts:
            for level in part.get(name, ()):
                seen.setdefault(_key(level), level)
        levels = list(seen.values())
        if name in schema.booleans:
            levels = [False, True]
        elif name not in schema.ordered:
            levels = _sorted(levels)
        _check_level_count(name, len(levels))
        merged[name] = tuple(levels)
    return merged


def _key(level):
    """One key for a level however it arrived (2 and 2.0 alike, text apart)."""
    return ("t", level) if isinstance(level, str) else ("v", level)


def _sorted(levels):
    try:
        return sorted(levels)
    except TypeError:  # text and numbers together: sorted as text
        return sorted(levels, key=str)


def _levels_of(column, name: str) -> tuple:
    """A categorical column's levels: a pandas category's own, booleans False and
    True, else the values present, sorted."""
    import pandas as pd

    if isinstance(column.dtype, pd.CategoricalDtype):
        levels = column.cat.categories.tolist()
    elif column.dtype.kind == "b":
        levels = [False, True]
    else:
        levels = _sorted(pd.unique(column.dropna()).tolist())
    _check_level_count(name, len(levels))
    return tuple(_plain(v) for v in levels)


def _check_level_count(name: str, count: int) -> None:
    """Refuse a column with more than ``MAX_LEVELS`` levels (one block's or all's)."""
    if count > MAX_LEVELS:
        raise DataError(
            f"column {name!r} has {count:,} distinct values, over the "
            f"{MAX_LEVELS:,} levels a categorical column may have; drop it or "
            "convert it to numbers"
        )


def _plain(value):
    """A level as a JSON-able Python value (NumPy scalars unwrapped)."""
    return value.item() if isinstance(value, np.generic) else value


def build_encoding(schema: Schema, levels: dict) -> Encoding:
    """The :class:`Encoding` of a schema and its (merged) levels; the design's
    names come from a one-row frame made of the levels, not from the data, so
    every worker builds the same, rows or none."""
    if schema.formula is None:
        names = []
        for name in schema.columns:
            if name not in levels or name in schema.booleans:
                names.append(name)
            else:
                names += [f"{name}[T.{level}]" for level in levels[name][1:]]
        return Encoding(
            formula=None, columns=schema.columns, levels=levels, names=tuple(names)
        )
    from formulaic import Formula

    parsed = parse_formula(schema.formula)
    has_lhs = hasattr(parsed, "lhs")
    rhs = parsed.rhs if has_lhs else parsed
    ordered = _patsy_order(rhs, set(schema.categorical))
    rhs_text = " + ".join(ordered) if ordered else "1"
    if not any(str(term) == "1" for term in rhs):
        rhs_text += " - 1"
    probe = _materialize(Formula(rhs_text, _ordering="none"), _probe(schema, levels))
    target_formula = str(parsed.lhs) if has_lhs else None
    targets = ()
    if has_lhs:
        needed = sorted(parsed.lhs.required_variables)
        one = _probe(Schema(None, tuple(needed), ()), {})
        lhs = _materialize(Formula(target_formula, _ordering="none"), one)
        targets = tuple(str(c) for c in lhs.columns if c != "Intercept")
    return Encoding(
        formula=rhs_text,
        target_formula=target_formula,
        columns=schema.columns,
        levels=levels,
        names=tuple(str(c) for c in probe.columns if c != "Intercept"),
        targets=targets,
        intercept="Intercept" in probe.columns,
    )


def _probe(schema: Schema, levels: dict):
    """One row: each categorical column's first level, 1.0 in the others."""
    import pandas as pd

    row = {
        name: [levels[name][0]] if name in levels else [1.0] for name in schema.columns
    }
    return _with_levels(pd.DataFrame(row), levels)


def parse_formula(formula: str):
    from formulaic import Formula
    from formulaic.errors import FormulaicError

    try:
        return Formula(formula, _ordering="none")
    except (FormulaicError, SyntaxError, ValueError) as error:
        raise ParameterError(f"formula {formula!r} cannot be read: {error}") from None


# formulaic's transforms that learn from the data they are given (a mean, a
# scale, knots, previous rows): each block of a stream would learn its own.
_STATEFUL = {"center", "scale", "standardize", "poly", "bs", "cc", "cr", "cs", "lag"}


def _refuse_stateful(rhs) -> None:
    import ast

    for term in rhs:
        for factor in term.factors:
            try:
                tree = ast.parse(str(factor.expr), mode="eval")
            except SyntaxError:
                continue
            for node in ast.walk(tree):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Name)
                    and node.func.id in _STATEFUL
                ):
                    raise ParameterError(
                        f"the formula's {factor.expr} learns from the data it is "
                        "given (a stateful transform), so blocks of rows would each "
                        "learn their own; write it with plain arithmetic, such as "
                        "I((x - 3.2) / 1.5)"
                    )


def _wrapped_in_c(rhs):
    """The columns a formula's ``C(...)`` makes categorical (numbers included)."""
    for term in rhs:
        for factor in term.factors:
            match = _CALL_OF_C.match(str(factor.expr))
            if match:
                yield match.group(1)


def _patsy_order(rhs, categorical) -> list[str]:
    """The terms in statsmodels' (patsy's) order: the intercept apart, terms of
    categorical factors only first (by degree), then the others grouped by their
    set of numeric factors in order of first appearance, each group by degree."""

    def is_categorical_factor(factor) -> bool:
        expr = str(factor.expr)
        return expr in categorical or bool(_CALL_OF_C.match(expr))

    terms = [term for term in rhs if str(term) != "1"]
    only_categorical = [
        term for term in terms if all(map(is_categorical_factor, term.factors))
    ]
    groups: dict[tuple, list] = {}
    for term in terms:
        if term in only_categorical:
            continue
        numeric = tuple(
            sorted(str(f) for f in term.factors if not is_categorical_factor(f))
        )
        groups.setdefault(numeric, []).append(term)
    ordered = sorted(only_categorical, key=lambda term: term.degree)
    for group in groups.values():
        ordered += sorted(group, key=lambda term: term.degree)
    return [":".join(map(_written, term.factors)) for term in ordered]


def _written(factor) -> str:
    """A factor as a formula writes it: a column whose name is not a Python
    name in backticks (formulaic's own text drops them)."""
    from formulaic.parser.types import Factor

    expr = str(factor.expr)
    if factor.eval_method == Factor.EvalMethod.LOOKUP and not expr.isidentifier():
        return f"`{expr}`"
    return expr


def _check_present(frame, names) -> None:
    missing = [name for name in names if name not in frame.columns]
    if missing:
        listed = ", ".join(str(c) for c in frame.columns)
        raise DataError(
            f"the formula uses column {missing[0]!r}, which the data lack "
            f"(columns: {listed})"
        )


def _with_levels(frame, levels):
    """``frame`` with each categorical column a pandas Categorical of exactly
    ``levels``; a value outside them is a DataError naming column and value."""
    import pandas as pd

    frame = frame.copy()
    for name, known in levels.items():
        column = frame[name]
        if column.isna().any():
            row = int(np.flatnonzero(column.isna().to_numpy())[0]) + 1
            raise DataError(
                f"column {name!r}, row {row}: missing value; drop the rows with "
                "missing values (missing='drop') or fill them"
            )
        if column.dtype.kind == "b" or known == (False, True):
            values = column.astype(object)
        else:
            values = column
        unseen = ~values.isin(known) & values.notna()
        if unseen.any():
            value = values[unseen].iloc[0]
            shown = ", ".join(map(repr, known[:5])) + (
                ", ..." if len(known) > 5 else ""
            )
            raise DataError(
                f"column {name!r} holds {value!r}, a level not seen in training "
                f"(levels: {shown}); a model can only predict the levels it was "
                "fitted on"
            )
        frame[name] = pd.Categorical(values, categories=list(known))
    return frame


def _materialize(formula, frame, output="pandas"):
    """formulaic's model matrix of ``frame`` (a pandas DataFrame, or a SciPy
    sparse matrix); a missing value is an error (rows are dropped, or refused,
    before this)."""
    from formulaic import model_matrix
    from formulaic.errors import FormulaicError

    try:
        matrix = model_matrix(
            formula, frame, na_action="raise", context=_NAMESPACE, output=output
        )
    except (FormulaicError, NameError, TypeError, ValueError, SyntaxError) as error:
        raise DataError(f"the formula cannot be evaluated: {error}") from None
    if matrix.model_spec.transform_state:
        names = ", ".join(matrix.model_spec.transform_state)
        raise ParameterError(
            f"the formula's {names} learns from the data it is given (a stateful "
            "transform), so blocks of rows would each learn their own; write it "
            "with plain arithmetic, such as I((x - 3.2) / 1.5)"
        )
    return matrix


# What a formula may call: NumPy as np (np.log, np.exp, ...).
_NAMESPACE = {"np": np, "numpy": np}


def encode(encoding: Encoding, frame) -> np.ndarray:
    """The design's columns (n, len(encoding.names)) of ``frame``, float64."""
    _check_columns(encoding, frame)
    if encoding.formula is None:
        return _encode_columns(encoding, frame)
    from formulaic import Formula

    # Sparse, then dense: formulaic builds one-hot columns sparse ten times faster
    # than a DataFrame of them, whose conversion to one array is slower still.
    matrix = _materialize(
        Formula(encoding.formula, _ordering="none"),
        _with_levels(frame, encoding.levels),
        output="sparse",
    )
    columns = list(matrix.model_spec.column_names)
    keep = [i for i, name in enumerate(columns) if name != "Intercept"]
    if [columns[i] for i in keep] != list(encoding.names):  # pragma: no cover
        keep = [columns.index(name) for name in encoding.names]
    return matrix.tocsc()[:, keep].toarray().astype(np.float64, copy=False)


def encode_frame(encoding: Encoding, frame):
    """:func:`encode` as a DataFrame named by the design's columns (what the
    estimator validates, so it learns or checks those names)."""
    import pandas as pd

    return pd.DataFrame(encode(encoding, frame), columns=list(encoding.names))


def encode_targets(encoding: Encoding, frame) -> np.ndarray:
    """The formula's left-hand side (n, n_targets) of ``frame``, float64."""
    from formulaic import Formula

    matrix = _materialize(Formula(encoding.target_formula, _ordering="none"), frame)
    return np.asarray(matrix[list(encoding.targets)], np.float64)


def _check_columns(encoding, frame) -> None:
    missing = [name for name in encoding.columns if name not in frame.columns]
    if missing:
        listed = ", ".join(str(c) for c in frame.columns)
        raise DataError(
            f"the model needs column {missing[0]!r}, which the data lack "
            f"(columns: {listed})"
        )


def _encode_columns(encoding, frame) -> np.ndarray:
    frame = _with_levels(frame, encoding.levels)
    parts = []
    for name in encoding.columns:
        column = frame[name]
        known = encoding.levels.get(name)
        if known is None:
            parts.append(np.asarray(column, np.float64)[:, None])
        elif known == (False, True):
            parts.append((column.cat.codes.to_numpy() == 1)[:, None].astype(float))
        else:
            codes = column.cat.codes.to_numpy()
            parts.append((codes[:, None] == np.arange(1, len(known))).astype(float))
    if not parts:
        return np.empty((len(frame), 0))
    return np.hstack(parts)
