"""The output layer for a task, and the check that the task fits the data's target.

The head is always float32 so that a mixed-precision body still produces float32 predictions
and a numerically stable loss.
"""

from __future__ import annotations

import keras

from ..data.spec import BINARY, MULTICLASS, REGRESSION, TargetSpec
from ..errors import ConfigError

OUTPUT_NAME = "predictions"


def check_task(task: str, target: TargetSpec) -> None:
    """Raise a ConfigError when the requested task cannot be trained on this target."""
    if task not in (MULTICLASS, BINARY, REGRESSION):
        raise ConfigError(
            f"unknown task '{task}'; expected one of {MULTICLASS}, {BINARY}, {REGRESSION}")
    if target.task == REGRESSION and task != REGRESSION:
        raise ConfigError(f"model.task '{task}' needs class labels, but the data has "
                          "continuous targets; use task: regression (or auto)")
    if target.task != REGRESSION and task == REGRESSION:
        raise ConfigError(f"model.task 'regression' needs continuous targets, but the data has "
                          f"{target.num_classes} classes; use task: {target.task} (or auto)")
    if task == BINARY and target.num_classes != 2:
        raise ConfigError(f"model.task 'binary' needs 2 classes, but the data has "
                          f"{target.num_classes}; use task: multiclass (or auto)")
    if task == MULTICLASS and target.num_classes < 2:
        raise ConfigError(f"model.task 'multiclass' needs at least 2 classes, but the data has "
                          f"{target.num_classes}; check the data's class names")


def build_head(features, task: str, target: TargetSpec):
    """Append the output layer: class probabilities, one probability, or one value."""
    check_task(task, target)
    if task == MULTICLASS:
        units, activation = target.num_classes, "softmax"
    elif task == BINARY:
        units, activation = 1, "sigmoid"
    else:
        units, activation = 1, None
    return keras.layers.Dense(
        units, activation=activation, dtype="float32", name=OUTPUT_NAME)(features)
