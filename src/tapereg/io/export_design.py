"""The model's design rebuilt in TensorFlow from raw columns, for the SavedModel.

A model fitted through an :class:`~tapereg.design.encoding.Encoding` (a formula, or
text columns one-hot encoded) is served from its raw columns: a client sends
``firm="IBM"``, not ``C(firm)[T.IBM]=1``. :func:`plan_design` works out, without
TensorFlow, what each design column is (a product of factors: a numeric expression
of the inputs, or the indicator of one level of a categorical input) and refuses
what the graph cannot compute; :class:`ServedDesign` computes it in the graph.

Inputs, one per raw column (``encoding.columns``):

- a numeric column: float32 ``[None]``, cast to float64 inside;
- a categorical column whose levels are all booleans: tf.bool ``[None]``;
- any other categorical column: tf.string ``[None]``, matched against
  ``str(level)`` of each level as fitted. Numbers used as categories are matched in
  that form too: ``C(year)`` on a float column takes ``"1936.0"``, on an integer
  column ``"1936"``; the export's metadata lists the levels as served.

A string outside the levels is an ``InvalidArgumentError`` naming the column
("unseen level"), never silently the reference level.

Formula terms that export: numeric columns, text or boolean columns used directly,
``C(col)`` and ``C(col, Treatment(...))`` (treatment, i.e. dummy, coding), their
interactions (``a:b``, ``a*b``), and arithmetic of numeric columns: ``I(...)`` with
``+ - * / **`` and the NumPy functions of ``_FUNCTIONS`` (``np.log``, ``np.exp``,
``np.sqrt`` …), each mapped to its ``tf.math`` counterpart. Anything else is a
``ParameterError`` naming the term.
"""

from __future__ import annotations

import ast
import functools
import itertools
import operator
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from ..errors import ParameterError

# NumPy functions a formula may call in an exported model, and their TensorFlow.
_FUNCTIONS = {
    "log": tf.math.log,
    "log1p": tf.math.log1p,
    "log2": lambda x: tf.math.log(x) / tf.constant(np.log(2.0), tf.float64),
    "log10": lambda x: tf.math.log(x) / tf.constant(np.log(10.0), tf.float64),
    "exp": tf.math.exp,
    "expm1": tf.math.expm1,
    "sqrt": tf.math.sqrt,
    "square": tf.math.square,
    "abs": tf.math.abs,
}
_BINARY = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
}
_UNSUPPORTED_TAIL = (
    "it computes numeric columns, text and boolean columns, C(column) and "
    "C(column, Treatment(...)), their interactions, and arithmetic of numeric "
    "columns (I(...) with + - * / **, np." + ", np.".join(_FUNCTIONS) + "); "
    "compute that column in the data and refit to export this model"
)


@dataclass(frozen=True)
class ServedInput:
    """One input of the serving signatures: a raw column, its signature ``key``,
    ``dtype`` ("float32", "string" or "bool") and, for a category, its ``levels``
    as served (strings, or booleans), the reference first."""

    name: str
    key: str
    dtype: str
    levels: tuple | None = None

    def to_json(self) -> dict:
        entry = {"name": self.name, "key": self.key, "dtype": self.dtype}
        if self.levels is not None:
            entry["levels"] = list(self.levels)
        return entry


@dataclass(frozen=True)
class Indicator:
    """1.0 where the categorical input ``column`` is its ``index``-th level."""

    column: str
    index: int


@dataclass(frozen=True)
class DesignPlan:
    """The serving inputs, and each design column as the factors it multiplies:
    :class:`Indicator` or a numeric expression tree (see :func:`_expression`)."""

    inputs: tuple[ServedInput, ...]
    columns: tuple[tuple, ...]


def plan_design(encoding, feature_names, keys_for) -> DesignPlan:
    """What the graph computes for a model with ``encoding`` (None: its float32
    features as they are); ``keys_for(names)`` gives the signature keys."""
    if encoding is None:
        keys = keys_for(feature_names)
        inputs = tuple(
            ServedInput(name, key, "float32")
            for name, key in zip(feature_names, keys, strict=True)
        )
        return DesignPlan(inputs, tuple((("column", n),) for n in feature_names))
    served = {
        name: _served_levels(name, encoding.levels[name]) for name in encoding.levels
    }
    keys = keys_for(encoding.columns)
    inputs = tuple(
        ServedInput(
            name,
            key,
            "float32" if name not in served else served[name][0],
            None if name not in served else served[name][1],
        )
        for name, key in zip(encoding.columns, keys, strict=True)
    )
    if encoding.formula is None:
        columns = _columns_without_formula(encoding)
    else:
        columns = _columns_of_formula(encoding)
    return DesignPlan(inputs, columns)


