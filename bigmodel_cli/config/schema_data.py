"""The `data` section: one pydantic model per source, chosen by `data.source`.

Each source takes only the keys it reads, so `x_key` under `source: sklearn` is an error, not a
setting silently ignored. Dataset names are checked against the sources' own tables (imported
only when a config names such a dataset: they pull in numpy). No TensorFlow here.
"""

from __future__ import annotations

import copy
from typing import Annotated, Literal

from pydantic import Field, TypeAdapter, field_validator, model_validator

from ..errors import unknown_name
from ..names import DATA_SOURCES  # noqa: F401 - re-exported beside DATA_CLASSES
from .schema_base import Fraction, PositiveInt, Section, keyed_by, one_of_sections

INPUT_KINDS = ("vector", "image", "tokens", "text")
COLUMN_TYPES = ("numeric", "categorical", "text")
DEFAULT_SOURCE = "synthetic"


class SplitNames(Section):
    """Split names: tfds split strings ('train[:90%]', 'test'), or the sub-folders of an
    image_folder / text_folder path that has a train sub-folder."""

    train: str = "train"
    validation: str | None = Field(None, description="null: cut data.validation_split from train")
    test: str | None = Field("test", description="null: cut data.test_split from train")


class AugmentConfig(Section):
    """Random changes to training images; validation, test and predict see the originals."""

    flip: Literal["none", "horizontal", "vertical", "horizontal_and_vertical"] = "none"
    rotation: Annotated[float, Field(ge=0, le=1)] = Field(0.0, description="fraction of a turn")
    zoom: Fraction = Field(0.0, description="zoom in or out by up to this fraction")
    translation: Fraction = Field(0.0, description="shift by up to this fraction of the size")
    contrast: Annotated[float, Field(ge=0, le=1)] = 0.0
    crop: Annotated[int, Field(ge=0)] = Field(0, description="pad N pixels, crop back at random")


# --- what every source takes, and groups of keys several sources share ---------------------

class DataBase(Section):
    """The base of every source's section."""

    source: str

    def __getattr__(self, name: str):
        # Shared code (the pipeline, the runner's log line) reads any data setting; a source
        # that does not take one reads its default, as if it had been left out.
        if name in SETTINGS_OF_OTHER_SOURCES:
            return copy.deepcopy(SETTINGS_OF_OTHER_SOURCES[name])
        return super().__getattr__(name)


class SharedOptions(Section):  # every source takes these
    batch_size: PositiveInt = Field(32, description="global batch, split across replicas")
    validation_split: Fraction = Field(0.1, description="share of train held out for validation")
    test_split: Fraction = Field(0.2, description="share held out for test, if no test split")
    shuffle_buffer: PositiveInt = 10_000
    deterministic: bool = Field(True, description="fixed example order; false reads faster")
    max_examples: PositiveInt | None = Field(None, description="cap on training examples")


class NamedData(DataBase):
    name: str = Field(description="which dataset")


class FileData(DataBase):
    path: str = Field(description="folder, file or glob pattern of the data")


class ImageOptions(Section):  # sources whose inputs can be images
    augment: AugmentConfig = AugmentConfig()


class TextOptions(Section):  # sources whose inputs can be text or token ids
    vocab_size: PositiveInt | None = Field(None, description="keep the most frequent N tokens")
    sequence_length: PositiveInt | None = Field(None, description="pad or cut sequences to N")
    standardize: Literal["lower_and_strip_punctuation", "lower", "strip_punctuation", "none"] = \
        "lower_and_strip_punctuation"


class FolderOptions(Section):  # one sub-folder per class
    classes: list[str] | None = Field(None, description="class folders to use (default all)")
    on_bad_file: Literal["fail", "skip"] = Field("fail", description="unreadable files")
    splits: SplitNames = SplitNames()


class CacheOptions(Section):  # sources whose examples are decoded by the pipeline
    cache: bool | str = Field(
        "auto", description="decoded examples: auto (memory if they fit a quarter of RAM, "
                            "else disk), memory, disk (under the run directory), false, or a "
                            "file path")

    @field_validator("cache")
    @classmethod
    def _cache_choice(cls, cache):
        # true was the only way to say "memory" before file caches existed.
        if cache is True or cache == "memory":
            return "memory"
        if cache is False or cache in ("false", "none"):
            return False
        if not cache.strip():
            raise ValueError("cache must be auto, memory, disk, false, or a file path")
        return cache


# --- the sources --------------------------------------------------------------------------

