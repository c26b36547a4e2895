"""Values made strict JSON: NaN and ±inf, which JSON has no words for, as null."""

from __future__ import annotations

import math

import numpy as np


def strict_json(value):
    """``value`` (dicts, lists, tuples, numbers, NumPy scalars and arrays) with
    every non-finite number replaced by None, ready for ``allow_nan=False``."""
    if isinstance(value, dict):
        return {key: strict_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [strict_json(item) for item in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
