"""Multilayer perceptron: flattened inputs through a stack of Dense layers.

Token and text inputs are first embedded and averaged over the sequence (a bag of words), so
the same family gives a quick baseline for every input kind.
"""

from __future__ import annotations

import keras

from ..config.schema import MlpConfig
from ..data.spec import InputSpec
from .layers import MaskedGlobalPooling1D
from .preprocessing import is_sequence, vocabulary_size


def build(features, input_spec: InputSpec, config: MlpConfig):
    """Return the hidden representation of `features` after `config.hidden_units` layers."""
    if is_sequence(input_spec):
        features = _bag_of_embeddings(features, input_spec, config)
    elif len(features.shape) > 2:
        features = keras.layers.Flatten(name="flatten")(features)
    for index, units in enumerate(config.hidden_units):
        features = _hidden_layer(features, units, config, name=f"hidden_{index}")
    return features


def _bag_of_embeddings(features, input_spec: InputSpec, config: MlpConfig):
    # No separate setting for the embedding width: the first hidden width sets the model's scale.
    embedded = keras.layers.Embedding(
        vocabulary_size(input_spec), config.hidden_units[0], mask_zero=True,
        name="embedding")(features)
    # The padding mask makes the average count real tokens only (and an empty text gives 0).
    return MaskedGlobalPooling1D("mean", name="average_tokens")(embedded)


def _hidden_layer(features, units: int, config: MlpConfig, name: str):
    if config.batch_norm:
        # Normalize before the nonlinearity; the norm's shift replaces the Dense bias.
        features = keras.layers.Dense(units, use_bias=False, name=name)(features)
        features = keras.layers.BatchNormalization(name=f"{name}_norm")(features)
        features = keras.layers.Activation(config.activation, name=f"{name}_activation")(features)
    else:
        features = keras.layers.Dense(units, activation=config.activation, name=name)(features)
    if config.dropout:
        features = keras.layers.Dropout(config.dropout, name=f"{name}_dropout")(features)
    return features
