"""Task names and the facts about them that code without TensorFlow needs.

The config schema (no TensorFlow, no numpy) takes its `model.task` choices from here, the data
sources their binary-if-two-classes rule, and monitor checks the metric names each task logs.
"""

from __future__ import annotations

MULTICLASS, BINARY, MULTILABEL = "multiclass", "binary", "multilabel"
REGRESSION, LANGUAGE_MODELING = "regression", "language_modeling"
AUTO = "auto"  # model.task: the task the data implies

TASK_NAMES = (MULTICLASS, BINARY, MULTILABEL, REGRESSION, LANGUAGE_MODELING)
# What `model.task` accepts (language_modeling: a text_corpus source and the gpt family).
CONFIG_CHOICES = (AUTO, MULTICLASS, BINARY, MULTILABEL, REGRESSION, LANGUAGE_MODELING)

# The metrics each task compiles, by the name Keras logs them under (validation: "val_" + name).
METRICS = {
    MULTICLASS: ("accuracy",),
    BINARY: ("accuracy",),
    MULTILABEL: ("accuracy", "f1"),
    REGRESSION: ("mae",),
    LANGUAGE_MODELING: ("accuracy",),
}


def classification_task(num_classes: int) -> str:
    """The task of data with one class per example: binary for two classes, else multiclass."""
    return BINARY if num_classes == 2 else MULTICLASS


def logged_metrics(task: str) -> tuple[str, ...]:
    """Every name a run of this task logs per epoch, with and without validation."""
    names = ("loss", *METRICS[task])
    return names + tuple(f"val_{name}" for name in names)