def _served_levels(name, levels) -> tuple[str, tuple]:
    """A categorical column's dtype and its levels as the client sends them."""
    if levels and all(type(level) is bool for level in levels):
        return "bool", tuple(levels)
    texts = tuple(str(level) for level in levels)
    if len(set(texts)) < len(texts):
        raise ParameterError(
            f"column {name!r} has levels that read alike as text "
            f"({', '.join(map(repr, levels))}), so the export, which takes the "
            "category as a string, cannot tell them apart; make them distinct text "
            "and refit"
        )
    return "string", texts


def _columns_without_formula(encoding) -> tuple[tuple, ...]:
    """As ``encode`` lays them out: numbers as they are, booleans one 0/1 column,
    other categories one column per level after the reference."""
    columns = []
    for name in encoding.columns:
        known = encoding.levels.get(name)
        if known is None:
            columns.append((("column", name),))
        elif tuple(known) == (False, True):
            columns.append((Indicator(name, 1),))
        else:
            columns += [(Indicator(name, i),) for i in range(1, len(known))]
    if len(columns) != len(encoding.names):
        raise ParameterError(
            f"the model's encoding names {len(encoding.names)} design columns but "
            f"its columns and levels make {len(columns)}; the model file is "
            "inconsistent"
        )
    return tuple(columns)


def _columns_of_formula(encoding) -> tuple[tuple, ...]:
    """Each design column of the formula, found among the columns its terms can
    make: formulaic names a column by its factors' names joined with ``:`` in the
    term's order, a category's factor ``expr[T.level]`` (reduced: the reference
    left out) or ``expr[level]`` (full rank), a numeric one by its expression."""
    from formulaic import Formula

    candidates: dict[str, tuple] = {}
    ambiguous: set[str] = set()
    for term in Formula(encoding.formula, _ordering="none"):
        if str(term) == "1":
            continue
        options = [_factor_columns(factor, term, encoding) for factor in term.factors]
        for combination in itertools.product(*options):
            name = ":".join(part for part, _ in combination)
            factors = tuple(factor for _, factor in combination)
            if candidates.get(name, factors) != factors:
                ambiguous.add(name)
            candidates[name] = factors
    columns = []
    for name in encoding.names:
        if name in ambiguous or name not in candidates:
            why = "could be several" if name in ambiguous else "is none"
            raise ParameterError(
                f"the export cannot tell what the design column {name!r} of the "
                f"formula {encoding.formula!r} computes (it {why} of the columns "
                "its terms make)"
            )
        columns.append(candidates[name])
    return tuple(columns)


def _factor_columns(factor, term, encoding) -> list[tuple[str, object]]:
    """The (name, factor) columns one formula factor can make."""
    expr = str(factor.expr)
    method = getattr(factor.eval_method, "value", factor.eval_method)
    if method == "lookup" and expr in encoding.levels:
        return _indicators(expr, expr, encoding.levels[expr])
    if method == "lookup" and expr in encoding.columns:
        return [(expr, ("column", expr))]
    if method == "python":
        try:
            node = ast.parse(expr, mode="eval").body
        except SyntaxError:
            node = None
        column = _categorical_call(node, encoding) if node is not None else None
        if column is not None:
            return _indicators(expr, column, encoding.levels[column])
        try:
            if node is None:
                raise _Untranslatable
            return [(expr, _expression(node, encoding))]
        except _Untranslatable:
            pass
    where = "" if str(term) == expr else f" (in the term {term})"
    raise ParameterError(
        f"the export cannot compute {expr}{where} in TensorFlow; {_UNSUPPORTED_TAIL}"
    )


def _indicators(expr, column, levels) -> list[tuple[str, Indicator]]:
    found = []
    for index, level in enumerate(levels):
        found.append((f"{expr}[T.{level}]", Indicator(column, index)))
        found.append((f"{expr}[{level}]", Indicator(column, index)))
    return found


def _categorical_call(node, encoding) -> str | None:
    """The column of ``C(column)`` or ``C(column, Treatment(...))``; None for
    anything else (other contrasts, ``levels=`` and so on)."""
    if not (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "C"
        and not node.keywords
        and 1 <= len(node.args) <= 2
        and isinstance(node.args[0], ast.Name)
        and node.args[0].id in encoding.levels
    ):
        return None
    if len(node.args) == 2:
        contrast = node.args[1]
        if isinstance(contrast, ast.Call):
            arguments = list(contrast.args) + [k.value for k in contrast.keywords]
            plain = all(isinstance(a, ast.Constant) for a in arguments) and all(
                k.arg == "reference" for k in contrast.keywords
            )
            contrast = contrast.func if plain and len(arguments) <= 1 else None
        if not (isinstance(contrast, ast.Name) and contrast.id == "Treatment"):
            return None
    return node.args[0].id


