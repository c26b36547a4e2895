"""Reading training data from CSV (plain or gzip) and Parquet files into arrays.

pyarrow parses (multithreaded) and infers types; this module picks the columns and
turns every problem into a :class:`DataError` naming the file, the column and the row.
Rows are counted from 1, after the header, within each file.

Several files (a list, or glob patterns) are read one by one and their rows
concatenated in order. Each file's columns become float64 arrays before the
concatenation, so a column may be integer in one file and floating in another.
A column of cluster labels is the exception: its values are kept as they are
(:func:`_column_as_labels`). Tables read as they are, text and missing cells
included, are :mod:`tapereg.io.frames`'s.
"""

from __future__ import annotations

import dataclasses
import glob
import os
import re
from collections import Counter
from dataclasses import dataclass

import numpy as np

from ..errors import DataError

PARQUET_SUFFIXES = (".parquet", ".pq")
GZIP_MAGIC = b"\x1f\x8b"
GLOB_CHARACTERS = ("*", "?", "[")
# pyarrow's message for a row with the wrong number of values (it gives no number).
RAGGED_ROW = re.compile(
    r"CSV parse error: Expected (\d+) columns, got (\d+): (.*)", re.S
)
# Bytes of file read at a time; a block of CSV text becomes about as many bytes of
# float64, so memory stays near a few times this whatever the file's size.
BLOCK_BYTES = 16 << 20


class TextColumnError(DataError):
    """A column read as numbers holds text: the float reader's refusal, which a
    caller that can encode text (``categorical="auto"``) answers by reading the
    table as it is (:mod:`tapereg.io.frames`)."""


@dataclass(frozen=True)
class Table:
    """Numeric columns of a file.

    Attributes
    ----------
    X : ndarray of shape (n_samples, n_features), float64
    y : ndarray of shape (n_samples, n_targets), float64, or None
    feature_names, target_names : list of str
    groups : ndarray of shape (n_samples,), or None
        The cluster labels, as the file holds them (see :func:`open_table`).
    """

    X: np.ndarray
    y: np.ndarray | None
    feature_names: list[str]
    target_names: list[str]
    groups: np.ndarray | None = None


# -- which files ---------------------------------------------------------------------


def expand_paths(paths) -> list[str]:
    """The files named by one path, a list of paths or glob patterns, in order.

    A str holding ``*``, ``?`` or ``[`` that is not itself an existing file is a
    pattern: it stands for its matches, sorted, so the row order is reproducible.
    PathLike objects are always taken literally.
    """
    items = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    if not items:
        raise DataError("no data files given")
    files: list[str] = []
    for item in items:
        path = os.fspath(item)
        if isinstance(item, str) and _is_pattern(path):
            files.extend(_glob(path))
        else:
            files.append(path)
    return files


def _is_pattern(path: str) -> bool:
    return any(c in path for c in GLOB_CHARACTERS) and not os.path.exists(path)


def _glob(pattern: str) -> list[str]:
    """The sorted matches of a pattern; ``**`` reaches into subfolders."""
    matches = sorted(glob.glob(pattern, recursive=True))
    if not matches:
        raise DataError(f"{pattern}: no file matches this pattern")
    return matches


def listed_names(value) -> list[str]:
    """A column name or a list of them, as a list."""
    return [value] if isinstance(value, str) else list(value)


# -- reading one file ----------------------------------------------------------------


def is_parquet(path: str) -> bool:
    """By name, or by content: Parquet files start with ``PAR1`` whatever they are
    called."""
    return path.lower().endswith(PARQUET_SUFFIXES) or _starts_with(path, b"PAR1")


def _starts_with(path: str, magic: bytes) -> bool:
    try:
        with open(path, "rb") as file:
            return file.read(len(magic)) == magic
    except OSError:
        return False  # reported where the file is read


def _check_is_file(path: str) -> None:
    if not os.path.exists(path):
        raise DataError(f"{path}: no such file")
    if os.path.isdir(path):
        raise DataError(f"{path}: is a directory, not a data file")


