"""Rebuild the data's preprocessing inside the model, from the plain values of an InputSpec.

The saved model must take raw inputs (pixels in [0, 255], unscaled features, raw strings), so
scaling, normalization and tokenization are layers of the model rather than steps of the input
pipeline. They are created here, inside `build_model`, which the runner calls inside
`strategy.scope()`.
"""

from __future__ import annotations

import keras

from ..data.spec import IMAGE, TEXT, TOKENS, VECTOR, InputSpec
from ..errors import ConfigError

# TextVectorization keeps index 0 for padding and 1 for out-of-vocabulary words. A vocabulary
# taken from `get_vocabulary()` already starts with them; one learned elsewhere may not.
TEXT_SPECIAL_TOKENS = ["", "[UNK]"]


def preprocess(inputs, input_spec: InputSpec):
    """Map the raw `inputs` tensor to what a family body expects for this input kind."""
    kind = input_spec.kind
    if kind == IMAGE:
        return _image(inputs, input_spec)
    if kind == VECTOR:
        return _vector(inputs, input_spec)
    if kind == TOKENS:
        return inputs  # already int ids, 0 is padding; the family body embeds them
    if kind == TEXT:
        return _text(inputs, input_spec)
    raise ConfigError(
        f"unknown input kind '{kind}'; expected one of {VECTOR}, {IMAGE}, {TOKENS}, {TEXT}")


def _image(inputs, input_spec: InputSpec):
    features = inputs
    if len(input_spec.shape) == 2:
        # Grayscale images without a channel axis: convolutions need one.
        features = keras.layers.Reshape((*input_spec.shape, 1), name="add_channel")(features)
    if input_spec.scale is not None:
        features = keras.layers.Rescaling(input_spec.scale, name="rescale")(features)
    return features


def _vector(inputs, input_spec: InputSpec):
    if input_spec.mean is None or input_spec.variance is None:
        return inputs
    return keras.layers.Normalization(
        mean=input_spec.mean, variance=input_spec.variance, name="normalize")(inputs)


def _text(inputs, input_spec: InputSpec):
    if not input_spec.vocabulary:
        raise ConfigError("text inputs need a vocabulary in the input spec; the data source "
                          "must learn one from the training split")
    vectorize = keras.layers.TextVectorization(
        vocabulary=text_vocabulary(input_spec),
        output_sequence_length=input_spec.sequence_length,
        name="vectorize",
    )
    return vectorize(inputs)


def text_vocabulary(input_spec: InputSpec) -> list[str]:
    """The vocabulary without TextVectorization's special tokens, which it adds by itself."""
    words = list(input_spec.vocabulary)
    if words[: len(TEXT_SPECIAL_TOKENS)] == TEXT_SPECIAL_TOKENS:
        words = words[len(TEXT_SPECIAL_TOKENS):]
    return words


def is_sequence(input_spec: InputSpec) -> bool:
    """Token and text inputs both arrive at the family body as int ids with 0 for padding."""
    return input_spec.kind in (TOKENS, TEXT)


def vocabulary_size(input_spec: InputSpec) -> int:
    """How many rows an Embedding needs for the ids that `preprocess` produces."""
    if input_spec.kind == TEXT:
        return len(text_vocabulary(input_spec)) + len(TEXT_SPECIAL_TOKENS)
    if input_spec.vocab_size is None:
        raise ConfigError("token inputs need vocab_size in the input spec; set data.vocab_size")
    return input_spec.vocab_size


def fixed_sequence_length(features, family: str) -> int:
    """The static length of a token sequence, for bodies that need one (Flatten, positions)."""
    length = features.shape[1]
    if length is None:
        raise ConfigError(f"model family '{family}' needs sequences of a fixed length; "
                          "set data.sequence_length")
    return length
