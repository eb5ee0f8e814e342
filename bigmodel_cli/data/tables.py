"""Tables in the pipeline: columns as named arrays, and what each column's preprocessing needs.

Everything the model will hold is learned from the training split only: numeric means and
variances, the categories of each categorical column, the vocabulary of each text column.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from ..errors import DataError
from ..names import TEXT_SPECIAL_TOKENS
from .spec import CATEGORICAL, NUMERIC, TABLE, TEXT, ColumnSpec, InputSpec

VARIANCE_FLOOR = 1e-12  # as for vectors: a constant column only has its mean subtracted
DEFAULT_TEXT_VOCABULARY = 20_000
DEFAULT_TEXT_LENGTH = 32  # text in a table is short: a title, a comment


def as_columns(x: np.ndarray) -> dict[str, np.ndarray]:
    """A structured array -> {column name: float32 numbers or Python strings}."""
    return {name: (x[name].astype(np.float32) if x.dtype[name].kind != "O"
                   else np.asarray([str(value) for value in x[name]], dtype=object))
            for name in x.dtype.names}


def table_spec(raw, train_columns: dict[str, np.ndarray], data_config) -> InputSpec:
    check_input_names(raw.columns)
    columns = [describe_column(column, train_columns[column.name], data_config)
               for column in raw.columns]
    table_format = raw.table_format or {}
    return InputSpec(
        kind=TABLE, shape=(len(columns),), dtype="table", columns=columns,
        standardize=data_config.standardize, delimiter=table_format.get("delimiter"),
        column_names=table_format.get("column_names"),
        label_column=table_format.get("label_column"))


def describe_column(column: ColumnSpec, values: np.ndarray, data_config) -> ColumnSpec:
    if column.type == NUMERIC:
        numbers = values.astype(np.float64)
        variance = float(numbers.var())
        return ColumnSpec(name=column.name, type=NUMERIC, mean=float(numbers.mean()),
                          variance=variance if variance >= VARIANCE_FLOOR else 1.0)
    if column.type == CATEGORICAL:
        # Most frequent first, ties by name: a stable order for the same training split.
        counts = Counter(values.tolist())
        vocabulary = sorted(counts, key=lambda value: (-counts[value], value))
        return ColumnSpec(name=column.name, type=CATEGORICAL, vocabulary=vocabulary,
                          encoding=data_config.categorical_encoding,
                          embedding_dim=data_config.embedding_dim)
    if column.type == TEXT:
        return ColumnSpec(name=column.name, type=TEXT,
                          vocabulary=text_vocabulary(values, data_config),
                          embedding_dim=data_config.embedding_dim,
                          sequence_length=data_config.sequence_length or DEFAULT_TEXT_LENGTH)
    raise DataError(f"column '{column.name}': unknown type '{column.type}'; "
                    f"use {NUMERIC}, {CATEGORICAL} or {TEXT}")


def text_vocabulary(texts: np.ndarray, data_config) -> list[str]:
    """Words of the training texts, most frequent first, without TextVectorization's special
    tokens (a vectorizer given this vocabulary adds them back itself)."""
    import keras

    vectorizer = keras.layers.TextVectorization(
        max_tokens=data_config.vocab_size or DEFAULT_TEXT_VOCABULARY,
        standardize=standardize_option(data_config.standardize))
    vectorizer.adapt(texts)
    return [str(word) for word in vectorizer.get_vocabulary()[len(TEXT_SPECIAL_TOKENS):]]


def standardize_option(name: str | None):
    """The config's name -> TextVectorization's argument ('none' is None there)."""
    if name is None:
        return "lower_and_strip_punctuation"
    return None if name == "none" else name


def input_name(column_name: str) -> str:
    """The model input for a column: its name, as far as Keras allows ('/' is not allowed)."""
    return column_name.replace("/", "_")


def check_input_names(columns: list[ColumnSpec]) -> None:
    seen: dict[str, str] = {}
    for column in columns:
        name = input_name(column.name)
        if name in seen:
            raise DataError(f"columns '{seen[name]}' and '{column.name}' would both be the "
                            f"model input '{name}'; rename one")
        seen[name] = column.name