def _cannot_read(path: str, error: Exception) -> DataError:
    """A DataError carrying the first line of pyarrow's (or the OS's) reason."""
    text = str(error).strip()
    reason = text.splitlines()[0] if text else type(error).__name__
    return DataError(f"{path}: cannot read it: {reason}")


def _csv_stream(path: str):
    """The file as a pyarrow input stream, gunzipped when it ends in .gz (any case)
    or starts with gzip's magic bytes, whatever its name.

    pyarrow's own detection only knows lower-case suffixes; other compressions it
    detects (``.bz2``, ``.zst``, ...) keep working as before.
    """
    import pyarrow as pa

    gzipped = path.lower().endswith(".gz") or _starts_with(path, GZIP_MAGIC)
    return pa.input_stream(path, compression="gzip" if gzipped else "detect")


def header_names(path: str) -> tuple[list[str], list[str]]:
    """The file's column names, and those pandas marked as its index (Parquet).

    Read without reading the data: for Parquet the footer, for CSV the header line
    alone. A UTF-8 byte order mark and CRLF line endings are handled by pyarrow's
    CSV parser.
    """
    import pyarrow as pa

    _check_is_file(path)
    try:
        if is_parquet(path):
            import pyarrow.parquet as pq

            with pq.ParquetFile(path) as parquet:
                schema = parquet.schema_arrow
            return list(schema.names), _pandas_index_columns(schema)
        import pyarrow.csv as pcsv

        # Only the header line: a bad row is reported, with its number, when read.
        with _csv_stream(path) as stream:
            header, rest = _header_line(stream)
        if not header.strip():
            if rest.strip():
                raise DataError(f"{path}: line 1 is blank; it must name the columns")
            raise DataError(f"{path}: the file is empty")
        if b"\r" in header.rstrip(b"\r\n"):
            # Blocks are cut at line feeds: the whole file would be one "line".
            raise DataError(
                f"{path}: its lines end in a lone carriage return (CR, as on classic "
                "Mac OS); convert it to LF or CRLF line ends"
            )
        names = list(pcsv.read_csv(pa.py_buffer(header)).schema.names)
    except UnicodeDecodeError:
        raise DataError(
            f"{path}: the first line is not UTF-8 text; is this a CSV file?"
        ) from None
    except (pa.ArrowException, OSError) as error:
        raise _cannot_read(path, error) from error
    _check_header(path, names)
    return names, []


def _pandas_index_columns(schema) -> list[str]:
    """The columns pandas' ``to_parquet`` stored its index in; [] if the file's
    "pandas" metadata is absent or not what pandas writes (it is only a hint)."""
    import json

    raw = (schema.metadata or {}).get(b"pandas")
    try:
        index = json.loads(raw)["index_columns"] if raw else []
    except (ValueError, TypeError, KeyError):
        return []
    if not isinstance(index, list):
        return []
    return [c for c in index if isinstance(c, str) and c in schema.names]


