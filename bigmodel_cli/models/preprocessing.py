"""Rebuild the data's preprocessing inside the model, from the plain values of an InputSpec.

The saved model must take raw inputs (pixels in [0, 255], unscaled features, raw strings), so
scaling, normalization and tokenization are layers of the model rather than steps of the input
pipeline. They are created here, inside `build_model`, which the runner calls inside
`strategy.scope()`.

A table (CSV rows) has one named input per column: numeric columns are normalized, categorical
ones looked up (one-hot or embedded), text ones vectorized and embedded; the results are joined
into one feature vector, which every family body reads like a vector.
"""

from __future__ import annotations

import keras

from ..data.spec import CATEGORICAL, IMAGE, NUMERIC, TABLE, TEXT, TOKENS, VECTOR, InputSpec
from ..data.tables import input_name, standardize_option
from ..errors import ConfigError
from ..names import TEXT_SPECIAL_TOKENS
from .layers import MaskedGlobalPooling1D


def model_inputs(input_spec: InputSpec):
    """The model's raw input: one tensor, or for a table a dict with one input per column."""
    if input_spec.kind != TABLE:
        return keras.Input(shape=input_spec.shape, dtype=input_spec.dtype, name="inputs")
    return {input_name(column.name): keras.Input(
                shape=(), dtype="float32" if column.type == NUMERIC else "string",
                name=input_name(column.name))
            for column in input_spec.columns}


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
    if kind == TABLE:
        return _table(inputs, input_spec)
    raise ConfigError(f"unknown input kind '{kind}'; expected one of {VECTOR}, {IMAGE}, "
                      f"{TOKENS}, {TEXT}, {TABLE}")


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
        standardize=standardize_option(input_spec.standardize),
        name="vectorize",
    )
    return vectorize(inputs)


def _table(inputs: dict, input_spec: InputSpec):
    numeric = [column for column in input_spec.columns if column.type == NUMERIC]
    parts = []
    if numeric:
        # One Normalization over the stacked numeric columns, with each column's statistics.
        stacked = [keras.layers.Reshape((1,), name=f"{input_name(column.name)}_as_feature")(
                       inputs[input_name(column.name)]) for column in numeric]
        stacked = stacked[0] if len(stacked) == 1 else \
            keras.layers.Concatenate(name="numeric_columns")(stacked)
        parts.append(keras.layers.Normalization(
            mean=[column.mean for column in numeric],
            variance=[column.variance for column in numeric], name="normalize_numeric")(stacked))
    for column in input_spec.columns:
        name = input_name(column.name)
        if column.type == CATEGORICAL:
            parts.append(_categorical(inputs[name], column, name))
        elif column.type == TEXT:
            parts.append(_text_column(inputs[name], column, name, input_spec.standardize))
    if len(parts) == 1:
        return parts[0]
    return keras.layers.Concatenate(name="columns")(parts)


def _categorical(values, column, name: str):
    # A value never seen in training goes to the out-of-vocabulary slot, index 0.
    if column.encoding == "embedding":
        ids = keras.layers.StringLookup(vocabulary=column.vocabulary, name=f"{name}_lookup")(
            values)
        return keras.layers.Embedding(len(column.vocabulary) + 1, column.embedding_dim,
                                      name=f"{name}_embedding")(ids)
    return keras.layers.StringLookup(vocabulary=column.vocabulary, output_mode="one_hot",
                                     name=f"{name}_lookup")(values)


def _text_column(texts, column, name: str, standardize: str | None):
    # Vocabulary from the training split; words become ids, embedded and averaged.
    vocabulary = column.vocabulary or ["[EMPTY]"]  # all-empty training texts: a placeholder
    vectorize = keras.layers.TextVectorization(
        vocabulary=vocabulary, output_sequence_length=column.sequence_length,
        standardize=standardize_option(standardize), name=f"{name}_vectorize")
    embedded = keras.layers.Embedding(
        len(vocabulary) + len(TEXT_SPECIAL_TOKENS), column.embedding_dim,
        mask_zero=True, name=f"{name}_embedding")(vectorize(texts))
    return MaskedGlobalPooling1D("mean", name=f"{name}_average")(embedded)


def text_vocabulary(input_spec: InputSpec) -> list[str]:
    """The vocabulary without TextVectorization's special tokens, which it adds by itself.

    A vocabulary taken from `get_vocabulary()` starts with them; one learned elsewhere may not.
    """
    words = list(input_spec.vocabulary)
    if tuple(words[: len(TEXT_SPECIAL_TOKENS)]) == TEXT_SPECIAL_TOKENS:
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
