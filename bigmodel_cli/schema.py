"""The config schema: one pydantic model per YAML section.

Every section forbids unknown keys, so a typo is an error rather than a silently ignored
setting. This module imports no TensorFlow: validating a config must stay fast.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .errors import unknown_name

PositiveInt = Annotated[int, Field(gt=0)]
PositiveFloat = Annotated[float, Field(gt=0)]
Fraction = Annotated[float, Field(ge=0, lt=1)]

DATA_SOURCES = ("synthetic", "sklearn", "keras", "tfds")
INPUT_KINDS = ("vector", "image", "tokens", "text")
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
    """Split strings for sources that name their splits (tfds: 'train[:90%]', 'test')."""

    train: str = "train"
    validation: str | None = Field(None, description="null: cut data.validation_split from train")
    test: str | None = Field("test", description="null: cut data.test_split from train")


class DataConfig(Section):
    source: Literal[DATA_SOURCES] = Field("synthetic", description="where the examples come from")
    name: str | None = Field(None, description="dataset name for sklearn, keras and tfds sources")
    batch_size: PositiveInt = Field(32, description="global batch, split across replicas")
    validation_split: Fraction = Field(0.1, description="share of train held out for validation")
    test_split: Fraction = Field(0.2, description="share held out for test, if no test split")
    shuffle_buffer: PositiveInt = 10_000
    cache: bool = Field(True, description="keep decoded examples in memory after the first epoch")
    max_examples: PositiveInt | None = Field(None, description="cap on training examples")
    # synthetic source
    kind: Literal[INPUT_KINDS] = Field("vector", description="synthetic input kind")
    input_shape: list[PositiveInt] | None = Field(None, description="synthetic example shape")
    num_classes: PositiveInt = Field(10, description="synthetic classes; 1 means regression")
    num_examples: PositiveInt = Field(512, description="synthetic examples in all splits")
    # token and text inputs
    vocab_size: PositiveInt | None = Field(None, description="keep the most frequent N tokens")
    sequence_length: PositiveInt | None = Field(None, description="pad or cut sequences to N")
    # tfds source
    splits: SplitNames = SplitNames()
    data_dir: str | None = Field(None, description="tfds folder (default ~/tensorflow_datasets)")

    @model_validator(mode="after")
    def _name_when_needed(self):
        if self.source in ("sklearn", "keras", "tfds") and not self.name:
            raise ValueError(f"data.source '{self.source}' needs data.name (which dataset)")
        return self


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
    restore_best_weights: bool = True


class TrainingConfig(Section):
    epochs: PositiveInt = 10
    steps_per_epoch: PositiveInt | None = Field(None, description="null: one pass over train")
    early_stopping: EarlyStoppingConfig | None = None
    deterministic: bool = Field(False, description="bit-exact reruns (slower)")
    jit_compile: Literal["auto"] | bool = Field("auto", description="auto: off on CPU (slower)")
    steps_per_execution: Literal["auto"] | PositiveInt = 1
    tensorboard: bool = True


class CheckpointConfig(Section):
    monitor: str = Field("val_loss", description="metric that picks the best checkpoint")
    mode: Literal["auto", "min", "max"] = "auto"


class DistributeConfig(Section):
    strategy: Literal["auto", "cpu", "gpu", "mirrored", "multi_worker", "tpu"] = "auto"
    cpu_devices: PositiveInt = Field(1, description=">1 splits the CPU into logical devices")
    devices: list[str] | None = Field(None, description="devices for mirrored, e.g. ['/gpu:0']")


class Config(Section):
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$")]
    seed: int = 42
    data: DataConfig
    model: ModelConfig
    optimizer: OptimizerConfig = OptimizerConfig()
    training: TrainingConfig = TrainingConfig()
    checkpoint: CheckpointConfig = CheckpointConfig()
    distribute: DistributeConfig = DistributeConfig()
