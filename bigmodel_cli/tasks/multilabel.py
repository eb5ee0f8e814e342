"""Several labels per example (tags): one sigmoid per label, each a yes-or-no question.

Labels travel as multi-hot rows (examples, labels). The CSV source reads them from label
values separated by '|' ("comedy|drama"); folders give one class per example and cannot.
"""

from __future__ import annotations

import numpy as np

from ..data.spec import TargetSpec
from . import reports
from .base import Task
from .multiclass import ranked
from .names import MULTILABEL

THRESHOLD = 0.5  # a label is predicted when its probability reaches this


class Multilabel(Task):
    name = MULTILABEL
    needs = ("several labels per example (CSV label values like 'a|b', or "
             "data.label_type: multilabel)")
    accepts = (MULTILABEL,)
    min_classes = 2
    activation = "sigmoid"

    def loss(self, target: TargetSpec):
        import keras

        return keras.losses.BinaryCrossentropy()

    def metrics(self, target: TargetSpec) -> list:
        import keras

        # accuracy: of every (example, label) decision; f1: of the predicted labels, pooled.
        return [keras.metrics.BinaryAccuracy(name="accuracy", threshold=THRESHOLD),
                keras.metrics.F1Score(average="micro", threshold=THRESHOLD, name="f1")]

    def convert_labels(self, labels) -> np.ndarray:
        labels = np.asarray(labels, dtype=np.float32)
        return labels.reshape(len(labels), -1)

    def synthetic_labels(self, rng, target: TargetSpec, count: int):
        return rng.integers(0, 2, (count, target.num_classes)).astype(np.float32)

    def label_counts(self, labels: np.ndarray, target: TargetSpec) -> dict:
        counts = np.asarray(labels).sum(axis=0)
        return {name: int(count) for name, count in zip(target.class_names, counts, strict=True)}

    def label_text(self, label, target: TargetSpec) -> str:
        return "|".join(name for name, on in zip(target.class_names, np.asarray(label),
                                                 strict=True) if on)

    def report(self, y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
        from sklearn.metrics import accuracy_score, f1_score

        predicted = (y_pred >= THRESHOLD).astype(np.int32)
        truth = np.asarray(y_true).astype(np.int32)
        return {
            "exact_match": float(accuracy_score(truth, predicted)),  # every label right
            "macro_f1": float(f1_score(truth, predicted, average="macro", zero_division=0)),
        }

    def details(self, target: TargetSpec, y_true: np.ndarray, y_pred: np.ndarray) -> dict:
        predicted = (y_pred >= THRESHOLD).astype(np.int32)
        truth = np.asarray(y_true).astype(np.int32)
        names = list(target.class_names or [str(index) for index in range(truth.shape[-1])])
        return {"per_class": reports.per_class(truth, predicted, names)}

    def format_row(self, label: str, output: np.ndarray, target: TargetSpec, top_k: int) -> dict:
        """The labels predicted (probability >= THRESHOLD, most probable first), and the
        `top_k` most probable labels whether predicted or not."""
        everything = ranked(output, target, len(output))
        return {"input": label,
                "labels": [guess["class"] for guess in everything
                           if guess["probability"] >= THRESHOLD],
                "top": everything[:top_k]}
