"""The input spec of a data set: what the model needs to take raw inputs, from the training
split only (scale, normalization statistics, vocabulary), so validation and test stay honest.

Arrays in memory are described with numpy, as they are. Examples kept elsewhere (files, a
cache on disk, a stream) are described in one streaming pass over the training split:
moments merged batch by batch, a vocabulary adapted on a dataset (Keras' `adapt` takes one).
"""

from __future__ import annotations

import numpy as np

from ..errors import DataError
from ..names import TEXT_SPECIAL_TOKENS
from . import tables
from .spec import IMAGE, TABLE, TEXT, TOKENS, VECTOR, InputSpec, RawData, Split

# A feature whose training variance is below this is treated as constant: it gets variance 1,
# so normalizing only subtracts its mean instead of dividing by (almost) zero.
VARIANCE_FLOOR = 1e-12
DEFAULT_TEXT_VOCABULARY = 20_000
DEFAULT_TEXT_LENGTH = 128
RESERVED_TEXT_TOKENS = len(TEXT_SPECIAL_TOKENS)  # ids 0 (padding) and 1 (unknown words)


def describe_inputs(raw: RawData, splits: dict, bundle, data_config) -> InputSpec:
    """The input spec; `splits` are the converted splits, `bundle` streams the others."""
    train = splits["train"]
    in_memory = isinstance(train, Split) and raw.files is None
    if raw.input_kind == IMAGE:
        if raw.files is not None:
            return InputSpec(kind=IMAGE, shape=tuple(raw.files.shape), dtype="float32",
                             scale=1 / 255)
        if not in_memory:  # a stream of image bytes
            return InputSpec(kind=IMAGE, shape=tuple(train.shape), dtype="float32",
                             scale=1 / 255)
        # Pixels in [0, 255] are rescaled by the model; float images already in [0, 1] are not.
        train_x = train.x
        unit_range = train_x.dtype.kind == "f" and train_x.size and float(train_x.max()) <= 1.0
        return InputSpec(kind=IMAGE, shape=train_x.shape[1:], dtype="float32",
                         scale=1.0 if unit_range else 1 / 255)
    if raw.input_kind == TABLE:
        return tables.table_spec(raw, train.x, data_config)
    if raw.input_kind == VECTOR:
        if in_memory:
            return vector_spec(train.x)
        return moments_spec(*streaming_moments(training_inputs(bundle)), tuple(train.shape))
    if raw.input_kind == TOKENS:
        return token_spec(raw, splits, data_config)
    return text_spec(train.x if in_memory else training_inputs(bundle), data_config)


def training_inputs(bundle):
    """The training split's inputs, batch after batch, in their stored order."""
    dataset = bundle._build(bundle.examples("train"), False, None)
    return dataset.map(lambda x, y: x)


def streaming_moments(batches) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature mean and variance over all batches, merged batch by batch (Chan et al.)."""
    count, mean, squares = 0, None, None
    for batch in batches:
        values = np.asarray(batch, np.float64).reshape(len(batch), -1)
        if not len(values):
            continue
        batch_mean = values.mean(axis=0)
        batch_squares = ((values - batch_mean) ** 2).sum(axis=0)
        if mean is None:
            count, mean, squares = len(values), batch_mean, batch_squares
            continue
        total = count + len(values)
        delta = batch_mean - mean
        mean = mean + delta * len(values) / total
        squares = squares + batch_squares + delta ** 2 * count * len(values) / total
        count = total
    if mean is None:
        raise DataError("the training split has no examples to compute statistics from")
    return mean, squares / count


def vector_spec(train_x: np.ndarray) -> InputSpec:
    features = train_x.astype(np.float64)
    return moments_spec(features.mean(axis=0), features.var(axis=0), train_x.shape[1:])


def moments_spec(mean: np.ndarray, variance: np.ndarray, shape) -> InputSpec:
    variance = np.where(variance < VARIANCE_FLOOR, 1.0, variance)
    return InputSpec(
        kind=VECTOR, shape=tuple(shape), dtype="float32",
        mean=[float(value) for value in mean], variance=[float(value) for value in variance])


def token_spec(raw: RawData, splits: dict[str, Split | None], data_config) -> InputSpec:
    """Token ids in [0, vocab_size), 0 being padding."""
    largest_id = max(int(split.x.max(initial=0)) for split in splits.values() if split is not None)
    vocab_size = raw.vocab_size or data_config.vocab_size or largest_id + 1
    if largest_id >= vocab_size:
        raise DataError(
            f"token id {largest_id} is outside the vocabulary of {vocab_size} ids; "
            "raise data.vocab_size or leave it unset")
    length = splits["train"].x.shape[1]
    return InputSpec(kind=TOKENS, shape=(length,), dtype="int32",
                     vocab_size=vocab_size, sequence_length=length)


def text_spec(train_texts, data_config) -> InputSpec:
    """Raw strings (an array, or a dataset of batches of them); the vocabulary is learned here
    so the model can hold it in a layer."""
    import keras

    length = data_config.sequence_length or DEFAULT_TEXT_LENGTH
    vectorizer = keras.layers.TextVectorization(
        max_tokens=data_config.vocab_size or DEFAULT_TEXT_VOCABULARY,
        output_sequence_length=length,
        standardize=tables.standardize_option(data_config.standardize))
    vectorizer.adapt(train_texts)
    # Without TEXT_SPECIAL_TOKENS: TextVectorization(vocabulary=...) adds them back itself.
    vocabulary = [str(word) for word in vectorizer.get_vocabulary()[RESERVED_TEXT_TOKENS:]]
    return InputSpec(
        kind=TEXT, shape=(), dtype="string", vocabulary=vocabulary, sequence_length=length,
        vocab_size=len(vocabulary) + RESERVED_TEXT_TOKENS,  # ids the vectorizer can output
        standardize=data_config.standardize)
