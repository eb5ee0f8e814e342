"""The Task interface: what a kind of target asks of the model, the pipeline and the reports.

A task owns the head (units and output activation), the loss and the metrics, the label
conversion in the data pipeline, the numbers `evaluate` reports and the row `predict` prints.
Tasks hold no state: one instance per task serves every run (tasks/__init__.py's TASKS).
Keras is imported inside the methods that build Keras objects, so that listing tasks stays cheap.
"""

from __future__ import annotations

import numpy as np

from ..data.spec import TargetSpec
from ..errors import ConfigError
from .names import LANGUAGE_MODELING, METRICS, MULTILABEL, REGRESSION

OUTPUT_NAME = "predictions"  # the name of every model's last layer


class Task:
    name: str
    # What the task needs of the data, and the data tasks (TargetSpec.task) that provide it.
    needs: str
    accepts: tuple[str, ...]
    min_classes, max_classes = 0, None  # classes (or labels) the data must have
    activation: str | None = None  # of the head
    stratify = False  # held-out splits keep the class balance (one class per example)

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"<task {self.name}>"

    @property
    def metric_names(self) -> tuple[str, ...]:
        return METRICS[self.name]

    # --- the one check that this task can train on the data --------------------------------

    def check(self, target: TargetSpec) -> None:
        """Raise a ConfigError when this task cannot be trained on this target."""
        if target.task in self.accepts and self.class_count_fits(target):
            return
        from . import get

        data_task = get(target.task)
        fits_itself = data_task.class_count_fits(target)
        advice = (f"use task: {target.task} (or auto)" if fits_itself and data_task is not self
                  else "check the data's labels")
        raise ConfigError(f"model.task '{self.name}' needs {self.needs}, but the data has "
                          f"{describe(target)}; {advice}")

    def class_count_fits(self, target: TargetSpec) -> bool:
        count = target.num_classes
        return count >= self.min_classes and (self.max_classes is None or
                                              count <= self.max_classes)

    # --- the model ---------------------------------------------------------------------------

    def units(self, target: TargetSpec) -> int:
        return target.num_classes

    def head(self, features, target: TargetSpec):
        """The output layer, always float32: a mixed-precision body still produces float32
        predictions and a numerically stable loss."""
        import keras

        return keras.layers.Dense(self.units(target), activation=self.activation,
                                  dtype="float32", name=OUTPUT_NAME)(features)

    def loss(self, target: TargetSpec):
        raise NotImplementedError

    def metrics(self, target: TargetSpec) -> list:
        raise NotImplementedError

    def compile_arguments(self, target: TargetSpec) -> dict:
        """Loss and metrics for `model.compile`; new objects each call, so inside a strategy
        scope."""
        return {"loss": self.loss(target), "metrics": self.metrics(target)}

    # --- the data ----------------------------------------------------------------------------

    def convert_labels(self, labels) -> np.ndarray:
        """A source's labels as the pipeline carries them."""
        return np.asarray(labels, dtype=np.int32).reshape(-1)

    def prepare_target(self, target: TargetSpec, train_labels: np.ndarray) -> TargetSpec:
        """The target with what the model learns from the training split (nothing, here)."""
        return target

    def synthetic_labels(self, rng: np.random.Generator, target: TargetSpec, count: int):
        """Random labels of the right shape and dtype, for a dry run's training step."""
        return rng.integers(0, max(self.units(target), 2), count).astype(np.int32)

    def label_counts(self, labels: np.ndarray, target: TargetSpec) -> dict:
        """{class name: examples}, for `data inspect`'s class balance."""
        counts = np.bincount(labels, minlength=target.num_classes)
        return {name: int(count) for name, count in zip(target.class_names, counts, strict=True)}

    def label_text(self, label, target: TargetSpec) -> str:
        return target.class_names[int(label)]

    # --- evaluate and predict ----------------------------------------------------------------

    def score(self, target: TargetSpec, y_true: np.ndarray, y_pred: np.ndarray) -> dict:
        """What `evaluate` prints: the loss and metrics training logs, then `report`'s extras."""
        arguments = self.compile_arguments(target)
        numbers = {"loss": float(arguments["loss"](y_true, y_pred))}
        for metric in arguments["metrics"]:
            metric.update_state(y_true, y_pred)
            numbers[metric.name] = float(metric.result())
        for name, value in self.report(y_true, y_pred).items():
            numbers.setdefault(name, value)
        return numbers

    def score_batches(self, target: TargetSpec, batches) -> dict:
        """`score` over (labels, outputs) batches; a task whose outputs are large (one
        vector per position) sums as it goes instead."""
        pairs = list(batches)
        return self.score(target, np.concatenate([labels for labels, _ in pairs]),
                          np.concatenate([outputs for _, outputs in pairs]))

    def report(self, y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
        """Numbers beyond the training metrics, from all labels and predictions of a split."""
        return {}

    def details(self, target: TargetSpec, y_true: np.ndarray, y_pred: np.ndarray) -> dict:
        """Tables beyond the numbers (per-class scores, a confusion matrix), JSON-ready."""
        return {}

    def format_row(self, label: str, output: np.ndarray, target: TargetSpec, top_k: int) -> dict:
        """One `predict` row: the input's label and what the model says about it."""
        raise NotImplementedError


def describe(target: TargetSpec) -> str:
    """What the data's target is, in the words of the check's error."""
    if target.task == REGRESSION:
        return "continuous targets"
    if target.task == LANGUAGE_MODELING:
        return "next-token targets"
    count = target.num_classes
    if target.task == MULTILABEL:
        return f"{count} labels, several per example"
    return f"{count} class" + ("" if count == 1 else "es")
