"""Reading tables as they are: pandas DataFrames with text kept and missing cells
missing, for formulas, text categories and ``missing="drop"``.

:mod:`tapereg.io.readers` makes a number of every cell and refuses the rest; a
formula's ``C(firm)``, a one-hot text column or dropping incomplete rows need the
cells themselves. This module reads the same files (CSV, gzip, Parquet, globs,
shards) through the same block reader, and hands back DataFrames: whole
(:func:`read_frame`) or a block of rows at a time (:class:`FrameStream`).

A column has one kind in every block, whatever the block's cells look like:

- ``"text"``: some cell of the column, in any file, is text (not a number, not
  a missing value); every cell is then read as text, so ``"07"`` stays ``"07"``
  and a block of digits does not become numbers;
- ``"int"``: whole numbers everywhere, none missing (as pandas reads them);
- ``"float"``: numbers, some missing or with a fraction;
- ``"bool"``: true and false (a Parquet boolean, or CSV ``true``/``false``);
- ``"native"``: one other type, kept as it is (dates).

Reading whole finds the kinds while reading; a stream finds them with one pass
over the files before its first block (Parquet included), so that every block,
and every worker's shard, has them alike. Missing cells (CSV: empty, NA, NaN and
the rest of pyarrow's list; Parquet: null, and NaN in a float column) come as
NaN or None, or are refused with their file, column and row.
"""

from __future__ import annotations

import dataclasses
import functools
from collections import Counter
from dataclasses import dataclass

from ..errors import DataError, ParameterError
from .readers import (
    BLOCK_BYTES,
    BlockDealer,
    blank_line_error,
    check_columns,
    check_roles,
    empty_stream_error,
    estimated_bytes,
    expand_paths,
    file_blocks,
    header_names,
    is_blank_row,
    is_parquet,
    listed_names,
    raise_first_bad_text,
    refuse_index_column,
    shard_of,
)

TEXT, INT, FLOAT, BOOL, NATIVE = "text", "int", "float", "bool", "native"
KINDS = (TEXT, INT, FLOAT, BOOL, NATIVE)