def _check_header(path: str, names: list[str]) -> None:
    """Refuse a CSV file whose first line is data: every "name" is a number.

    pyarrow would take that line as the header and silently drop a row of data.
    """
    if names and all(_is_number(name) for name in names):
        shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
        raise DataError(
            f"{path}: seems to have no header row (the column names {shown} all "
            "parse as numbers); the first line must name the columns"
        )


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def file_blocks(
    path: str,
    names: list[str],
    block_bytes: int,
    keep=None,
    text=(),
    null_text=False,
):
    """The named columns of one file in blocks of about ``block_bytes``: pairs
    ``(n_rows, table)``, the table a pyarrow Table.

    The CSV columns named in ``text`` are read as text in every block, whatever
    their cells look like (Parquet columns have their type in the file). With
    ``null_text`` a CSV text cell that spells a missing value (empty, NA, NaN,
    pyarrow's list) is null, as it is in a column of numbers.

    Memory stays at one block whatever the file's size. A CSV file is cut at line
    ends into blocks of text, each parsed (multithreaded) behind the file's header
    line; pyarrow's CSV parser allows no newline inside a value, so a line end
    always ends a row. Parquet files are read a batch of rows at a time.

    ``keep(weight)``, called once per block in order with the block's size in
    bytes (of text, or of float64 for Parquet), says whether it is wanted (a
    worker's shard, see :class:`BlockDealer`); an unwanted one is not parsed and
    comes as ``(n_rows, None)``: a CSV block's lines are only counted (so later
    rows keep their numbers), and Parquet is then read a row group at a time,
    only the groups with a wanted block in them.
    """
    import pyarrow as pa

    try:
        if is_parquet(path):
            import pyarrow.parquet as pq

            with pq.ParquetFile(path) as parquet:
                rows = max(1, block_bytes // (8 * max(1, len(names))))
                if keep is None:
                    for batch in parquet.iter_batches(batch_size=rows, columns=names):
                        yield batch.num_rows, pa.Table.from_batches([batch])
                    return
                yield from _parquet_shard(parquet, names, rows, keep)
            return
        import pyarrow.csv as pcsv

        options = pcsv.ConvertOptions(
            include_columns=names,
            column_types=dict.fromkeys(text, pa.string()),
            strings_can_be_null=null_text,
        )
        with _csv_stream(path) as stream:
            header, rest = _header_line(stream)
            lines = 0  # lines of data before this block (every one a row)
            blank = None  # row number of a blank line: allowed only at the end
            while True:
                data = stream.read(block_bytes)
                text = rest + data
                cut = len(text) if not data else text.rfind(b"\n") + 1
                if cut == 0 and data:
                    rest = text  # one line longer than a block: read on
                    continue
                body, rest = text[:cut], text[cut:]
                end = _end_of_data(body)
                if end == 0:  # nothing but line ends
                    if body and blank is None:
                        blank = lines + 1
                elif blank is not None:
                    raise blank_line_error(path, blank)
                else:
                    if keep is None or keep(end):
                        table = _parse_csv_block(
                            path, header, memoryview(body)[:end], lines, options
                        )
                        n_rows = table.num_rows
                    else:  # another worker's: counting its lines is enough
                        table, n_rows = None, _count_lines(body, end)
                    yield n_rows, table
                    if body.count(b"\n", end) > 1:  # blank lines after the data
                        blank = lines + n_rows + 1
                    lines += n_rows
                if not data:
                    return
    except (pa.ArrowException, OSError) as error:
        raise _cannot_read(path, error) from error


def _parquet_shard(parquet, names: list[str], rows: int, keep):
    """The wanted blocks of a Parquet file, read a row group at a time.

    Blocks are cut from each row group by its row count in the file's metadata,
    so every worker numbers them alike without reading; a row group with no
    wanted block is not read at all.
    """
    for group in range(parquet.num_row_groups):
        n_rows = parquet.metadata.row_group(group).num_rows
        starts = range(0, n_rows, rows)
        wanted = [keep(8 * len(names) * min(rows, n_rows - at)) for at in starts]
        table = parquet.read_row_group(group, columns=names) if any(wanted) else None
        for start, want in zip(starts, wanted, strict=True):
            length = min(rows, n_rows - start)
            yield length, table.slice(start, length) if want else None


def _count_lines(body: bytes, end: int) -> int:
    """The lines of ``body[:end]`` (which holds no trailing line end): as many as
    the rows pyarrow parses them into, empty lines included."""
    return body.count(b"\n", 0, end) + 1


def _end_of_data(body: bytes) -> int:
    """The length of ``body`` without the line ends it finishes with."""
    end = len(body)
    while end and body[end - 1] in (10, 13):  # a loop of one or two, usually
        end -= 1
    return end


def blank_line_error(path: str, row: int) -> DataError:
    # Skipping it would silently renumber every later row in our messages.
    return DataError(
        f"{path}, line {row + 1}: blank line between data rows (only the end of a "
        "file may have blank lines)"
    )


def _parse_csv_block(path: str, header: bytes, body, lines: int, options):
    """Parse whole lines (a memoryview, without the last line end) behind the
    header. Empty lines are kept as rows of nulls, so row numbers stay line numbers
    and a blank line inside the data is found where its nulls are (see
    :func:`is_blank_row`) without scanning for it; a row with the wrong number of
    values is named by its number (pyarrow's message has none)."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    parse = pcsv.ParseOptions(ignore_empty_lines=False)
    try:
        return pcsv.read_csv(
            pa.py_buffer(b"".join((header, body, b"\n"))),
            parse_options=parse,
            convert_options=options,
        )
    except pa.ArrowInvalid as error:
        ragged = RAGGED_ROW.match(str(error))
        if not ragged:
            raise
    expected, actual, text = ragged.groups()
    row = _row_of_line(bytes(body), text, lines)
    where = f"{path}, row {row}" if row else f"{path}: a row ({text[:40]!r})"
    raise DataError(
        f"{where}: {actual} value{'' if actual == '1' else 's'} where the header "
        f"names {expected} columns"
    )


def _row_of_line(body: bytes, text: str, lines: int) -> int | None:
    """The row number of the first line of ``body`` that is ``text``, if found."""
    line = text.encode()
    position = -1
    while True:
        position = body.find(line, position + 1)
        if position < 0:
            return None
        end = position + len(line)
        if (position == 0 or body[position - 1] == 10) and body[end : end + 1] in (
            b"\n",
            b"\r",
            b"",
        ):
            return lines + body.count(b"\n", 0, position) + 1


def _header_line(stream) -> tuple[bytes, bytes]:
    """The first line of a stream (with its line end) and the bytes read after it."""
    text = b""
    while True:
        data = stream.read(1 << 16)
        text += data
        end = text.find(b"\n")
        if end >= 0:
            return text[: end + 1], text[end + 1 :]
        if not data:
            return text + b"\n", b""


# -- columns to numbers --------------------------------------------------------------


def check_roles(
    targets: list[str], features: list[str], groups: str | None = None
) -> None:
    """No column named twice, and none both a target and a feature (a model that
    predicts y from y reports R² = 1 and is worth nothing), nor the cluster labels
    and a target or feature (the labels are read as they are, not as numbers)."""
    for role, names in (("target", targets), ("feature", features)):
        repeated = [name for name, count in Counter(names).items() if count > 1]
        if repeated:
            raise DataError(f"{role} column '{repeated[0]}' is named twice")
    both = [name for name in features if name in targets]
    if both:
        raise DataError(
            f"column '{both[0]}' is both a target and a feature; "
            "leave it out of the features"
        )
    if groups in targets:
        raise DataError(f"column '{groups}' is both a target and the cluster labels")
    if groups in features:
        raise DataError(
            f"column '{groups}' is both a feature and the cluster labels; leave it "
            "out of the features, or cluster on a copy of it"
        )


def check_columns(
    path: str, available: list[str], wanted: list[str], role: str
) -> None:
    """Each wanted column must be in the header exactly once."""
    counts = Counter(available)  # a list's count() per name is O(d²) on wide files
    for name in wanted:
        if name not in counts:
            raise DataError(
                f"{path}: no {role} column '{name}' (columns: {', '.join(available)})"
            )
        if counts[name] > 1:
            raise DataError(f"{path}: column '{name}' appears {counts[name]} times")


def _column_as_float(
    path: str, table, name: str, first_row: int = 0, fits=None
) -> np.ndarray:
    """One column as float64, refusing missing, non-numeric and non-finite cells.

    ``first_row`` is the number of the file's rows before this table's first; with
    ``fits`` (a float dtype) a value beyond that dtype's range is refused too.
    """
    import pyarrow as pa

    column = table.column(name)
    where = f"{path}: column '{name}'"
    kind = column.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        raise_first_bad_text(where, column.to_pylist(), first_row)
    if pa.types.is_dictionary(kind):  # pandas' categoricals, in Parquet
        raise TextColumnError(f"{where} has type {kind}, not numbers")
    if column.null_count:
        nulls = column.is_null().to_numpy(zero_copy_only=False)
        index = int(np.flatnonzero(nulls)[0])
        if is_blank_row(path, table, index):
            raise blank_line_error(path, first_row + index + 1)
        raise DataError(
            f"{where}, row {first_row + index + 1}: missing value (empty, NA or NaN)"
        )
    if not (
        pa.types.is_integer(kind)
        or pa.types.is_floating(kind)
        or pa.types.is_boolean(kind)
    ):
        raise DataError(f"{where} has type {kind}, not numbers")
    values = column.to_numpy().astype(np.float64)
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        raise DataError(
            f"{where}, row {first_row + bad[0] + 1}: {values[bad[0]]} is not a "
            "finite number"
        )
    if fits is not None:
        beyond = np.flatnonzero(np.abs(values) > np.finfo(fits).max)
        if beyond.size:
            row = int(beyond[0])
            raise DataError(
                f"{where}, row {first_row + row + 1}: {values[row]:.6g} overflows "
                f"{np.dtype(fits)}, the training dtype; train in float64 or "
                "standardize the features"
            )
    return values


def is_blank_row(path: str, table, index: int) -> bool:
    """Whether row ``index`` of a CSV block is an empty line (every column null,
    or empty text where a column is read as text)."""
    return (
        table.num_columns > 1
        and not is_parquet(path)
        and all(
            table.column(c)[index].as_py() in (None, "") for c in table.column_names
        )
    )


def _column_as_labels(path: str, table, name: str, first_row: int = 0) -> np.ndarray:
    """One column's values as cluster labels: as the file holds them (text,
    integers, dates), never converted to numbers, so labels compare as values.

    A CSV column is read as text (see :func:`file_blocks`): a type inferred block
    by block could turn one label into two (``7`` in one block, ``"7"`` in the
    next). A missing label is refused with its row: a null, NaN, or in CSV a cell
    that would be a missing number (empty, NA, NaN, ...).
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pcsv

    column = table.column(name)
    if pa.types.is_dictionary(column.type):  # pandas' categoricals, in Parquet
        column = column.cast(column.type.value_type)
    missing = pc.is_null(column, nan_is_null=True)
    if pa.types.is_string(column.type) and not is_parquet(path):
        nulls = pa.array(pcsv.ConvertOptions().null_values)  # pyarrow's own list
        missing = pc.or_(missing, pc.is_in(column, value_set=nulls))
    if pc.any(missing).as_py():
        index = int(np.flatnonzero(missing.to_numpy(zero_copy_only=False))[0])
        if is_blank_row(path, table, index):
            raise blank_line_error(path, first_row + index + 1)
        raise DataError(
            f"{path}: column '{name}', row {first_row + index + 1}: missing cluster "
            "label (empty, NA or NaN)"
        )
    return column.to_numpy(zero_copy_only=False)


