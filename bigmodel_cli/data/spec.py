"""What the data tells the model: plain values, no TensorFlow objects.

Sources produce `RawData` (numpy arrays per split); `data.pipeline` turns it into a
`DataBundle` of tf.data pipelines. The `InputSpec` carries everything needed to rebuild the
preprocessing inside the model (scale, normalization statistics, vocabulary), so that the saved
model takes raw inputs and so that layers are created inside the distribution strategy's scope.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

VECTOR, IMAGE, TOKENS, TEXT = "vector", "image", "tokens", "text"
TABLE = "table"  # CSV rows: one named input per column
NUMERIC, CATEGORICAL = "numeric", "categorical"  # column types, beside TEXT
MULTICLASS, BINARY, REGRESSION = "multiclass", "binary", "regression"


@dataclass
class ColumnSpec:
    """One feature column of a table, and what the model needs to preprocess it."""

    name: str  # as in the CSV header; also the name of the model's input for this column
    type: str  # numeric | categorical | text
    # numeric: normalized with these statistics of the training split.
    mean: float | None = None
    variance: float | None = None
    # categorical: the values seen in training (others go to StringLookup's out-of-vocabulary
    # slot); text: the words learned from the training split.
    vocabulary: list[str] | None = None
    encoding: str | None = None  # categorical: one_hot | embedding
    embedding_dim: int | None = None  # categorical embeddings and text
    sequence_length: int | None = None  # text


@dataclass
class InputSpec:
    """One example as the saved model receives it (raw, before preprocessing)."""

    kind: str  # vector | image | tokens | text | table
    shape: tuple[int, ...]  # per example: (features,), (height, width, channels), (length,), ()
    dtype: str  # float32 for vector/image, int32 for tokens, string for text
    # image: raw pixels are in [0, 255]; the model multiplies by `scale`.
    scale: float | None = None
    # vector: the model normalizes with these per-feature statistics of the training split.
    mean: list[float] | None = None
    variance: list[float] | None = None
    # tokens: ids are in [0, vocab_size), 0 is padding. text: vocabulary learned from train.
    vocab_size: int | None = None
    vocabulary: list[str] | None = None
    sequence_length: int | None = None
    # text: TextVectorization's standardize (None: its default, lower_and_strip_punctuation).
    standardize: str | None = None
    # table: the feature columns, and how predict reads CSV rows (the label column is ignored;
    # column_names is set when the training files had no header row).
    columns: list[ColumnSpec] | None = None
    delimiter: str | None = None
    column_names: list[str] | None = None
    label_column: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> InputSpec:
        values = {**values, "shape": tuple(values["shape"])}
        if values.get("columns") is not None:
            values["columns"] = [ColumnSpec(**column) for column in values["columns"]]
        return cls(**values)


@dataclass
class TargetSpec:
    task: str  # multiclass | binary | regression
    class_names: list[str] = field(default_factory=list)  # empty for regression

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TargetSpec:
        return cls(**values)


@dataclass
class Split:
    x: np.ndarray  # (examples, *shape); for text, an array of Python strings
    y: np.ndarray  # (examples,) int class ids, or float targets for regression

    def __len__(self) -> int:
        return len(self.y)


@dataclass
class RawData:
    """What a source returns. Missing validation/test splits are cut from train by the pipeline."""

    train: Split
    input_kind: str
    task: str
    class_names: list[str]
    validation: Split | None = None
    test: Split | None = None
    vocab_size: int | None = None  # tokens only
    # image_folder read lazily: x holds file paths, decoded and resized by the pipeline to
    # (height, width, channels).
    image_files: tuple[int, int, int] | None = None
    columns: list[ColumnSpec] | None = None  # table: names and types (x is a structured array)
    table_format: dict[str, Any] | None = None  # table: delimiter, column_names, label_column
    skipped: list[str] = field(default_factory=list)  # unreadable files or rows left out


@dataclass
class DataBundle:
    """Ready-to-train pipelines (batched, prefetched; train shuffled) and their description."""

    train: Any  # tf.data.Dataset of (x, y)
    validation: Any | None
    test: Any | None
    input_spec: InputSpec
    target: TargetSpec
    sizes: dict[str, int]  # examples per split
    # train_stream(first_step): every training batch of the run, epoch after epoch, from
    # `first_step` on; the same sequence in every process, so a resumed run sees the batches an
    # uninterrupted one would.
    train_stream: Callable[[int], Any] | None = None
    skipped: int = 0  # unreadable files or rows left out (data.on_bad_file: skip)
    skipped_names: list[str] = field(default_factory=list)  # the first few, for the log
    labels: dict[str, Any] = field(default_factory=dict)  # numpy labels per split, for inspect

    @property
    def skipped_note(self) -> str:
        """One line for the log; empty when nothing was skipped."""
        if not self.skipped:
            return ""
        more = self.skipped - len(self.skipped_names)
        return (f"skipped {self.skipped} unreadable file(s) or row(s) (data.on_bad_file: skip): "
                f"{', '.join(self.skipped_names)}" + (f" and {more} more" if more > 0 else ""))

    def split(self, name: str):
        return {"train": self.train, "validation": self.validation, "test": self.test}[name]
