"""Checks of loaded numbers, so that bad data is called bad data before a model sees it.

A NaN or an infinity in the inputs or the targets turns the loss into NaN at the first step
that meets it, and from there the only visible symptom is a diverged run. Found at load time
instead, it is named: which array, which example, and where in it.
"""

from __future__ import annotations

import numpy as np

from ..errors import DataError


def first_non_finite(array: np.ndarray) -> tuple[tuple[int, ...], float, int] | None:
    """(index of the first NaN or infinity, its value, how many there are), or None."""
    array = np.asarray(array)
    if array.dtype.kind not in "fc":  # integers, strings and bytes cannot hold NaN
        return None
    bad = ~np.isfinite(array)
    count = int(np.count_nonzero(bad))
    if not count:
        return None
    index = tuple(int(i) for i in np.unravel_index(int(np.argmax(bad)), array.shape))
    return index, array[index].item(), count


def require_finite(array: np.ndarray, what: str, fix: str) -> None:
    """Raise DataError naming `what` (e.g. "data.npz: array 'x'") and its first bad value."""
    found = first_non_finite(array)
    if found is None:
        return
    index, value, count = found
    where = f"[{', '.join(map(str, index))}]"
    if len(index) > 1:
        where += f" (example {index[0]})"
    more = f", {count - 1:,} more non-finite value(s)" if count > 1 else ""
    raise DataError(f"{what} holds {value} at index {where}{more}; {fix}")
