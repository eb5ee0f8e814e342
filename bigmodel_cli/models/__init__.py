"""Model builders: one family body per module, a preprocessing front and a task's head.

`build_model` assembles a functional Keras model from plain values (the data's InputSpec and
TargetSpec, the model section of the config). Every layer is created inside the call, so a
runner that calls it inside `strategy.scope()` gets its variables on the right devices.
Importing this package also registers the custom layers (the families' and the tasks'), which
`load_model` needs.
"""

from __future__ import annotations

import keras

from .. import tasks
from ..data.spec import InputSpec, TargetSpec
from ..errors import lookup
from ..tasks import layers as _task_layers  # noqa: F401  registers the heads' layers and losses
from . import cnn, gpt, mlp, pretrained, rnn, tokenize, transformer  # noqa: F401  tokenize registers
from .preprocessing import model_inputs, preprocess

MODELS = {"mlp": mlp.build, "cnn": cnn.build, "rnn": rnn.build, "transformer": transformer.build,
          "pretrained": pretrained.build, "gpt": gpt.build}

__all__ = ["MODELS", "build_model"]


def build_model(input_spec: InputSpec, target: TargetSpec, model_config,
                name: str = "model") -> keras.Model:
    """Raw inputs -> preprocessing -> family body -> dense_units -> head, as one model."""
    build_body = lookup(MODELS, "model family", model_config.family)
    task = tasks.resolve(target, model_config.task)  # checked first: a mistake fails fast
    if model_config.family == "pretrained":  # its own tokenizer and body: models/pretrained.py
        return build_body(input_spec, model_config, name,
                          lambda features: task.head(_dense_layers(features, model_config),
                                                     target))
    inputs = model_inputs(input_spec)  # one tensor, or one per column for a table
    features = preprocess(inputs, input_spec)
    features = build_body(features, input_spec, model_config)
    if getattr(build_body, "includes_head", False):  # gpt: its logits are the outputs
        return keras.Model(inputs, features, name=name)
    features = _dense_layers(features, model_config)
    outputs = task.head(features, target)
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