def raise_first_bad_text(where: str, values: list, first_row: int) -> None:
    """Name the first cell of a text column that is missing or not a number."""
    for row, value in enumerate(values, start=first_row + 1):
        if value is None:
            raise DataError(f"{where}, row {row}: missing value")
        try:
            float(value)
        except ValueError:
            raise TextColumnError(
                f"{where}, row {row}: {value!r} is not a number"
            ) from None
    raise DataError(f"{where} holds text, not numbers")


def _as_matrix(
    path: str, table, names: list[str], first_row: int, fits=None
) -> np.ndarray:
    if not names or table.num_rows == 0:
        return np.empty((table.num_rows, len(names)))
    matrix = _clean_numbers(table, names, fits)
    if matrix is not None:
        return matrix
    # Something to refuse: column by column, to name the first bad cell.
    return np.column_stack(
        [_column_as_float(path, table, n, first_row, fits) for n in names]
    )


def _clean_numbers(table, names: list[str], fits=None) -> np.ndarray | None:
    """The columns as float64 at once when every cell is a finite number (within
    ``fits``' range): one check on the matrix, not ten thousand on its columns;
    None when a column needs :func:`_column_as_float`'s cell-by-cell verdict."""
    import pyarrow as pa

    columns = [table.column(name) for name in names]
    for column in columns:
        kind = column.type
        numeric = pa.types.is_integer(kind) or pa.types.is_floating(kind)
        if column.null_count or not numeric:
            return None
    matrix = np.empty((table.num_rows, len(names)))
    for k, column in enumerate(columns):
        matrix[:, k] = column.to_numpy()
    largest = np.finfo(fits).max if fits is not None else np.inf
    with np.errstate(invalid="ignore"):
        if not np.all(np.abs(matrix) < largest):  # NaN and inf fail too
            return None
    return matrix


