"""What the data tells the model: plain values, no TensorFlow objects.

Sources produce `RawData`: per split, arrays in memory (`Split`), a list of files the pipeline
reads (`Split` of paths, with `RawData.files` saying how), or a stream read in order
(`StreamedSplit`, tfds); `data.pipeline` turns it into a `DataBundle` (data/bundle.py) of
tf.data pipelines. The `InputSpec` carries everything needed to rebuild the preprocessing
inside the model (scale, normalization statistics, vocabulary), so that the saved model takes
raw inputs and so that layers are created inside the distribution strategy's scope.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..tasks.names import BINARY, MULTICLASS, MULTILABEL, REGRESSION  # noqa: F401  re-exported

VECTOR, IMAGE, TOKENS, TEXT = "vector", "image", "tokens", "text"
TABLE = "table"  # CSV rows: one named input per column
NUMERIC, CATEGORICAL = "numeric", "categorical"  # column types, beside TEXT


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
    # tokens of a text corpus: the tokenizer (data/tokenizers.py's to_dict), for generate
    tokenizer: dict[str, Any] | None = None

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
    """What the model predicts. Fields added later have defaults: old spec.json files load."""

    task: str  # multiclass | binary | multilabel | regression | language_modeling
    # The classes (multiclass, binary), the labels (multilabel), the token of each id
    # (language_modeling); empty for regression.
    class_names: list[str] = field(default_factory=list)
    # regression: the training split's target mean and std; the model's last layer holds them
    # (tasks/regression.py). None in runs saved before they were kept.
    mean: float | None = None
    std: float | None = None

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
    x: np.ndarray  # (examples, *shape); for text, an array of Python strings; or file paths
    # (examples,) int class ids or float regression targets; multilabel: (examples, labels)
    # multi-hot
    y: np.ndarray

    def __len__(self) -> int:
        return len(self.y)


@dataclass
class StreamedSplit:
    """Examples read in order from a tf.data stream (tfds), not held in memory by the source.

    `read()` gives a fresh dataset of single (x, y) examples; x has `shape` and `dtype`."""

    read: Callable[[], Any]
    count: int
    shape: tuple[int, ...]
    dtype: str  # numpy dtype name of x: uint8 images, float32 vectors, object for text
    label_dtype: str = "int32"  # float32 for regression
    key: str = ""  # what names these examples (dataset, version, split): a cache file's key

    def first(self, count: int) -> StreamedSplit:
        return dataclasses.replace(self, read=lambda: self.read().take(count),
                                   count=min(count, self.count), key=f"{self.key}[:{count}]")

    def __len__(self) -> int:
        return self.count


@dataclass
class FileExamples:
    """x of every split holds file paths that the pipeline reads and decodes in parallel."""

    kind: str  # image | text
    root: str  # data.path, for names relative to it in messages and results
    on_bad_file: str  # fail | skip
    shape: tuple[int, int, int] | None = None  # image: decoded to (height, width, channels)
    # refuse(paths, damaged): raise the one-line DataError for these unreadable files
    # (on_bad_file: fail); damaged: {path: the decoder's report} of those that decoded anyway
    refuse: Callable[[list[str], dict[str, str]], None] | None = None


@dataclass
class RawData:
    """What a source returns. Missing validation/test splits are cut from train by the pipeline."""

    train: Split | StreamedSplit
    input_kind: str
    task: str
    class_names: list[str]
    validation: Split | StreamedSplit | None = None
    test: Split | StreamedSplit | None = None
    vocab_size: int | None = None  # tokens only
    files: FileExamples | None = None  # image_folder, text_folder: x holds file paths
    columns: list[ColumnSpec] | None = None  # table: names and types (x is a structured array)
    table_format: dict[str, Any] | None = None  # table: delimiter, column_names, label_column
    skipped: list[str] = field(default_factory=list)  # unreadable files or rows left out
    notes: list[str] = field(default_factory=list)  # lines for the training log (image size)


# --- the data a run was trained on, against the data read now ----------------------------------

def require_same_data(trained: dict, bundle, where: str, advice: str) -> None:
    """Raise DataError naming every difference between a run's spec.json (`trained`, as read)
    and the data `bundle` (a DataBundle) read now for the same config; `where` names the data,
    `advice` says what to do (it depends on the command)."""
    from ..errors import DataError

    found = differences(InputSpec.from_dict(trained["input"]),
                        TargetSpec.from_dict(trained["target"]),
                        bundle.input_spec, bundle.target)
    if found:
        raise DataError(f"{where}: the data is not what this run was trained on: "
                        f"{'; '.join(found)}; {advice}")


def differences(trained_input: InputSpec, trained_target: TargetSpec,
                now_input: InputSpec, now_target: TargetSpec) -> list[str]:
    """What differs, in words, between a run's spec.json and the same config's data read now.

    Only what the saved model depends on: the task, the classes and their order (a label id
    means a class), the input's kind and shape, a table's columns, an image's pixel range and a
    token vocabulary that grew. Statistics and vocabularies learned from the training split
    live inside the model and may drift with the data without making its metrics wrong.
    """
    found = []
    if now_target.task != trained_target.task:
        found.append(f"the task is now {now_target.task}, it was {trained_target.task}")
    found += _class_differences(trained_target.class_names, now_target.class_names)
    if now_input.kind != trained_input.kind:
        found.append(f"the inputs are now {now_input.kind}, they were {trained_input.kind}")
        return found
    if now_input.kind == TABLE:
        found += _column_differences(trained_input, now_input)
    elif tuple(now_input.shape) != tuple(trained_input.shape):
        found.append(f"input shape {_shape(now_input.shape)}, trained on "
                     f"{_shape(trained_input.shape)}")
    if now_input.kind == IMAGE and trained_input.scale and now_input.scale \
            and not np.isclose(now_input.scale, trained_input.scale):
        ranges = {1.0: "[0, 1]"}
        found.append(f"pixels now in {ranges.get(now_input.scale, '[0, 255]')}, the model "
                     f"expects {ranges.get(trained_input.scale, '[0, 255]')}")
    if now_input.kind == TOKENS and (now_input.vocab_size or 0) > (trained_input.vocab_size or 0):
        found.append(f"token ids now reach {now_input.vocab_size - 1}, the model knows "
                     f"{trained_input.vocab_size} ids")
    return found


def _class_differences(trained: list[str], now: list[str]) -> list[str]:
    known, current = set(trained), set(now)  # sets: a BPE vocabulary has ~50k tokens
    added = [name for name in now if name not in known]
    removed = [name for name in trained if name not in current]
    found = []
    if added:
        found.append(f"class(es) {_listed(added)} added")
    if removed:
        found.append(f"class(es) {_listed(removed)} missing")
    if not added and not removed and now != trained:
        found.append(f"classes in another order ({_listed(now)}; trained as "
                     f"{_listed(trained)}), so every label id means another class")
    elif found:
        found[-1] += (f" (classes now {_listed(now) or 'none'}; trained on "
                      f"{_listed(trained) or 'none'})")
    return found


def _listed(names: list[str], most: int = 20) -> str:
    """Names joined by commas; past `most` (a vocabulary), the first ones and a count."""
    shown = ", ".join(names[:most])
    return shown if len(names) <= most else f"{shown} and {len(names) - most:,} more"


def _column_differences(trained: InputSpec, now: InputSpec) -> list[str]:
    trained_types = {column.name: column.type for column in trained.columns or []}
    now_types = {column.name: column.type for column in now.columns or []}
    found = []
    added = [name for name in now_types if name not in trained_types]
    removed = [name for name in trained_types if name not in now_types]
    if added:
        found.append(f"column(s) {', '.join(added)} added")
    if removed:
        found.append(f"column(s) {', '.join(removed)} missing")
    found += [f"column '{name}' is now {now_types[name]}, it was {kind}"
              for name, kind in trained_types.items()
              if name in now_types and now_types[name] != kind]
    if (trained.column_names or now.column_names) and trained.column_names != now.column_names:
        found.append(f"the header-less columns are now {', '.join(now.column_names or [])}, "
                     f"they were {', '.join(trained.column_names or [])}")
    return found


def _shape(shape) -> str:
    return "(" + ", ".join(map(str, shape)) + ")"
