"""Two classes: one sigmoid unit, the probability of the second class (the positive one)."""

from __future__ import annotations

import numpy as np

from ..data.spec import TargetSpec
from . import reports
from .multiclass import Multiclass, ranked
from .names import BINARY, MULTICLASS


class Binary(Multiclass):
    name = BINARY
    needs = "2 classes"
    accepts = (BINARY, MULTICLASS)
    max_classes = 2
    activation = "sigmoid"

    def units(self, target: TargetSpec) -> int:
        return 1

    def loss(self, target: TargetSpec):
        import keras

        return keras.losses.BinaryCrossentropy()

    def metrics(self, target: TargetSpec) -> list:
        import keras

        return [keras.metrics.BinaryAccuracy(name="accuracy")]

    def synthetic_labels(self, rng, target: TargetSpec, count: int):
        return rng.integers(0, 2, count).astype(np.int32)

    def predicted_classes(self, y_pred: np.ndarray) -> np.ndarray:
        return (y_pred.reshape(-1) >= 0.5).astype(np.int32)

    def width(self, y_pred: np.ndarray) -> int:
        return 2

    def probabilities(self, y_pred: np.ndarray) -> np.ndarray:
        positive = np.asarray(y_pred, dtype=np.float64).reshape(-1)
        return np.stack([1.0 - positive, positive], axis=-1)

    def report(self, y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
        positive = np.asarray(y_pred, dtype=np.float64).reshape(-1)
        return {**super().report(y_true, y_pred), **reports.binary_areas(y_true, positive)}

    def format_row(self, label: str, output: np.ndarray, target: TargetSpec, top_k: int) -> dict:
        positive = float(output.reshape(-1)[0])
        return {"input": label, "top": ranked(np.array([1.0 - positive, positive]), target, top_k)}
