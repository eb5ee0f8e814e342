"""Names a config can be checked against without importing Keras or TensorFlow.

Each table copies a fact of Keras 3 (tests/test_config_checks.py compares them with the real
classes), so that `config validate` stays fast and still catches a misspelt name.
"""

from __future__ import annotations

from typing import NamedTuple

from ..tasks.names import METRICS


class OptimizerKeywords(NamedTuple):
    class_name: str  # keras.optimizers.<class_name>
    own: tuple[str, ...]  # keyword arguments of its __init__ besides COMMON_OPTIMIZER_KEYWORDS


# Every Keras optimizer takes these (the base class's arguments).
COMMON_OPTIMIZER_KEYWORDS = (
    "learning_rate", "weight_decay", "clipnorm", "clipvalue", "global_clipnorm", "use_ema",
    "ema_momentum", "ema_overwrite_frequency", "loss_scale_factor",
    "gradient_accumulation_steps", "name",
)

# The names `optimizer.name` accepts. keras.optimizers.get knows all but lamb, so the builder
# looks the class up by name.
OPTIMIZERS = {
    "adadelta": OptimizerKeywords("Adadelta", ("rho", "epsilon")),
    "adafactor": OptimizerKeywords("Adafactor", (
        "beta_2_decay", "epsilon_1", "epsilon_2", "clip_threshold", "relative_step")),
    "adagrad": OptimizerKeywords("Adagrad", ("initial_accumulator_value", "epsilon")),
    "adam": OptimizerKeywords("Adam", ("beta_1", "beta_2", "epsilon", "amsgrad")),
    "adamax": OptimizerKeywords("Adamax", ("beta_1", "beta_2", "epsilon")),
    "adamw": OptimizerKeywords("AdamW", ("beta_1", "beta_2", "epsilon", "amsgrad")),
    "ftrl": OptimizerKeywords("Ftrl", (
        "learning_rate_power", "initial_accumulator_value", "l1_regularization_strength",
        "l2_regularization_strength", "l2_shrinkage_regularization_strength", "beta")),
    "lamb": OptimizerKeywords("Lamb", ("beta_1", "beta_2", "epsilon")),
    "lion": OptimizerKeywords("Lion", ("beta_1", "beta_2")),
    "muon": OptimizerKeywords("Muon", (
        "adam_beta_1", "adam_beta_2", "adam_weight_decay", "epsilon", "exclude_layers",
        "exclude_embeddings", "muon_a", "muon_b", "muon_c", "adam_lr_ratio", "momentum",
        "ns_steps", "nesterov", "rms_rate")),
    "nadam": OptimizerKeywords("Nadam", ("beta_1", "beta_2", "epsilon")),
    "rmsprop": OptimizerKeywords("RMSprop", ("rho", "momentum", "epsilon", "centered")),
    "sgd": OptimizerKeywords("SGD", ("momentum", "nesterov")),
}


def optimizer_keywords(name: str) -> tuple[str, ...]:
    """Every keyword argument the optimizer called `name` takes."""
    return OPTIMIZERS[name].own + COMMON_OPTIMIZER_KEYWORDS


# The metrics each task compiles, from the tasks' own table. Keras logs each under its name,
# and under val_<name> for the validation data; the loss is always logged as `loss`.
TASK_METRICS = METRICS
