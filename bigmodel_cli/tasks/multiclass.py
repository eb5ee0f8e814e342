"""One class per example, of two or more: a softmax over the classes."""

from __future__ import annotations

import numpy as np

from ..data.spec import TargetSpec
from . import reports
from .base import Task
from .names import BINARY, MULTICLASS


class Multiclass(Task):
    name = MULTICLASS
    needs = "class labels (at least 2 classes)"
    accepts = (MULTICLASS, BINARY)  # two classes may train a two-way softmax
    min_classes = 2
    activation = "softmax"
    stratify = True

    def loss(self, target: TargetSpec):
        import keras

        return keras.losses.SparseCategoricalCrossentropy()

    def metrics(self, target: TargetSpec) -> list:
        import keras

        return [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]

    def report(self, y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
        from sklearn.metrics import f1_score

        predicted = self.predicted_classes(y_pred)
        probabilities = self.probabilities(y_pred)
        return {"macro_f1": float(f1_score(y_true, predicted, average="macro",
                                           labels=np.arange(self.width(y_pred)),
                                           zero_division=0)),
                **reports.top_k(y_true, probabilities),
                "ece": reports.calibration_error(y_true, probabilities)}

    def details(self, target: TargetSpec, y_true: np.ndarray, y_pred: np.ndarray) -> dict:
        names = class_names(target, self.width(y_pred))
        predicted = self.predicted_classes(y_pred)
        return {"per_class": reports.per_class(y_true, predicted, names),
                "confusion_matrix": {"classes": names,
                                     **reports.confusion(y_true, predicted, len(names))}}

    def probabilities(self, y_pred: np.ndarray) -> np.ndarray:
        """(examples, classes): each class's probability."""
        return np.asarray(y_pred, dtype=np.float64)

    def predicted_classes(self, y_pred: np.ndarray) -> np.ndarray:
        return np.argmax(y_pred, axis=-1)

    def width(self, y_pred: np.ndarray) -> int:
        return y_pred.shape[-1]

    def format_row(self, label: str, output: np.ndarray, target: TargetSpec, top_k: int) -> dict:
        """The `top_k` most probable classes, most probable first."""
        return {"input": label, "top": ranked(output, target, top_k)}


def class_names(target: TargetSpec, count: int) -> list[str]:
    return list(target.class_names or [str(index) for index in range(count)])


def ranked(probabilities: np.ndarray, target: TargetSpec, top_k: int) -> list[dict]:
    names = target.class_names or [str(index) for index in range(len(probabilities))]
    return [{"class": names[index], "probability": float(probabilities[index])}
            for index in np.argsort(-probabilities)[:top_k]]
