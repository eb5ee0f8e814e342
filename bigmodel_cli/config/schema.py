"""The config schema: one pydantic model per YAML section.

Every section forbids unknown keys, so a typo is an error rather than a silently ignored
setting. This module imports no TensorFlow: validating a config must stay fast.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..errors import unknown_name

PositiveInt = Annotated[int, Field(gt=0)]
PositiveFloat = Annotated[float, Field(gt=0)]
Fraction = Annotated[float, Field(ge=0, lt=1)]

DATA_SOURCES = ("synthetic", "sklearn", "keras", "tfds", "image_folder", "text_folder", "csv",
                "npz")
FILE_SOURCES = ("image_folder", "text_folder", "csv", "npz")  # they read data.path
INPUT_KINDS = ("vector", "image", "tokens", "text")
COLUMN_TYPES = ("numeric", "categorical", "text")
TASKS = ("auto", "multiclass", "binary", "regression")

# Names accepted by keras.optimizers.get, kept here so validation needs no TensorFlow.
OPTIMIZERS = (
    "adadelta", "adafactor", "adagrad", "adam", "adamax", "adamw", "ftrl", "lamb", "lion",
    "muon", "nadam", "rmsprop", "sgd",
)

# Named transformer sizes; every field can still be set on its own.
TRANSFORMER_SIZES = {
    "tiny": {"embed_dim": 32, "num_heads": 2, "ff_dim": 64, "num_layers": 1},
    "small": {"embed_dim": 128, "num_heads": 4, "ff_dim": 256, "num_layers": 2},
    "base": {"embed_dim": 256, "num_heads": 8, "ff_dim": 1024, "num_layers": 4},
}


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


# --- data ---------------------------------------------------------------------------------

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


class DataConfig(Section):
    source: Literal[DATA_SOURCES] = Field("synthetic", description="where the examples come from")
    name: str | None = Field(None, description="dataset name for sklearn, keras and tfds sources")
    batch_size: PositiveInt = Field(32, description="global batch, split across replicas")
    validation_split: Fraction = Field(0.1, description="share of train held out for validation")
    test_split: Fraction = Field(0.2, description="share held out for test, if no test split")
    shuffle_buffer: PositiveInt = 10_000
    cache: bool | str = Field("memory", description="memory, false, or a file path for "
                                                    "decoded images (true means memory)")
    deterministic: bool = Field(True, description="fixed example order; false reads faster")
    max_examples: PositiveInt | None = Field(None, description="cap on training examples")
    # image_folder, text_folder, csv and npz sources
    path: str | None = Field(None, description="folder, file or glob pattern of the data")
    classes: list[str] | None = Field(None, description="class folders to use (default all)")
    on_bad_file: Literal["fail", "skip"] = Field("fail", description="unreadable files and rows")
    image_size: Annotated[list[PositiveInt], Field(min_length=2, max_length=2)] = Field(
        [256, 256], description="[height, width] images are resized to")
    color_mode: Literal["grayscale", "rgb", "rgba"] = "rgb"
    augment: AugmentConfig = AugmentConfig()
    label_column: str | None = Field(None, description="csv: the column to predict")
    label_type: Literal["auto", "categorical", "numeric"] = Field(
        "auto", description="auto: numbers with a fraction are regression, else classes")
    columns: dict[str, Literal[COLUMN_TYPES]] | None = Field(
        None, description="csv feature columns and types; null: all, numeric or categorical")
    header: bool = Field(True, description="csv files start with a row of column names")
    column_names: list[str] | None = Field(None, description="csv columns when header: false")
    delimiter: Annotated[str, Field(min_length=1, max_length=1)] = ","
    categorical_encoding: Literal["one_hot", "embedding"] = "one_hot"
    embedding_dim: PositiveInt = Field(8, description="csv categorical and text embeddings")
    x_key: str | None = Field(None, description="npz input array (default x or x_train)")
    y_key: str | None = Field(None, description="npz label array (default y or y_train)")
    # synthetic source
    kind: Literal[INPUT_KINDS] = Field("vector", description="synthetic input kind")
    input_shape: list[PositiveInt] | None = Field(None, description="synthetic example shape")
    num_classes: PositiveInt = Field(10, description="synthetic classes; 1 means regression")
    num_examples: PositiveInt = Field(512, description="synthetic examples in all splits")
    # token and text inputs
    vocab_size: PositiveInt | None = Field(None, description="keep the most frequent N tokens")
    sequence_length: PositiveInt | None = Field(None, description="pad or cut sequences to N")
    standardize: Literal["lower_and_strip_punctuation", "lower", "strip_punctuation", "none"] = \
        "lower_and_strip_punctuation"
    # tfds source
    splits: SplitNames = SplitNames()
    data_dir: str | None = Field(None, description="tfds folder (default ~/tensorflow_datasets)")

    @model_validator(mode="after")
    def _name_when_needed(self):
        if self.source in ("sklearn", "keras", "tfds") and not self.name:
            raise ValueError(f"data.source '{self.source}' needs data.name (which dataset)")
        if self.source in FILE_SOURCES and not self.path:
            raise ValueError(f"data.source '{self.source}' needs data.path (where the data is)")
        if self.source == "csv" and not self.label_column:
            raise ValueError("data.source 'csv' needs data.label_column (the column to predict)")
        if not self.header and not self.column_names:
            raise ValueError("data.header false needs data.column_names (every column, in order)")
        return self

    @field_validator("cache")
    @classmethod
    def _cache_choice(cls, cache):
        # true was the only way to say "memory" before file caches existed.
        if cache is True or cache == "memory":
            return "memory"
        if cache is False or cache in ("false", "none"):
            return False
        if not cache.strip():
            raise ValueError("cache must be memory, false, or a file path")
        return cache


# --- model --------------------------------------------------------------------------------

class ModelBase(Section):
    task: Literal[TASKS] = Field("auto", description="auto: chosen from the data")
    dropout: Fraction = 0.0
    dense_units: list[PositiveInt] = Field([], description="hidden Dense layers before the head")


class MlpConfig(ModelBase):
    family: Literal["mlp"]
    hidden_units: list[PositiveInt] = [64]
    activation: str = "relu"
    batch_norm: bool = False


class CnnConfig(ModelBase):
    family: Literal["cnn"]
    filters: list[PositiveInt] = [32, 64]
    kernel_size: PositiveInt = 3
    pooling: Literal["max", "average", "none"] = "max"
    global_pooling: bool = Field(False, description="global average pooling instead of Flatten")
    activation: str = "relu"
    batch_norm: bool = False
    dense_units: list[PositiveInt] = [128]


class RnnConfig(ModelBase):
    family: Literal["rnn"]
    cell: Literal["lstm", "gru"] = "lstm"
    units: PositiveInt = 64
    num_layers: PositiveInt = 1
    bidirectional: bool = False
    embedding_dim: PositiveInt = 32


class TransformerConfig(ModelBase):
    family: Literal["transformer"]
    size: Literal[tuple(TRANSFORMER_SIZES)] = "tiny"
    embed_dim: PositiveInt | None = None
    num_heads: PositiveInt | None = None
    ff_dim: PositiveInt | None = None
    num_layers: PositiveInt | None = None
    dropout: Fraction = 0.1
    pooling: Literal["mean", "max"] = "mean"

    @model_validator(mode="after")
    def _fill_from_size(self):
        for key, value in TRANSFORMER_SIZES[self.size].items():
            if getattr(self, key) is None:
                object.__setattr__(self, key, value)
        if self.embed_dim % self.num_heads:
            raise ValueError(
                f"embed_dim {self.embed_dim} must divide by num_heads {self.num_heads}")
        return self


ModelConfig = Annotated[
    MlpConfig | CnnConfig | RnnConfig | TransformerConfig, Field(discriminator="family")
]
MODEL_FAMILIES = ("mlp", "cnn", "rnn", "transformer")


# --- optimizer ----------------------------------------------------------------------------

class ConstantSchedule(Section):
    name: Literal["constant"]
    warmup_steps: Annotated[int, Field(ge=0)] = 0


class CosineSchedule(Section):
    name: Literal["cosine"]
    warmup_steps: Annotated[int, Field(ge=0)] = 0
    decay_steps: PositiveInt | None = Field(None, description="null: the whole run")
    alpha: Annotated[float, Field(ge=0, le=1)] = 0.0


class ExponentialSchedule(Section):
    name: Literal["exponential"]
    warmup_steps: Annotated[int, Field(ge=0)] = 0
    decay_steps: PositiveInt = 1000
    decay_rate: PositiveFloat = 0.9
    staircase: bool = False


class PiecewiseSchedule(Section):
    name: Literal["piecewise"]
    warmup_steps: Annotated[int, Field(ge=0)] = 0
    boundaries: list[PositiveInt]
    values: list[PositiveFloat]

    @model_validator(mode="after")
    def _one_more_value(self):
        if len(self.values) != len(self.boundaries) + 1:
            raise ValueError("piecewise needs one more value than boundaries")
        return self


Schedule = Annotated[
    ConstantSchedule | CosineSchedule | ExponentialSchedule | PiecewiseSchedule,
    Field(discriminator="name"),
]
SCHEDULES = ("constant", "cosine", "exponential", "piecewise")


class OptimizerConfig(Section):
    name: str = "adam"
    learning_rate: PositiveFloat = 1e-3
    weight_decay: Annotated[float, Field(ge=0)] | None = None
    clipnorm: PositiveFloat | None = None
    global_clipnorm: PositiveFloat | None = None
    schedule: Schedule = Field(ConstantSchedule(name="constant"),
                               description="a name, or a mapping with name and settings")
    args: dict[str, Any] = Field({}, description="more keyword arguments, e.g. momentum: 0.9")

    @field_validator("name")
    @classmethod
    def _known_optimizer(cls, name: str) -> str:
        if name.lower() not in OPTIMIZERS:
            raise ValueError(unknown_name("optimizer", name, OPTIMIZERS))
        return name.lower()

    @field_validator("schedule", mode="before")
    @classmethod
    def _name_shorthand(cls, value):
        return {"name": value} if isinstance(value, str) else value


# --- training, checkpoints, distribution --------------------------------------------------

class EarlyStoppingConfig(Section):
    monitor: str = "val_loss"
    patience: PositiveInt = 3
    mode: Literal["auto", "min", "max"] = "auto"
    min_delta: Annotated[float, Field(ge=0)] = 0.0


class TrainingConfig(Section):
    epochs: PositiveInt = 10
    steps_per_epoch: PositiveInt | None = Field(None, description="null: one pass over train")
    early_stopping: EarlyStoppingConfig | None = None
    deterministic: bool = Field(False, description="bit-exact reruns (slower)")
    jit_compile: Literal["auto"] | bool = Field(
        "auto", description="XLA; auto: on a CPU, only without convolution, attention or "
                            "dropout (measured); elsewhere Keras' choice")
    steps_per_execution: Literal["auto"] | PositiveInt = Field(
        "auto", description="steps per call into TensorFlow; auto: up to 32 (measured), "
                            "dividing the epoch")
    peak_flops: PositiveFloat | None = Field(
        None, description="peak FLOP/s of the run's devices, for MFU; null: measured once, cached")
    tensorboard: bool = True
    mixed_precision: Literal["off", "mixed_float16", "mixed_bfloat16", "auto"] = Field(
        "off", description="auto: bfloat16 on TPU, float16 on GPUs >= 7.0, off on CPU")
    gradient_accumulation_steps: PositiveInt = Field(
        1, description="average the gradients of N batches per weight update")
    ema: Annotated[float, Field(gt=0, lt=1)] | None = Field(
        None, description="moving-average momentum of the weights, e.g. 0.999; "
                          "checkpoints and validation use the averaged weights; null: off")

    @field_validator("mixed_precision", mode="before")
    @classmethod
    def _unquoted_off(cls, value):
        # YAML 1.1 reads a bare `off` as false.
        return "off" if value is False else value


class CheckpointConfig(Section):
    monitor: str = Field("val_loss", description="metric that picks the best checkpoint")
    mode: Literal["auto", "min", "max"] = "auto"
    keep_last: PositiveInt = Field(1, description="epoch checkpoints to keep besides the best")
    backup_every_steps: PositiveInt | None = Field(
        None, description="also back up for resume every N steps (null: at each epoch end)")


class DistributeConfig(Section):
    strategy: Literal["auto", "cpu", "gpu", "mirrored", "multi_worker", "tpu"] = "auto"
    cpu_devices: PositiveInt = Field(1, description=">1 splits the CPU into logical devices")
    devices: list[str] | None = Field(None, description="devices for mirrored, e.g. ['/gpu:0']")
    workers: list[str] | None = Field(
        None, description="multi_worker: host:port of every worker, chief first; null: TF_CONFIG")
    worker_index: Annotated[int, Field(ge=0)] | None = Field(
        None, description="multi_worker: this process's place in workers (0: the chief)")
    tpu: str | None = Field(None, description="TPU name or grpc:// address; 'local' on a TPU VM; "
                                              "null: $TPU_NAME, else local")
    tpu_zone: str | None = None
    tpu_project: str | None = None

    @model_validator(mode="after")
    def _settings_fit_the_strategy(self):
        used_by = {"devices": "mirrored", "workers": "multi_worker",
                   "worker_index": "multi_worker", "tpu": "tpu", "tpu_zone": "tpu",
                   "tpu_project": "tpu"}
        for key, strategy in used_by.items():
            if getattr(self, key) is not None and self.strategy not in ("auto", strategy):
                raise ValueError(f"distribute.{key} is used only by strategy {strategy}, "
                                 f"not {self.strategy}; remove it or set strategy: {strategy}")
        if (self.workers is None) != (self.worker_index is None):
            raise ValueError("distribute.workers and distribute.worker_index go together: "
                             "list every worker and say which one this process is")
        if self.workers is not None and self.worker_index >= len(self.workers):
            raise ValueError(f"distribute.worker_index {self.worker_index} is not a place in "
                             f"the {len(self.workers)} workers; use 0 to {len(self.workers) - 1}")
        if self.cpu_devices > 1 and (self.strategy == "multi_worker" or self.workers):
            raise ValueError("distribute.cpu_devices: multi_worker uses one CPU device per "
                             "worker; set cpu_devices: 1 and start more workers instead")
        return self


class Config(Section):
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$")]
    seed: int = 42
    data: DataConfig
    model: ModelConfig
    optimizer: OptimizerConfig = OptimizerConfig()
    training: TrainingConfig = TrainingConfig()
    checkpoint: CheckpointConfig = CheckpointConfig()
    distribute: DistributeConfig = DistributeConfig()
