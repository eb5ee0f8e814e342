"""Convolutional network: Conv2D blocks for images, Conv1D blocks over embeddings for text.

With the defaults (filters [32, 64], kernel 3, max pooling, Flatten, dense_units [128] added by
`build_model`) this is the classic Keras CIFAR-10 / MNIST convnet. Small images (8x8 digits)
must still work, so padding and pooling adapt to the size of the feature map.
"""

from __future__ import annotations

import keras

from ..config.schema import CnnConfig
from ..data.spec import IMAGE, InputSpec
from ..errors import ConfigError
from .preprocessing import fixed_sequence_length, is_sequence, vocabulary_size

POOL_SIZE = 2


def build(features, input_spec: InputSpec, config: CnnConfig):
    """Return the flattened (or globally pooled) output of the convolution blocks."""
    if input_spec.kind == IMAGE:
        return _image_network(features, config)
    if is_sequence(input_spec):
        return _text_network(features, input_spec, config)
    raise ConfigError(f"model family 'cnn' needs image, tokens or text inputs, got "
                      f"{input_spec.kind} inputs; use family: mlp")


def _image_network(features, config: CnnConfig):
    for index, filters in enumerate(config.filters):
        spatial_sizes = features.shape[1:3]
        features = _convolution(keras.layers.Conv2D, features, filters, spatial_sizes,
                                config, name=f"conv_{index}")
        if config.pooling != "none" and min(features.shape[1:3]) >= POOL_SIZE:
            pooling = {"max": keras.layers.MaxPooling2D,
                       "average": keras.layers.AveragePooling2D}[config.pooling]
            features = pooling(POOL_SIZE, name=f"pool_{index}")(features)
    if config.global_pooling:
        return keras.layers.GlobalAveragePooling2D(name="global_pool")(features)
    return keras.layers.Flatten(name="flatten")(features)


def _text_network(features, input_spec: InputSpec, config: CnnConfig):
    # Flatten needs a static length; global pooling does not.
    if not config.global_pooling:
        fixed_sequence_length(features, "cnn")
    # No separate setting for the embedding width: the first filter count sets the scale.
    features = keras.layers.Embedding(
        vocabulary_size(input_spec), config.filters[0], name="embedding")(features)
    for index, filters in enumerate(config.filters):
        lengths = features.shape[1:2]
        features = _convolution(keras.layers.Conv1D, features, filters, lengths, config,
                                name=f"conv_{index}")
        length = features.shape[1]
        if config.pooling != "none" and (length is None or length >= POOL_SIZE):
            pooling = {"max": keras.layers.MaxPooling1D,
                       "average": keras.layers.AveragePooling1D}[config.pooling]
            features = pooling(POOL_SIZE, name=f"pool_{index}")(features)
    if config.global_pooling:
        return keras.layers.GlobalAveragePooling1D(name="global_pool")(features)
    return keras.layers.Flatten(name="flatten")(features)


def _convolution(layer_class, features, filters: int, sizes, config: CnnConfig, name: str):
    # "valid" like the classic convnet while the map stays big enough to pool afterwards;
    # "same" once it is too small (or of unknown length), so inputs never shrink to nothing.
    fits = all(size is not None and size - config.kernel_size + 1 >= POOL_SIZE for size in sizes)
    padding = "valid" if fits else "same"
    if config.batch_norm:
        # Normalize before the nonlinearity; the norm's shift replaces the convolution bias.
        features = layer_class(filters, config.kernel_size, padding=padding, use_bias=False,
                               name=name)(features)
        features = keras.layers.BatchNormalization(name=f"{name}_norm")(features)
        return keras.layers.Activation(config.activation, name=f"{name}_activation")(features)
    return layer_class(filters, config.kernel_size, padding=padding,
                       activation=config.activation, name=name)(features)