@dataclass(frozen=True)
class FrameStream:
    """The columns a fit needs, read as they are, a block of rows at a time.

    Iterating yields a pandas DataFrame per block (every column of ``columns``,
    rows numbered from 0 in each) and reads the files afresh: re-iterable, memory
    at about one block. :meth:`read` gives every row at once.

    Attributes
    ----------
    files : tuple of str
    target_names, feature_names : list of str
        The columns read as targets and as features (with a ``formula``, its
        left- and right-hand side's variables).
    formula : str or None
        The formula the columns were chosen for.
    groups_column : str or None
        The cluster labels' column (CSV: always text, as the float reader reads it).
    kinds : dict or None
        Each column's kind (see the module); None: found by a pass over the files
        when first needed.
    allow_missing : bool
        Missing cells come as NaN or None (True), or are refused with their row.
    block_bytes, shard :
        As for :class:`~tapereg.io.readers.TableStream`.
    """

    files: tuple[str, ...]
    target_names: list[str]
    feature_names: list[str]
    formula: str | None = None
    groups_column: str | None = None
    kinds: dict | None = None
    allow_missing: bool = True
    block_bytes: int = BLOCK_BYTES
    shard: tuple[int, int] = (0, 1)

    @property
    def columns(self) -> list[str]:
        """Every column read, each once: targets, features, cluster labels."""
        groups = [] if self.groups_column is None else [self.groups_column]
        return list(dict.fromkeys([*self.target_names, *self.feature_names, *groups]))

    def __iter__(self):
        kinds = self.resolved_kinds
        for path, first_row, table in self._blocks(self._text(kinds), self.shard):
            if table.num_rows:
                yield self._frame(path, first_row, table, kinds).to_pandas()

    def read(self):
        """Every row (of this shard) as one DataFrame."""
        import pyarrow as pa

        kinds = self.kinds
        text = self._text(kinds or {})
        blocks = list(self._blocks(text, self.shard))
        if kinds is None:
            kinds = _unify(self.columns, blocks)
            # A CSV block of digits was read as numbers before a later one showed
            # the column to be text: read again with the column as text.
            again = [c for c in self._text(kinds) if c not in text]
            if any(_read_as_numbers(path, table, again) for path, _, table in blocks):
                blocks = list(self._blocks(self._text(kinds), self.shard))
        tables = [
            self._frame(path, first, table, kinds) for path, first, table in blocks
        ]
        del blocks
        rows = sum(table.num_rows for table in tables)
        if not rows:
            raise self.no_rows_error()
        return pa.concat_tables(tables).to_pandas()

    @functools.cached_property
    def resolved_kinds(self) -> dict:
        """``kinds``, or those of every file's rows (one pass over them all)."""
        if self.kinds is not None:
            return self.kinds
        text = self._text({})
        return _unify(self.columns, self._blocks(text, (0, 1)))

    def for_worker(self, index: int, count: int) -> FrameStream:
        """Worker ``index`` of ``count``'s part (as ``TableStream.for_worker``);
        the kinds are found over all files first, so every worker has them alike."""
        if count == 1:
            return self
        return shard_of(
            dataclasses.replace(self, kinds=self.resolved_kinds), index, count
        )

    def estimated_bytes(self) -> int:
        """Roughly what the columns take in memory as float64 (text: about as much)."""
        return estimated_bytes(self.files, len(self.columns))

    def no_rows_error(self) -> DataError:
        """The error for files that hold a header but no rows."""
        return empty_stream_error(list(self.files))

    def _text(self, kinds: dict) -> list[str]:
        """The columns parsed as text in CSV: the text kinds, and the labels."""
        text = [c for c in self.columns if kinds.get(c) == TEXT]
        if self.groups_column is not None and self.groups_column not in text:
            text.append(self.groups_column)
        return text

    def _blocks(self, text, shard):
        """``(path, first_row, table)`` for each block of rows (of ``shard``)."""
        keep = BlockDealer(*shard) if shard[1] > 1 else None
        for path in self.files:
            first_row = 0
            for n_rows, table in file_blocks(
                path, self.columns, self.block_bytes, keep, text, null_text=True
            ):
                if table is not None:
                    yield path, first_row, table
                first_row += n_rows

    def _frame(self, path: str, first_row: int, table, kinds: dict):
        """A block as a pyarrow Table of its columns in their kinds' types."""
        import pyarrow as pa

        if not self.allow_missing:
            _refuse_missing(path, table, self.columns, first_row, self.groups_column)
        arrays = {}
        for name in self.columns:
            column = table.column(name)
            arrays[name] = _as_kind(path, column, name, kinds[name], first_row)
        return pa.table(arrays)


def _kind_of(column) -> str | None:
    """A pyarrow column's kind (None: every cell null, so any kind)."""
    import pyarrow as pa

    kind = column.type
    if pa.types.is_null(kind):
        return None
    if pa.types.is_dictionary(kind):
        return TEXT
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return TEXT
    if pa.types.is_boolean(kind):
        return BOOL
    if pa.types.is_integer(kind):
        return INT
    if pa.types.is_floating(kind):
        return FLOAT
    return str(kind)  # its own type, kept as it is when every block has it


def _unify(columns: list[str], blocks) -> dict:
    """Each column's kind over ``(path, first_row, table)`` blocks: text if any
    block's cells are text, whole numbers only if no cell is missing, one other
    type as it is; a mixture of kinds is text."""
    seen = {name: Counter() for name in columns}
    for _, _, table in blocks:
        for name in columns:
            column = table.column(name)
            seen[name][_kind_of(column)] += 1
            if column.null_count:
                seen[name]["missing"] += 1
    kinds = {}
    for name, found in seen.items():
        present = set(found) - {None, "missing"}
        if TEXT in present:
            kinds[name] = TEXT
        elif not present or present <= {INT, FLOAT}:
            whole = present == {INT} and not found["missing"]
            kinds[name] = INT if whole else FLOAT
        elif present == {BOOL}:
            kinds[name] = BOOL
        elif len(present) == 1:
            kinds[name] = NATIVE
        else:
            kinds[name] = TEXT
    return kinds