def _matrix_blocks(
    files: list[str],
    groups: list[list[str]],
    block_bytes: int,
    fits=None,
    shard: tuple[int, int] = (0, 1),
    labels: str | None = None,
):
    """For each block of rows of the files, one float64 matrix per group of columns,
    then the column ``labels`` as cluster labels (:func:`_column_as_labels`) when
    one is named.

    Each block is converted on its own, so cell errors name the file and the row
    within it, and types may differ between files (and between blocks). With
    ``shard = (i, n)`` only the blocks a :class:`BlockDealer` deals worker i of n
    are parsed and given.
    """
    text = [] if labels is None else [labels]
    needed = list(dict.fromkeys([*(n for group in groups for n in group), *text]))
    keep = BlockDealer(*shard) if shard[1] > 1 else None
    for path in files:
        first_row = 0
        for n_rows, table in file_blocks(path, needed, block_bytes, keep, text):
            if table is not None:
                yield [
                    *(
                        _as_matrix(path, table, names, first_row, fits)
                        for names in groups
                    ),
                    *(_column_as_labels(path, table, name, first_row) for name in text),
                ]
            first_row += n_rows


class BlockDealer:
    """Deals the blocks of a stream to n workers: each block, in order, to the
    worker with the fewest bytes so far (the lowest index on a tie).

    Every worker sees every block's size (CSV text is scanned for line ends, a
    Parquet file's row groups are in its metadata), so all deal alike and each
    block has one owner; shards then differ by at most one block, also when the
    files' last blocks are short. With blocks of one size this is round robin.
    ``loads`` holds each worker's bytes so far; ``shard_of`` deals whole files
    with it too.
    """

    def __init__(self, index: int, count: int):
        self.index, self.loads = index, [0] * count

    def __call__(self, weight: int) -> bool:
        """Whether the next block, of ``weight`` bytes, is worker ``index``'s."""
        worker = min(range(len(self.loads)), key=lambda k: (self.loads[k], k))
        self.loads[worker] += weight
        return worker == self.index


