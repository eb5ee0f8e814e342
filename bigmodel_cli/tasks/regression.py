"""One number per example, in the data's units.

The head's Dense unit learns the target standardized with the training split's mean and std;
a last layer (layers.Destandardize) holding those two numbers turns its output back into the
data's units, so the saved model predicts values like the training targets. Without it,
targets in the hundreds (sklearn diabetes: 25-346) start far from a freshly initialized
output near 0, and 15 epochs end with a mean absolute error worse than predicting the mean.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..data.spec import TargetSpec
from .base import OUTPUT_NAME, Task
from .names import REGRESSION

STD_FLOOR = 1e-12  # a constant target is only shifted by its mean, not divided by ~0


class Regression(Task):
    name = REGRESSION
    needs = "continuous targets"
    accepts = (REGRESSION,)

    def units(self, target: TargetSpec) -> int:
        return 1

    def head(self, features, target: TargetSpec):
        import keras

        from .layers import Destandardize

        mean, std = statistics(target)
        standardized = keras.layers.Dense(1, dtype="float32", name="standardized")(features)
        return Destandardize(mean, std, dtype="float32", name=OUTPUT_NAME)(standardized)

    def loss(self, target: TargetSpec):
        from .layers import StandardizedMeanSquaredError

        return StandardizedMeanSquaredError(statistics(target)[1])

    def metrics(self, target: TargetSpec) -> list:
        import keras

        return [keras.metrics.MeanAbsoluteError(name="mae")]  # in the data's units

    def convert_labels(self, labels) -> np.ndarray:
        return np.asarray(labels, dtype=np.float32).reshape(-1)

    def prepare_target(self, target: TargetSpec, train_labels: np.ndarray) -> TargetSpec:
        values = np.asarray(train_labels, dtype=np.float64)
        std = float(values.std()) if len(values) else 1.0
        return dataclasses.replace(target, mean=float(values.mean()) if len(values) else 0.0,
                                   std=std if std > STD_FLOOR else 1.0)

    def synthetic_labels(self, rng, target: TargetSpec, count: int):
        mean, std = statistics(target)
        return (mean + std * rng.normal(size=count)).astype(np.float32)

    def label_counts(self, labels: np.ndarray, target: TargetSpec) -> dict:
        return {"min": float(labels.min()), "mean": float(labels.mean()),
                "max": float(labels.max())}

    def label_text(self, label, target: TargetSpec) -> str:
        return f"{float(label):.4g}"

    def report(self, y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
        from sklearn.metrics import mean_absolute_error, r2_score, root_mean_squared_error

        truth, predicted = np.asarray(y_true).reshape(-1), np.asarray(y_pred).reshape(-1)
        numbers = {"mae": float(mean_absolute_error(truth, predicted)),
                   "rmse": float(root_mean_squared_error(truth, predicted))}
        if len(truth) > 1:  # R² is undefined for a single example
            numbers["r2"] = float(r2_score(truth, predicted))
        return numbers

    def format_row(self, label: str, output: np.ndarray, target: TargetSpec, top_k: int) -> dict:
        return {"input": label, "value": float(output.reshape(-1)[0])}


def statistics(target: TargetSpec) -> tuple[float, float]:
    """(mean, std) the model standardizes with; (0, 1) for runs saved before they were kept."""
    return (target.mean if target.mean is not None else 0.0,
            target.std if target.std is not None else 1.0)