def _read_as_numbers(path: str, table, names) -> bool:
    """Whether a CSV block read one of ``names`` as something other than text."""
    return not is_parquet(path) and any(
        _kind_of(table.column(name)) not in (None, TEXT) for name in names
    )


def _as_kind(path: str, column, name: str, kind: str, first_row: int):
    """A column of a block in its kind's type; a cell that cannot be is refused
    as the float reader refuses it (:func:`raise_first_bad_text`)."""
    import pyarrow as pa

    where = f"{path}: column '{name}'"
    found = _kind_of(column)
    if kind == NATIVE:
        return column
    if kind == TEXT:  # every block's text of one type, whatever the file held
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        return column if column.type == pa.string() else column.cast(pa.string())
    if found == TEXT:  # a number or a boolean expected
        if kind == BOOL:
            value = next(v for v in column.to_pylist() if v is not None)
            raise DataError(f"{where}: {value!r} is not true or false")
        raise_first_bad_text(where, column.to_pylist(), first_row)
    if kind == BOOL:
        if found not in (None, BOOL):
            raise DataError(f"{where} has type {column.type}, not true or false")
        return column.cast(pa.bool_())
    if found not in (None, INT, FLOAT, BOOL):
        raise DataError(f"{where} has type {column.type}, not numbers")
    if kind == INT and not column.null_count:
        return column.cast(pa.int64())
    return column.cast(pa.float64())


def _refuse_missing(path: str, table, columns, first_row: int, groups) -> None:
    """Refuse a block's first missing cell (null, or NaN) as the float reader
    does: the first row that has one, with its file and column; a blank line as
    a blank line."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    first = None  # (row index, column)
    for name in columns:
        column = table.column(name)
        if pa.types.is_floating(column.type):
            missing = pc.is_null(column, nan_is_null=True)
        elif column.null_count:
            missing = column.is_null()
        else:
            continue
        if pc.any(missing).as_py():
            index = int(np.flatnonzero(missing.to_numpy(zero_copy_only=False))[0])
            if first is None or index < first[0]:
                first = (index, name)
    if first is None:
        return
    index, name = first
    if is_blank_row(path, table, index):
        raise blank_line_error(path, first_row + index + 1)
    what = "cluster label" if name == groups else "value"
    raise DataError(
        f"{path}: column '{name}', row {first_row + index + 1}: missing {what} "
        "(empty, NA or NaN)"
    )


def formula_columns(formula: str) -> tuple[list[str], list[str]]:
    """The columns a formula reads: its left-hand side's (the targets) and its
    right-hand side's, each sorted; ``np.log`` and the like are not columns."""
    from formulaic import Formula
    from formulaic.errors import FormulaicError

    try:
        parsed = Formula(formula, _ordering="none")
    except (FormulaicError, SyntaxError, ValueError) as error:
        raise ParameterError(f"formula {formula!r} cannot be read: {error}") from None
    if not hasattr(parsed, "lhs"):
        raise ParameterError(
            f"formula {formula!r} names no target: write it as 'y ~ x1 + x2'"
        )
    return sorted(parsed.lhs.required_variables), sorted(parsed.rhs.required_variables)


