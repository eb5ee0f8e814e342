"""What the data tells the model: plain values, no TensorFlow objects.

Sources produce `RawData` (numpy arrays per split); `data.pipeline` turns it into a
`DataBundle` of tf.data pipelines. The `InputSpec` carries everything needed to rebuild the
preprocessing inside the model (scale, normalization statistics, vocabulary), so that the saved
model takes raw inputs and so that layers are created inside the distribution strategy's scope.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np

VECTOR, IMAGE, TOKENS, TEXT = "vector", "image", "tokens", "text"
MULTICLASS, BINARY, REGRESSION = "multiclass", "binary", "regression"


@dataclass
class InputSpec:
    """One example as the saved model receives it (raw, before preprocessing)."""

    kind: str  # vector | image | tokens | text
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

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> InputSpec:
        return cls(**{**values, "shape": tuple(values["shape"])})


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


@dataclass
class DataBundle:
    """Ready-to-train pipelines (batched, prefetched; train shuffled) and their description."""

    train: Any  # tf.data.Dataset of (x, y)
    validation: Any | None
    test: Any | None
    input_spec: InputSpec
    target: TargetSpec
    sizes: dict[str, int]  # examples per split

    def split(self, name: str):
        return {"train": self.train, "validation": self.validation, "test": self.test}[name]