class SyntheticData(ImageOptions, TextOptions, SharedOptions, DataBase):
    source: Literal["synthetic"] = Field(DEFAULT_SOURCE, description="where the examples "
                                                                     "come from")
    kind: Literal[INPUT_KINDS] = Field("vector", description="synthetic input kind")
    input_shape: list[PositiveInt] | None = Field(None, description="synthetic example shape")
    num_classes: PositiveInt = Field(10, description="synthetic classes; 1 means regression")
    num_examples: PositiveInt = Field(512, description="synthetic examples in all splits")


class SklearnData(ImageOptions, SharedOptions, NamedData):
    source: Literal["sklearn"]
    name: str = Field(description="scikit-learn dataset: digits, iris, wine, breast_cancer, "
                                  "diabetes")

    @field_validator("name")
    @classmethod
    def _known_dataset(cls, name: str) -> str:
        return _check_dataset_name("sklearn", name)


class KerasData(ImageOptions, TextOptions, SharedOptions, NamedData):
    source: Literal["keras"]
    name: str = Field(description="keras.datasets dataset: mnist, fashion_mnist, cifar10, "
                                  "cifar100, imdb, reuters")

    @field_validator("name")
    @classmethod
    def _known_dataset(cls, name: str) -> str:
        return _check_dataset_name("keras", name)


class TfdsData(CacheOptions, ImageOptions, TextOptions, SharedOptions, NamedData):
    source: Literal["tfds"]
    name: str = Field(description="tfds dataset, e.g. mnist, imdb_reviews/plain_text:1.0.0")
    splits: SplitNames = SplitNames()
    data_dir: str | None = Field(None, description="tfds folder (default ~/tensorflow_datasets)")


class ImageFolderData(CacheOptions, ImageOptions, FolderOptions, SharedOptions, FileData):
    source: Literal["image_folder"]
    image_size: Literal["auto"] | Annotated[list[PositiveInt], Field(min_length=2, max_length=2)] \
        = Field("auto", description="[height, width] images are resized to; auto: their own "
                                    "size (the most common one)")
    color_mode: Literal["grayscale", "rgb", "rgba"] = "rgb"


class TextFolderData(TextOptions, FolderOptions, SharedOptions, FileData):
    source: Literal["text_folder"]
    cache: Literal["auto", "memory", False] = Field(
        "auto", description="texts: auto (in memory if they fit a quarter of RAM, else read "
                            "every epoch), memory, or false")

    @field_validator("cache", mode="before")
    @classmethod
    def _cache_choice(cls, cache):
        return "memory" if cache is True else False if cache in ("false", "none") else cache


class CsvData(TextOptions, SharedOptions, FileData):
    source: Literal["csv"]
    label_column: str = Field(description="the column to predict")
    label_type: Literal["auto", "categorical", "numeric", "multilabel"] = Field(
        "auto", description="auto: numbers with a fraction are regression, values with '|' "
        "multilabel, else classes")
    columns: dict[str, Literal[COLUMN_TYPES]] | None = Field(
        None, description="feature columns and types; null: all, numeric or categorical")
    header: bool = Field(True, description="files start with a row of column names")
    column_names: list[str] | None = Field(None, description="every column when header: false")
    delimiter: Annotated[str, Field(min_length=1, max_length=1)] = ","
    on_bad_file: Literal["fail", "skip"] = Field("fail", description="unreadable rows")
    categorical_encoding: Literal["one_hot", "embedding"] = "one_hot"
    embedding_dim: PositiveInt = Field(8, description="categorical and text embeddings")

    @model_validator(mode="after")
    def _names_without_header(self):
        if not self.header and not self.column_names:
            raise ValueError("data.header false needs data.column_names (every column, in order)")
        return self


class NpzData(ImageOptions, TextOptions, SharedOptions, FileData):
    source: Literal["npz"]
    path: str = Field(description="the .npz archive")
    x_key: str | None = Field(None, description="input array (default x or x_train)")
    y_key: str | None = Field(None, description="label array (default y or y_train)")


