"""Streamed tables: a formula, text categories and missing rows, block by block.

``fit_stream`` over raw blocks (DataFrames with text columns, a formula's table,
or rows with missing values to drop) makes one pass first: the schema from the
first block, every block's levels (merged; across workers gathered as JSON) and
the count of rows dropped. The :class:`~tapereg.design.encoding.Encoding` that
follows is fixed, and :class:`EncodedBlocks` re-reads the raw blocks through it,
a block at a time, as the float blocks the fit takes: the dense design is never
built whole, so memory stays flat in the rows.
"""

from __future__ import annotations

import json

import numpy as np

from ..errors import DataError, ParameterError
from .encoding import (
    Schema,
    build_encoding,
    encode,
    encode_targets,
    is_categorical,
    levels_in,
    merge_levels,
    schema_of,
)
from .frames import kept_rows, missing_rows, used_columns, warn_dropped


def encoded_stream(blocks, params: dict, reducer):
    """(the blocks the fit reads, the Encoding or None): ``blocks`` themselves
    where nothing is to encode or drop."""
    formula, missing = params["formula"], params["missing"]
    first = next(iter(blocks), None)
    encodes = formula is not None or (
        params["categorical"] == "auto"
        and first is not None
        and _has_categories(_unpacked(first, formula)[0])
    )
    drops = missing == "drop"
    if reducer.count > 1:  # every worker decides alike, rows or none
        encodes = reducer.maximum(float(encodes)) > 0
    if not (encodes or drops):
        return blocks, None
    schema, parts, n_dropped, n_rows = None, [], 0, 0
    for block in blocks:
        X, y, w, groups = _unpacked(block, formula)
        if drops:
            bad = missing_rows(X, y, w, groups, used_columns(X, formula))
            n_dropped, n_rows = n_dropped + int(bad.sum()), n_rows + len(bad)
            X, y, w, groups = kept_rows(~bad, X, y, w, groups)
        if encodes and len(X):
            schema = schema or schema_of(X, formula)
            parts.append(levels_in(X, schema))
    if reducer.count > 1:
        n_dropped, n_rows = (int(v) for v in reducer.sum(np.array([n_dropped, n_rows])))
    if n_dropped:
        warn_dropped(n_dropped, n_rows)
    encoding = None
    if encodes:
        schema, parts = _everyones(schema, parts, reducer)
        if schema is None:
            raise DataError("the stream has no rows to learn the encoding from")
        encoding = build_encoding(schema, merge_levels(schema, parts))
    return EncodedBlocks(blocks, encoding, formula, drops), encoding


def _has_categories(X) -> bool:
    return hasattr(X, "columns") and any(is_categorical(X[c]) for c in X.columns)


def _unpacked(block, formula):
    """(X, y, sample_weight, groups) of a block; with a formula a block is the
    table itself, or ``(table, None, sample_weight[, groups])``."""
    if formula is not None and hasattr(block, "columns"):
        return block, None, None, None
    if not isinstance(block, tuple | list) or len(block) not in (2, 3, 4):
        raise DataError(
            "a block is (X, y), (X, y, sample_weight) or (X, y, sample_weight, "
            "groups)" + ("; with a formula, the table itself" if formula else "")
        )
    X, y, w, groups = (*block, None, None)[:4]
    if formula is not None and y is not None:
        raise ParameterError(
            f"the formula {formula!r} names the target: give blocks of the table "
            "(or (table, None, sample_weight, groups)), not (X, y)"
        )
    return X, y, w, groups


def _everyones(schema, parts, reducer):
    """Across workers, every worker's schema and levels (gathered as JSON); a
    worker without rows learns them from the others."""
    if reducer.count == 1:
        return schema, parts
    mine = {
        "schema": None if schema is None else schema.to_json(),
        "parts": [{k: list(v) for k, v in part.items()} for part in parts],
    }
    gathered = gather_json(mine, reducer)
    schemas = [Schema.from_json(g["schema"]) for g in gathered if g["schema"]]
    if not schemas:
        return None, []
    return schemas[0], [
        {k: tuple(v) for k, v in part.items()} for g in gathered for part in g["parts"]
    ]


def gather_json(value, reducer) -> list:
    """Every worker's JSON-able ``value``, in worker order: the text's bytes,
    padded to the longest and gathered as numbers (the reducer moves arrays)."""
    data = np.frombuffer(json.dumps(value).encode(), np.uint8).astype(np.float64)
    longest = int(reducer.maximum(float(len(data))))
    padded = np.zeros(longest + 1)
    padded[0] = len(data)
    padded[1 : 1 + len(data)] = data
    rows = reducer.gather(padded).reshape(-1, longest + 1)
    return [
        json.loads(bytes(row[1 : 1 + int(row[0])].astype(np.uint8)).decode())
        for row in rows
    ]


class EncodedBlocks:
    """Raw blocks re-read through the encoding (and ``missing="drop"``) as the
    float ``(X, Y, sample_weight, groups)`` blocks a fit takes; re-iterable."""

    def __init__(self, raw, encoding, formula, drops: bool):
        self.raw, self.encoding, self.formula, self.drops = (
            raw,
            encoding,
            formula,
            drops,
        )
        names = getattr(raw, "feature_names", None)
        self.feature_names = list(encoding.names) if encoding else names
        targets = getattr(raw, "target_names", None)
        if encoding is not None and encoding.targets:
            targets = list(encoding.targets)
        self.target_names = targets

    def __iter__(self):
        for block in self.raw:
            X, y, w, groups = _unpacked(block, self.formula)
            if self.drops:
                bad = missing_rows(X, y, w, groups, used_columns(X, self.formula))
                X, y, w, groups = kept_rows(~bad, X, y, w, groups)
            if self.encoding is not None and not len(X):
                n_targets = len(self.encoding.targets) or np.shape(y)[-1]
                X, y = np.empty((0, len(self.encoding.names))), np.empty((0, n_targets))
            elif self.encoding is not None:
                design = encode(self.encoding, X)
                if self.formula is not None:
                    y = encode_targets(self.encoding, X)
                X = design
            yield X, y, w, groups

    def no_rows_error(self) -> DataError:
        no_rows = getattr(self.raw, "no_rows_error", None)
        return no_rows() if no_rows else DataError("the stream has no rows")
