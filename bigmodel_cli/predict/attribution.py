"""Gradient attributions of one output value to the points of one example, with tf.GradientTape.

`forward(points)` maps a batch of points (the numbers attributed to: pixels, embedding
vectors, joined table features) to the model's outputs, one row per point; `select(outputs)`
picks the value explained (a class probability). Integrated gradients walks the straight path
from the baseline to the input in `steps` midpoints, and all of them (with the input and the
baseline, for the completeness check) go through the model in as few calls as memory allows:
one call per input for small models, not one per step.

No attribution library is used: none maintained fits Keras 3 on TensorFlow 2.21 (see the
README's "Explaining predictions"), and the method is a few lines of tape code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

METHODS = ("integrated_gradients", "saliency", "gradient_x_input")
# The completeness gap is worth a warning above this fraction of f(input) - f(baseline), and
# never below GAP_FLOOR in absolute terms (a difference near 0 makes any fraction large).
GAP_WARNING = 0.05
GAP_FLOOR = 1e-3
# Rows per model call: the path of a large input is cut into chunks of at most this many
# input numbers, so that 64 steps of a 224x224 image do not all sit in memory at once.
CHUNK_NUMBERS = 1 << 22


@dataclass
class Attribution:
    scores: np.ndarray  # the shape of one point
    outputs: np.ndarray  # the model's outputs at the input
    value: float  # f(input): the selected output
    baseline_value: float | None  # f(baseline); None for saliency, which has no baseline

    @property
    def total(self) -> float:
        return float(np.sum(self.scores, dtype=np.float64))

    @property
    def gap(self) -> float | None:
        """|sum of attributions - (f(input) - f(baseline))|: 0 for exact integrated gradients."""
        if self.baseline_value is None:
            return None
        return abs(self.total - (self.value - self.baseline_value))

    @property
    def gap_fraction(self) -> float | None:
        """The gap as a fraction of |f(input) - f(baseline)|; None when that is 0."""
        if self.gap is None or self.value == self.baseline_value:
            return None
        return self.gap / abs(self.value - self.baseline_value)

    @property
    def gap_too_large(self) -> bool:
        return self.gap is not None and self.gap > max(
            GAP_WARNING * abs(self.value - self.baseline_value), GAP_FLOOR)


def attribute(method: str, forward: Callable, select: Callable, point: np.ndarray,
              baseline: np.ndarray, steps: int = 64) -> Attribution:
    """The attribution of `select(forward(point))` by `method` (one of METHODS)."""
    point = np.asarray(point, dtype=np.float32)
    baseline = np.asarray(baseline, dtype=np.float32)
    if method == "integrated_gradients":
        # Midpoints of `steps` equal pieces of the path: a better sum than either end.
        alphas = ((np.arange(steps, dtype=np.float32) + 0.5) / steps).reshape(
            (-1,) + (1,) * point.ndim)
        path = baseline + alphas * (point - baseline)
    else:
        path = np.empty((0, *point.shape), np.float32)
    rows = np.concatenate([path, point[None], baseline[None]])
    gradients, outputs, values = _gradients(forward, select, rows)
    if method == "integrated_gradients":
        scores = (point - baseline) * gradients[:steps].mean(axis=0)
    elif method == "gradient_x_input":
        scores = (point - baseline) * gradients[-2]
    else:  # saliency: how much each number moves the output, whatever its sign
        scores = np.abs(gradients[-2])
    return Attribution(scores=scores, outputs=outputs[-2], value=float(values[-2]),
                       baseline_value=None if method == "saliency" else float(values[-1]))


def _gradients(forward: Callable, select: Callable, rows: np.ndarray):
    """(d select / d row, outputs, selected values) for every row, in chunks of rows."""
    import tensorflow as tf

    size = max(1, CHUNK_NUMBERS // max(1, int(np.prod(rows.shape[1:]))))
    gradients, outputs, values = [], [], []
    for start in range(0, len(rows), size):
        chunk = tf.convert_to_tensor(rows[start:start + size])
        with tf.GradientTape() as tape:
            tape.watch(chunk)
            output = tf.cast(forward(chunk), tf.float32)
            value = select(output)
        # Rows do not mix in inference, so the gradient of the sum is each row's own gradient.
        gradient = tape.gradient(value, chunk)
        gradients.append(np.zeros(chunk.shape, np.float32) if gradient is None
                         else gradient.numpy())
        outputs.append(output.numpy())
        values.append(value.numpy())
    return np.concatenate(gradients), np.concatenate(outputs), np.concatenate(values)