class TextCorpusData(FileData):
    """Plain text for a language model (data/text_corpus.py): tokenized once, read as windows."""

    source: Literal["text_corpus"]
    path: str = Field(description="a text file, a folder of them or a glob")
    tokenizer: Literal["char", "byte", "wordpiece", "bpe", "preset"] = Field(
        "char", description="char: the corpus's characters; byte: 256 byte values, any file; "
                            "wordpiece: subwords learned from the training split; bpe: "
                            "byte-level BPE learned from it; preset: tokenizer_preset's")
    vocab_size: int | None = Field(
        None, description="wordpiece, bpe: ids to learn (null: 2000); not for char/byte/preset")
    tokenizer_preset: str | None = Field(
        None, description="tokenizer: preset: a local keras-hub preset folder (GPT-2's) or "
                          "Hugging Face folder with tokenizer.json; never downloaded")
    context_length: PositiveInt = Field(256, description="tokens the model sees at once")
    batch_size: PositiveInt = Field(32, description="global batch of windows")
    validation_split: Fraction = Field(0.1, description="the corpus's last share of tokens, "
                                                        "unless validation_path is given")
    test_split: Fraction = Field(0.0, description="the corpus's very last share, for test")
    validation_path: str | None = Field(None, description="validation text files instead")
    test_path: str | None = Field(None, description="test text files instead")
    eval_batches: PositiveInt | None = Field(
        None, description="batches of each validation/test pass; null: the whole split")
    cache_dir: str | None = Field(
        None, description="where token files go; null: $XDG_CACHE_HOME/bigmodel/tokens")

    @model_validator(mode="after")
    def _check_vocab_size(self):
        if self.vocab_size is not None and self.tokenizer not in ("wordpiece", "bpe"):
            raise ValueError(f"data.vocab_size is for data.tokenizer: wordpiece or bpe, not "
                             f"{self.tokenizer} (its vocabulary is fixed); remove it")
        least = 257 if self.tokenizer == "bpe" else 64  # bpe: 256 bytes and padding at least
        if self.vocab_size is not None and not least <= self.vocab_size <= 2**20:
            raise ValueError(f"data.vocab_size {self.vocab_size} is out of range; use {least} "
                             "to 1048576 (e.g. 2000 for a small corpus, 8000-32000 for a large "
                             "one)")
        if (self.tokenizer == "preset") != (self.tokenizer_preset is not None):
            raise ValueError("data.tokenizer: preset needs data.tokenizer_preset (a folder)"
                             if self.tokenizer == "preset" else
                             "data.tokenizer_preset is for data.tokenizer: preset; remove it or "
                             "set data.tokenizer: preset")
        return self


# {source: section class}, in names.DATA_SOURCES' order (tests/test_names.py checks it).
DATA_CLASSES = keyed_by("source", SyntheticData, SklearnData, KerasData, TfdsData,
                        ImageFolderData, TextFolderData, CsvData, NpzData, TextCorpusData)
FILE_SOURCES = tuple(source for source, data_class in DATA_CLASSES.items()
                     if issubclass(data_class, FileData))  # they read data.path
DataSection = one_of_sections("source", DATA_CLASSES)

# The default of every data key, for reading a key the chosen source does not take.
SETTINGS_OF_OTHER_SOURCES = {
    name: field.get_default(call_default_factory=True)
    for data_class in DATA_CLASSES.values() for name, field in data_class.model_fields.items()
    if not field.is_required()
}
for _required in ("name", "path", "label_column"):
    SETTINGS_OF_OTHER_SOURCES[_required] = None
# Defaults that changed: run configs written before list them under sources that do not take
# them (config.load_saved drops such keys at a default, former or current).
FORMER_DEFAULTS = {"cache": "memory", "image_size": [256, 256]}


def with_default_source(value):
    """A data mapping without `source` is synthetic data, as it always was."""
    if isinstance(value, dict) and "source" not in value:
        return {"source": DEFAULT_SOURCE, **value}
    return value


_DATA_SECTION = TypeAdapter(DataSection)


def DataConfig(**settings) -> DataBase:  # a function where one class used to be
    """The data section of these settings, of the class its `source` picks."""
    return _DATA_SECTION.validate_python(with_default_source(settings))


# --- dataset names ------------------------------------------------------------------------

def _dataset_tables() -> dict[str, tuple[str, dict]]:
    """(what to call them, {name: ...}) per source, from the sources' own registries."""
    from ..data import keras_source, sklearn_source

    return {"sklearn": ("scikit-learn dataset", sklearn_source.DATASETS),
            "keras": ("keras dataset", keras_source.DATASETS)}


def _check_dataset_name(source: str, name: str) -> str:
    tables = _dataset_tables()
    kind, known = tables[source]
    if name in known:
        return name
    message = unknown_name(kind, name, known)
    elsewhere = [other for other, (_, names) in tables.items() if other != source and name in names]
    if elsewhere:
        message += f" ('{name}' is a {tables[elsewhere[0]][0]}: set data.source: {elsewhere[0]})"
    raise ValueError(message)