def open_frames(
    paths,
    target=None,
    features=None,
    *,
    formula=None,
    groups=None,
    kinds=None,
    allow_missing=True,
    block_bytes=BLOCK_BYTES,
) -> FrameStream:
    """Check the files' headers and return a :class:`FrameStream` of the columns.

    ``paths``, ``target``, ``features`` and ``groups`` are as for
    :func:`tapereg.read_table` (``target`` may be None: features only, as for
    predictions). With a ``formula`` its variables are read instead (no
    ``target`` or ``features`` then), and the cluster labels may be one of them.
    ``kinds`` fixes each column's kind (columns left out are numbers): a model's
    encoding knows them (:func:`kinds_for_levels`). ``allow_missing=False``
    refuses a missing cell with its file, column and row.
    """
    files = expand_paths(paths)
    headers, indexes = zip(*(header_names(path) for path in files), strict=True)
    if formula is not None:
        if target is not None or features is not None:
            raise ParameterError(
                "a formula names the target and the features itself: give no "
                "target or features with it"
            )
        targets, features = formula_columns(formula)
    else:
        targets = [] if target is None else listed_names(target)
        if features is None:
            others = (*targets, *indexes[0], *([] if groups is None else [groups]))
            features = [c for c in headers[0] if c not in others]
            refuse_index_column(files[0], features)
        features = listed_names(features)
        if not features:
            raise DataError(f"{files[0]}: no feature columns besides the target")
        check_roles(targets, features, groups)
    for path, available in zip(files, headers, strict=True):
        check_columns(path, available, targets, "target")
        check_columns(path, available, features, "feature")
        if groups is not None:
            check_columns(path, available, [groups], "cluster")
    stream = FrameStream(
        tuple(files),
        list(targets),
        list(features),
        formula=formula,
        groups_column=groups,
        allow_missing=allow_missing,
        block_bytes=block_bytes,
    )
    if kinds is not None:
        unknown = set(kinds.values()) - set(KINDS)
        if unknown:
            raise ValueError(f"kinds must be among {KINDS}, got {sorted(unknown)}")
        every = dict.fromkeys(stream.columns, FLOAT)
        stream = dataclasses.replace(stream, kinds={**every, **kinds})
    return stream


def read_frame(
    paths, target=None, features=None, *, formula=None, groups=None, allow_missing=True
):
    """The columns of CSV or Parquet files as one pandas DataFrame, text kept as
    text and missing cells as NaN or None (see :func:`open_frames`)."""
    return open_frames(
        paths,
        target,
        features,
        formula=formula,
        groups=groups,
        allow_missing=allow_missing,
    ).read()


def frames_of(stream, allow_missing: bool) -> FrameStream:
    """The columns of a float :class:`~tapereg.io.readers.TableStream`, read as
    they are (the same files, shard and blocks)."""
    return FrameStream(
        stream.files,
        list(stream.target_names),
        list(stream.feature_names),
        groups_column=stream.groups_column,
        allow_missing=allow_missing,
        block_bytes=stream.block_bytes,
        shard=stream.shard,
    )


def first_text_columns(stream) -> list[str]:
    """The feature columns of a numeric stream that its first file's first
    block holds as text (Parquet: by the file's types): the cheap look that
    decides, alike on every worker, whether to read a big table as it is."""
    path = stream.files[0]
    names = list(stream.feature_names)
    blocks = file_blocks(path, names, stream.block_bytes, null_text=True)
    try:
        _, table = next(blocks, (0, None))
    finally:
        blocks.close()
    if table is None:
        return []
    return [name for name in names if _kind_of(table.column(name)) == TEXT]


def kinds_for_levels(columns, levels: dict) -> dict:
    """The kinds a model's encoding expects of its raw columns: text where its
    levels are text, booleans where they are False and True, numbers otherwise."""
    kinds = {}
    for name in columns:
        known = levels.get(name)
        if known is None:
            kinds[name] = FLOAT
        elif tuple(known) == (False, True):
            kinds[name] = BOOL
        elif any(isinstance(level, str) for level in known):
            kinds[name] = TEXT
        else:
            kinds[name] = FLOAT
    return kinds