def _read_matrices(
    files: list[str],
    groups: list[list[str]],
    fits=None,
    shard=(0, 1),
    block_bytes: int = BLOCK_BYTES,
    labels: str | None = None,
) -> list[np.ndarray]:
    """For each group of column names, its float64 matrix over all files' rows
    (a shard's rows: see :func:`_matrix_blocks`), then the labels when named."""
    parts: list[list[np.ndarray]] = [[np.empty((0, len(g)))] for g in groups]
    if labels is not None:
        parts.append([np.empty(0, dtype=object)])
    for block in _matrix_blocks(files, groups, block_bytes, fits, shard, labels):
        for part, matrix in zip(parts, block, strict=True):
            part.append(matrix)
    # The empty start only where no block came: it would turn integer labels float.
    return [np.concatenate(part[1:] or part) for part in parts]


def refuse_index_column(path: str, features: list[str]) -> None:
    """Refuse a first column with no name, as pandas' ``to_csv`` writes its index.

    Training on row numbers is never what was meant; the user names the features
    or rewrites the file. (Parquet marks pandas' index; it is skipped, not refused.)
    """
    if features and (features[0] == "" or features[0].startswith("Unnamed: ")):
        raise DataError(
            f"{path}: the first column has no name ({features[0]!r}): it looks like "
            "an index written by pandas' to_csv; write the file with index=False, "
            "or name the feature columns (features=, --features)"
        )


def empty_stream_error(files: list[str]) -> DataError:
    if len(files) == 1:
        return DataError(f"{files[0]}: no data rows")
    return DataError(f"no data rows in any of the {len(files)} files ({files[0]}, ...)")


# -- public --------------------------------------------------------------------------