class _Untranslatable(Exception):
    """An expression outside what :func:`_expression` maps to TensorFlow."""


def _expression(node, encoding):
    """``node`` as a tree of tuples TensorFlow can evaluate: ("column", name),
    ("constant", value), ("call", NumPy function name, tree),
    ("binary", operator, tree, tree), ("negative", tree)."""
    if isinstance(node, ast.Name):
        if node.id in encoding.columns and node.id not in encoding.levels:
            return ("column", node.id)
    elif isinstance(node, ast.Constant):
        if type(node.value) in (int, float):
            return ("constant", float(node.value))
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        inner = _expression(node.operand, encoding)
        return ("negative", inner) if isinstance(node.op, ast.USub) else inner
    elif isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        return (
            "binary",
            _BINARY[type(node.op)],
            _expression(node.left, encoding),
            _expression(node.right, encoding),
        )
    elif isinstance(node, ast.Call) and len(node.args) == 1 and not node.keywords:
        function = node.func
        if isinstance(function, ast.Name) and function.id == "I":
            return _expression(node.args[0], encoding)
        if (
            isinstance(function, ast.Attribute)
            and isinstance(function.value, ast.Name)
            and function.value.id in ("np", "numpy")
            and function.attr in _FUNCTIONS
        ):
            return ("call", function.attr, _expression(node.args[0], encoding))
    raise _Untranslatable


def evaluate(tree, values):
    """An expression tree of :func:`_expression` over ``values`` (float64 tensors
    by column name), in TensorFlow."""
    kind = tree[0]
    if kind == "column":
        return values[tree[1]]
    if kind == "constant":
        return tf.constant(tree[1], tf.float64)
    if kind == "negative":
        return -evaluate(tree[1], values)
    if kind == "binary":
        left, right = evaluate(tree[2], values), evaluate(tree[3], values)
        if tree[1] is operator.pow:
            return tf.pow(left, right)
        return tree[1](left, right)
    return _FUNCTIONS[tree[1]](evaluate(tree[2], values))


class ServedDesign(tf.Module):
    """The design matrix (float64) from the serving inputs, as :func:`plan_design`
    planned it; each categorical input looked up in a table of its levels."""

    def __init__(self, plan: DesignPlan):
        super().__init__(name="tapereg_design")
        self.plan = plan
        self.tables = [
            None
            if spec.levels is None
            else tf.lookup.StaticHashTable(
                tf.lookup.KeyValueTensorInitializer(
                    tf.constant([str(level) for level in spec.levels], tf.string),
                    tf.range(len(spec.levels), dtype=tf.int64),
                ),
                default_value=-1,
            )
            for spec in plan.inputs
        ]

    def __call__(self, inputs):
        """``inputs`` in the order of ``plan.inputs``: the (n, n_features) design."""
        values, codes = {}, {}
        for spec, table, tensor in zip(
            self.plan.inputs, self.tables, inputs, strict=True
        ):
            if table is None:
                values[spec.name] = tf.cast(tensor, tf.float64)
            else:
                codes[spec.name] = _level_codes(spec, table, tensor)
        columns = [
            functools.reduce(
                operator.mul, [_factor(part, values, codes) for part in parts]
            )
            for parts in self.plan.columns
        ]
        rows = tf.shape(inputs[0])[0]
        # A design column of constants alone is a scalar: give it the rows' shape.
        columns = [
            c + tf.zeros([rows], tf.float64) if c.shape.rank == 0 else c
            for c in columns
        ]
        return tf.stack(columns, axis=1)


def _level_codes(spec: ServedInput, table, tensor):
    """Each value's index among the levels; a value outside them fails the call
    with an InvalidArgumentError naming the column, never a silent reference."""
    text = tf.where(tensor, "True", "False") if spec.dtype == "bool" else tensor
    codes = table.lookup(text)
    unseen = codes < 0
    check = tf.debugging.Assert(
        tf.logical_not(tf.reduce_any(unseen)),
        [
            # No quotes around the name: TensorFlow escapes them in its message.
            f"unseen level in column {spec.name} (input {spec.key}): not one of "
            f"the {len(spec.levels)} levels the model was fitted on (listed in "
            "assets.extra/tapereg_export.json); the first such values:",
            tf.boolean_mask(text, unseen)[:3],
        ],
        summarize=3,
    )
    with tf.control_dependencies([check]):
        return tf.identity(codes)


def _factor(part, values, codes):
    if isinstance(part, Indicator):
        return tf.cast(tf.equal(codes[part.column], part.index), tf.float64)
    return evaluate(part, values)
