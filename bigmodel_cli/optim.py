"""Optimizer and learning-rate schedule from the `optimizer` config section."""

from __future__ import annotations

import inspect

import keras

from .errors import ConfigError, did_you_mean
from .schema import OptimizerConfig


@keras.saving.register_keras_serializable(package="bigmodel")
class LinearWarmup(keras.optimizers.schedules.LearningRateSchedule):
    """Ramp linearly from 0 to the wrapped schedule's value over `warmup_steps`, then follow it.

    The wrapped schedule sees steps counted from the end of warmup, so its decay starts there.
    """

    def __init__(self, schedule, warmup_steps: int):
        self.schedule = schedule
        self.warmup_steps = warmup_steps

    def __call__(self, step):
        step = keras.ops.cast(step, "float32")
        warmup = float(max(self.warmup_steps, 1))
        after = self._value(keras.ops.maximum(step - self.warmup_steps, 0.0))
        return keras.ops.where(step < self.warmup_steps, after * (step + 1.0) / warmup, after)

    def _value(self, step):
        if isinstance(self.schedule, keras.optimizers.schedules.LearningRateSchedule):
            return self.schedule(step)
        return keras.ops.convert_to_tensor(self.schedule, "float32")

    def get_config(self):
        schedule = self.schedule
        if isinstance(schedule, keras.optimizers.schedules.LearningRateSchedule):
            schedule = keras.saving.serialize_keras_object(schedule)
        return {"schedule": schedule, "warmup_steps": self.warmup_steps}

    @classmethod
    def from_config(cls, config):
        schedule = config["schedule"]
        if isinstance(schedule, dict):
            schedule = keras.saving.deserialize_keras_object(schedule)
        return cls(schedule, config["warmup_steps"])


def build_schedule(config: OptimizerConfig, total_steps: int):
    """A float (constant) or a Keras LearningRateSchedule; `total_steps` sizes cosine decay."""
    schedule = config.schedule
    rate = config.learning_rate
    schedules = keras.optimizers.schedules
    if schedule.name == "constant":
        decayed = rate
    elif schedule.name == "cosine":
        decay_steps = schedule.decay_steps or max(total_steps - schedule.warmup_steps, 1)
        decayed = schedules.CosineDecay(rate, decay_steps, alpha=schedule.alpha)
    elif schedule.name == "exponential":
        decayed = schedules.ExponentialDecay(
            rate, schedule.decay_steps, schedule.decay_rate, staircase=schedule.staircase)
    else:
        decayed = schedules.PiecewiseConstantDecay(schedule.boundaries, schedule.values)
    if schedule.warmup_steps:
        return LinearWarmup(decayed, schedule.warmup_steps)
    return decayed


def build_optimizer(config: OptimizerConfig, total_steps: int) -> keras.optimizers.Optimizer:
    optimizer_class = type(keras.optimizers.get(config.name))
    arguments = dict(config.args)
    for key in ("weight_decay", "clipnorm", "global_clipnorm"):
        if getattr(config, key) is not None:
            arguments[key] = getattr(config, key)
    accepted = set(inspect.signature(optimizer_class.__init__).parameters) - {"self", "kwargs"}
    accepted |= {"weight_decay", "clipnorm", "clipvalue", "global_clipnorm", "use_ema",
                 "ema_momentum", "loss_scale_factor", "gradient_accumulation_steps"}
    for key in arguments:
        if key not in accepted:
            raise ConfigError(
                f"optimizer.args.{key}: '{config.name}' takes no argument '{key}'"
                f"{did_you_mean(key, accepted)} (accepted: {', '.join(sorted(accepted))})")
    try:
        return optimizer_class(learning_rate=build_schedule(config, total_steps), **arguments)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"optimizer: {config.name} rejected its arguments: {error}") from None