@dataclass(frozen=True)
class TableStream:
    """The feature and target columns of files, read a block of rows at a time.

    Iterating yields ``(X, Y)`` float64 blocks (n_rows, n_features) and
    (n_rows, n_targets) and reads the files afresh, so training can pass over data
    larger than memory as often as it needs. Memory stays at about one block.
    With a ``groups_column`` the blocks are ``(X, Y, None, groups)``, the cluster
    labels in the fourth place, as ``fit_stream`` takes them.

    Attributes
    ----------
    files : tuple of str
    feature_names, target_names : list of str
    block_bytes : int
        About how many bytes of file each block is read from.
    fits : str or None
        A float dtype every value must fit in (training in float32 without
        standardization), or None.
    shard : (int, int)
        ``(i, n)``: only worker i of n's blocks of rows are parsed and given
        (dealt by :class:`BlockDealer`; see :func:`shard_of`).
        The others' blocks are skipped unparsed: CSV text is scanned for line
        ends only, Parquet row groups without a block of this shard are not read
        (and a sharded Parquet file is held a row group at a time, not a block).
    groups_column : str or None
        The column of cluster labels, kept as the file holds them (see
        :func:`open_table`), or None.
    """

    files: tuple[str, ...]
    feature_names: list[str]
    target_names: list[str]
    block_bytes: int = BLOCK_BYTES
    fits: str | None = None
    shard: tuple[int, int] = (0, 1)
    groups_column: str | None = None

    def __iter__(self):
        columns = [self.feature_names, self.target_names]
        files = list(self.files)
        for X, Y, *groups in _matrix_blocks(
            files, columns, self.block_bytes, self.fits, self.shard, self.groups_column
        ):
            if X.shape[0]:
                yield (X, Y, None, *groups) if groups else (X, Y)

    def read(self) -> Table:
        """All the rows at once (of this shard), as a :class:`Table`."""
        columns = [self.feature_names, self.target_names]
        X, y, *groups = _read_matrices(
            list(self.files),
            columns,
            self.fits,
            self.shard,
            self.block_bytes,
            self.groups_column,
        )
        if X.shape[0] == 0:
            raise self.no_rows_error()
        return Table(X, y, self.feature_names, self.target_names, *groups)

    def no_rows_error(self) -> DataError:
        """The error for files that hold a header but no rows."""
        return empty_stream_error(list(self.files))

    def for_worker(self, index: int, count: int) -> TableStream:
        """Worker ``index`` of ``count``'s part of this table (:func:`shard_of`)."""
        return shard_of(self, index, count)

    def estimated_bytes(self) -> int:
        """Roughly what the columns would take in memory as float64.

        Parquet knows its row count; for CSV the text's size stands in (a number and
        its separator take about as many characters as its float64 takes bytes).
        """
        n_columns = len(self.feature_names) + len(self.target_names)
        return estimated_bytes(self.files, n_columns + (self.groups_column is not None))


def estimated_bytes(files, n_columns: int) -> int:
    """Roughly what ``n_columns`` of the files take in memory as float64 (see
    :meth:`TableStream.estimated_bytes`)."""
    total = 0
    for path in files:
        if is_parquet(path):
            import pyarrow.parquet as pq

            with pq.ParquetFile(path) as parquet:
                total += parquet.metadata.num_rows * n_columns * 8
        else:
            size = os.path.getsize(path)
            total += size * (4 if path.lower().endswith(".gz") else 1)
    return total


def open_table(
    paths, target, features=None, *, groups=None, block_bytes=BLOCK_BYTES, fits=None
) -> TableStream:
    """Check the files' headers and return a :class:`TableStream` of their columns.

    ``paths``, ``target``, ``features`` and ``groups`` are as for
    :func:`read_table`; only the headers are read here. With ``fits`` (say
    ``"float32"``) a value beyond that dtype's range is a DataError naming its cell.
    """
    files = expand_paths(paths)
    headers, indexes = zip(*(header_names(path) for path in files), strict=True)
    targets = listed_names(target)
    if features is None:
        others = (*targets, *indexes[0], *([] if groups is None else [groups]))
        features = [c for c in headers[0] if c not in others]
        refuse_index_column(files[0], features)
    features = listed_names(features)
    if not features:
        raise DataError(f"{files[0]}: no feature columns besides the target")
    for path, available in zip(files, headers, strict=True):
        check_columns(path, available, targets, "target")
        check_columns(path, available, features, "feature")
        if groups is not None:
            check_columns(path, available, [groups], "cluster")
    check_roles(targets, features, groups)
    return TableStream(
        tuple(files), features, targets, block_bytes, fits, groups_column=groups
    )


