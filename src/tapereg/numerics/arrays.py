"""Rows in chunks and aligned arrays: how big data stays in bounded memory.

NumPy only. Passes over X go a chunk of rows at a time, so a float32 X is never
copied whole to float64; training arrays are aligned so TensorFlow can share them.
"""

from __future__ import annotations

import numpy as np

CHUNK_ROWS = 65536
CHUNK_BYTES = 16 << 20
# TensorFlow shares the memory of arrays aligned to this many bytes (DLPack) and
# copies any other (twice, for tf.convert_to_tensor).
TENSOR_ALIGNMENT = 64


def aligned_empty(shape, dtype) -> np.ndarray:
    """An uninitialised C-contiguous array whose data starts on TENSOR_ALIGNMENT."""
    dtype = np.dtype(dtype)
    size = int(np.prod(shape)) * dtype.itemsize
    raw = np.empty(size + TENSOR_ALIGNMENT, np.uint8)
    start = -raw.ctypes.data % TENSOR_ALIGNMENT
    return raw[start : start + size].view(dtype).reshape(shape)


def aligned(array: np.ndarray, dtype) -> np.ndarray:
    """``array`` as ``dtype``, C-contiguous and aligned: itself if it already is."""
    if (
        array.dtype == dtype
        and array.flags.c_contiguous
        and array.ctypes.data % TENSOR_ALIGNMENT == 0
    ):
        return array
    out = aligned_empty(array.shape, dtype)
    for rows in chunks(array.shape[0], array[:1].size):
        out[rows] = array[rows]
    return out


def chunks(n_rows: int, n_columns: int = 1):
    """Slices of rows that keep a float64 copy of a chunk near CHUNK_BYTES.

    65,536 rows for narrow data, fewer for wide (at 1000 columns a fixed row count
    would make each chunk's float64 working copy half a gigabyte).
    """
    chunk_rows = max(256, min(CHUNK_ROWS, CHUNK_BYTES // (8 * max(n_columns, 1))))
    for start in range(0, n_rows, chunk_rows):
        yield slice(start, min(start + chunk_rows, n_rows))


def row_blocks(X: np.ndarray, Y: np.ndarray, sample_weight=None):
    """``(X, Y, sample_weight)`` arrays as blocks of rows, chunked as :func:`chunks`
    (the weight None when there is none): arrays fed to a pass written for streams."""
    for rows in chunks(X.shape[0], X.shape[1] + Y.shape[1]):
        yield X[rows], Y[rows], None if sample_weight is None else sample_weight[rows]
