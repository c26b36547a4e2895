"""Training on data bigger than memory: one pass to a binary cache, epochs from it.

Parsing CSV text again every epoch would cost most of each epoch. One pass instead
writes the training rows ``[X, Y(, s)]`` (standardized, in the training dtype) to a
temporary binary file, a record per block of rows, which TensorFlow's own
``FixedLengthRecordDataset`` streams back every epoch without Python per block.
Memory stays at a few blocks whatever the number of rows.
"""

from __future__ import annotations

import os
import shutil
import tempfile

import numpy as np

BLOCK_ROWS = 65536


class RowCache:
    """Rows of the training matrix in a temporary file, ``block_rows`` per record.

    The rows after the last whole block (fewer than ``block_rows``) stay in memory.
    Use as a context manager: the file is removed on leaving it.
    """

    def __init__(self, n_columns: int, dtype, *, directory=None, block_rows=BLOCK_ROWS):
        self.n_columns, self.dtype = n_columns, np.dtype(dtype)
        self.block_rows = block_rows
        self.n_rows = 0
        self._directory = tempfile.mkdtemp(prefix="tapereg-rows-", dir=directory)
        self.path = os.path.join(self._directory, "rows.bin")
        self._file = open(self.path, "wb")  # noqa: SIM115 (closed by finish/close)
        self._pending: list[np.ndarray] = []
        self._pending_rows = 0
        self.tail = np.empty((0, n_columns), self.dtype)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        self._file.close()
        shutil.rmtree(self._directory, ignore_errors=True)

    def write(self, rows: np.ndarray) -> None:
        """Append rows (n, n_columns); whole blocks go to the file at once."""
        self._pending.append(np.asarray(rows, self.dtype))
        self._pending_rows += rows.shape[0]
        self.n_rows += rows.shape[0]
        if self._pending_rows >= self.block_rows:
            pending = np.concatenate(self._pending)
            whole = pending.shape[0] - pending.shape[0] % self.block_rows
            self._file.write(np.ascontiguousarray(pending[:whole]).tobytes())
            self._pending = [pending[whole:]]
            self._pending_rows = pending.shape[0] - whole

    def finish(self) -> None:
        """Close the file; the remaining rows become ``tail``."""
        self._file.close()
        if self._pending:
            self.tail = np.concatenate(self._pending)
        self._pending = []

    def blocks(self, split):
        """A ``tf.data.Dataset`` of the blocks, each mapped through ``split(rows)``.

        ``split`` turns a (rows, n_columns) tensor into the tuple training takes.
        """
        import tensorflow as tf

        dtype = tf.as_dtype(self.dtype)
        record_bytes = self.block_rows * self.n_columns * self.dtype.itemsize

        def decode(record):
            rows = tf.reshape(tf.io.decode_raw(record, dtype), [-1, self.n_columns])
            return split(rows)

        dataset = tf.data.FixedLengthRecordDataset(
            self.path, record_bytes, buffer_size=record_bytes
        ).map(decode)
        if self.tail.shape[0]:
            tail = tf.data.Dataset.from_tensors(tf.constant(self.tail)).map(split)
            dataset = dataset.concatenate(tail)
        return dataset.prefetch(2)