def read_table(paths, target, features=None, *, groups=None) -> Table:
    """Read the target column(s) and feature columns of CSV or Parquet files.

    Parameters
    ----------
    paths : str, PathLike, or list of them
        ``.csv``, ``.csv.gz`` (gzip by suffix) or ``.parquet``/``.pq`` files, any
        case. A str with ``*``, ``?`` or ``[`` that is no existing file is a glob
        pattern. The rows of all files are concatenated in order.
    target : str or list of str
    features : str or list of str, optional
        Default: every column of the first file that is neither a target nor the
        cluster labels.
    groups : str, optional
        A column of cluster labels for cluster-robust standard errors
        (``fit(..., groups=table.groups)``). Its values are kept as the file
        holds them: a CSV column as text (``"07"`` and ``"7"`` are two clusters),
        a Parquet column in its own type. A missing label (empty, NA, NaN, null) is
        refused with its row.

    Returns
    -------
    Table
    """
    return open_table(paths, target, features, groups=groups).read()


def open_features(
    paths, feature_names: list[str] | None, n_features: int, *, block_bytes=BLOCK_BYTES
) -> TableStream:
    """A :class:`TableStream` of the columns a model needs for prediction.

    ``paths`` is as for :func:`read_table`. With ``feature_names`` None (a model
    fitted on unnamed arrays) every file must have exactly ``n_features`` columns,
    used in the first file's order; later files must have the same names, so that
    rows are never matched by position across differently ordered files. Its blocks'
    Y has no columns.
    """
    files = expand_paths(paths)
    headers = [
        [c for c in names if c not in index]
        for names, index in (header_names(path) for path in files)
    ]
    if feature_names is None:
        for path, available in zip(files, headers, strict=True):
            if len(available) != n_features:
                raise DataError(
                    f"{path}: the model takes {n_features} unnamed features but the "
                    f"file has {len(available)} columns"
                )
        feature_names = headers[0]
    feature_names = list(feature_names)
    for path, available in zip(files, headers, strict=True):
        check_columns(path, available, feature_names, "feature")
    return TableStream(tuple(files), feature_names, [], block_bytes)


def read_features(paths, feature_names: list[str] | None, n_features: int) -> Table:
    """The columns a model needs, read whole (see :func:`open_features`)."""
    stream = open_features(paths, feature_names, n_features)
    (X,) = _read_matrices(list(stream.files), [stream.feature_names])
    return Table(X=X, y=None, feature_names=stream.feature_names, target_names=[])


# Whole files make a shard when no worker then reads more than this times its
# share of the bytes; otherwise blocks of rows, which balance to one block.
FILE_SHARD_IMBALANCE = 1.1


def shard_of(stream, index: int, count: int):
    """Worker ``index``'s part of a TableStream: whole files when they can be
    dealt out evenly by size (each worker then opens only its own), otherwise
    blocks of rows of all files, dealt evenly by size
    (:class:`BlockDealer`), the other workers' blocks skipped
    without being parsed. Every worker must see the same files."""
    from ..io.readers import BlockDealer

    if not 0 <= index < count:
        raise ValueError(f"worker index {index} is not in 0..{count - 1}")
    if count == 1:
        return stream
    if len(stream.files) >= count:
        # The largest file first, each to the worker with the fewest bytes so far.
        sizes = [os.path.getsize(path) for path in stream.files]
        dealer = BlockDealer(index, count)
        largest_first = sorted(range(len(sizes)), key=lambda f: (-sizes[f], f))
        mine = {f for f in largest_first if dealer(sizes[f])}
        if max(dealer.loads) <= FILE_SHARD_IMBALANCE * sum(sizes) / count:
            files = tuple(p for f, p in enumerate(stream.files) if f in mine)
            return dataclasses.replace(stream, files=files)
    return dataclasses.replace(stream, shard=(index, count))
