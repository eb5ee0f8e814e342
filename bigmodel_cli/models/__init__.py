"""Model builders: one family body per module, a preprocessing front and a task head.

`build_model` assembles a functional Keras model from plain values (the data's InputSpec and
TargetSpec, the model section of the config). Every layer is created inside the call, so a
runner that calls it inside `strategy.scope()` gets its variables on the right devices.
Importing this package also registers the custom layers, which `load_model` needs.
"""

from __future__ import annotations

import keras

from ..data.spec import BINARY, MULTICLASS, REGRESSION, InputSpec, TargetSpec
from ..errors import ConfigError, lookup
from . import cnn, mlp, rnn, transformer
from .heads import build_head, check_task
from .preprocessing import model_inputs, preprocess

MODELS = {"mlp": mlp.build, "cnn": cnn.build, "rnn": rnn.build, "transformer": transformer.build}

__all__ = ["MODELS", "build_model", "check_task", "compile_arguments", "resolve_task"]


def build_model(input_spec: InputSpec, target: TargetSpec, model_config,
                name: str = "model") -> keras.Model:
    """Raw inputs -> preprocessing -> family body -> dense_units -> head, as one model."""
    build_body = lookup(MODELS, "model family", model_config.family)
    task = resolve_task(target, model_config)
    check_task(task, target)  # before building anything, so a mistake fails fast
    inputs = model_inputs(input_spec)  # one tensor, or one per column for a table
    features = preprocess(inputs, input_spec)
    features = build_body(features, input_spec, model_config)
    features = _dense_layers(features, model_config)
    outputs = build_head(features, task, target)
    return keras.Model(inputs, outputs, name=name)


def _dense_layers(features, model_config):
    # Families without an activation setting (rnn, transformer) get the usual relu.
    activation = getattr(model_config, "activation", "relu")
    for index, units in enumerate(model_config.dense_units):
        features = keras.layers.Dense(units, activation=activation, name=f"dense_{index}")(
            features)
        if model_config.dropout:
            features = keras.layers.Dropout(model_config.dropout, name=f"dense_{index}_dropout")(
                features)
    return features


def resolve_task(target: TargetSpec, model_config) -> str:
    """The task the model trains for: the config's choice, or the data's when it says auto."""
    return target.task if model_config.task == "auto" else model_config.task


def compile_arguments(task: str) -> dict:
    """Loss and metrics for `model.compile`; new objects each call, so inside a strategy scope."""
    if task == MULTICLASS:
        return {"loss": keras.losses.SparseCategoricalCrossentropy(),
                "metrics": [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]}
    if task == BINARY:
        return {"loss": keras.losses.BinaryCrossentropy(),
                "metrics": [keras.metrics.BinaryAccuracy(name="accuracy")]}
    if task == REGRESSION:
        return {"loss": keras.losses.MeanSquaredError(),
                "metrics": [keras.metrics.MeanAbsoluteError(name="mae")]}
    raise ConfigError(
        f"unknown task '{task}'; expected one of {MULTICLASS}, {BINARY}, {REGRESSION}")
