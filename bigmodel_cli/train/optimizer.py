"""Optimizer and learning-rate schedule from the `optimizer` config section."""

from __future__ import annotations

import contextlib
import inspect

import keras

from ..config.known_names import OPTIMIZERS
from ..config.schema import OptimizerConfig
from ..errors import ConfigError, did_you_mean


@keras.saving.register_keras_serializable(package="bigmodel")
class LinearWarmup(keras.optimizers.schedules.LearningRateSchedule):
    """Ramp linearly from 0 to the wrapped schedule's value over `warmup_steps`, then follow it.

    Keras' schedules have a warmup only in CosineDecay (used for cosine); the constant,
    exponential and piecewise schedules get theirs here. Checkpoints saved before cosine moved
    to Keras' warmup hold this class too, so it stays registered.

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
        if schedule.warmup_steps:
            # Keras' own warmup: linear from rate / warmup_steps at step 0 to the rate at
            # step warmup_steps, then the cosine from there.
            return schedules.CosineDecay(
                rate / schedule.warmup_steps, decay_steps, alpha=schedule.alpha,
                warmup_target=rate, warmup_steps=schedule.warmup_steps)
        decayed = schedules.CosineDecay(rate, decay_steps, alpha=schedule.alpha)
    elif schedule.name == "exponential":
        decayed = schedules.ExponentialDecay(
            rate, schedule.decay_steps, schedule.decay_rate, staircase=schedule.staircase)
    else:
        decayed = schedules.PiecewiseConstantDecay(schedule.boundaries, schedule.values)
    if schedule.warmup_steps:
        return LinearWarmup(decayed, schedule.warmup_steps)
    return decayed


def build_optimizer(config: OptimizerConfig, total_steps: int, accumulation_steps: int = 1,
                    ema: float | None = None) -> keras.optimizers.Optimizer:
    """The optimizer; `accumulation_steps` and `ema` come from the training section.

    With accumulation, Keras applies the mean gradient of every `accumulation_steps` batches;
    learning-rate schedules still count batches, so `total_steps` counts batches too.
    """
    # By class name: keras.optimizers.get does not know every optimizer (lamb).
    optimizer_class = getattr(keras.optimizers, OPTIMIZERS[config.name].class_name)
    arguments = dict(config.args)
    for key in ("weight_decay", "clipnorm", "global_clipnorm"):
        if getattr(config, key) is not None:
            arguments[key] = getattr(config, key)
    training_arguments = {}
    if accumulation_steps > 1:
        training_arguments["gradient_accumulation_steps"] = accumulation_steps
    if ema is not None:
        training_arguments.update(use_ema=True, ema_momentum=ema)
    clashes = sorted(training_arguments.keys() & arguments.keys())
    if clashes:
        raise ConfigError(f"optimizer.args.{clashes[0]}: set by training.ema or "
                          "training.gradient_accumulation_steps already; remove it from args")
    arguments.update(training_arguments)
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




class AveragedWeights(keras.callbacks.Callback):
    """With `training.ema`: the moving averages of the weights go into the model for validation
    and for the checkpoints; training runs on the raw weights.

    A swap exchanges the model's weights with the optimizer's averages, so doing it twice undoes
    it. Two instances: `AveragedWeights("in")`, first in the callback list, swaps around
    validation and at each epoch end, so the checkpoints after it (best, last) hold the averaged
    weights, the ones worth keeping; `AveragedWeights("out")`, just before the backup, swaps
    back at epoch end, so backups (and resumed runs) hold the raw weights training continues
    from. (Keras' SwapEMAWeights keeps the averages in until the next epoch begins, so a backup
    written at epoch end would resume from the averages.)
    """

    def __init__(self, moment: str):
        super().__init__()
        if moment not in ("in", "out"):
            raise ValueError(f"moment must be 'in' or 'out'. Received: moment={moment!r}")
        self.moment = moment

    def on_test_begin(self, logs=None):
        if self.moment == "in":
            self._swap()

    def on_test_end(self, logs=None):
        if self.moment == "in":
            self._swap()

    def on_epoch_end(self, epoch, logs=None):
        self._swap()

    def _swap(self):
        optimizer = getattr(self.model.optimizer, "inner_optimizer", self.model.optimizer)
        for variable, average in zip(optimizer._trainable_variables,
                                     optimizer._model_variables_moving_average, strict=True):
            raw = keras.ops.copy(variable.value)
            variable.assign(average.value)
            average.assign(raw)


@contextlib.contextmanager
def raw_weights_kept(optimizer):
    """Within this block, the end of `fit` leaves the model's weights as trained.

    Keras ends every `fit` with `optimizer.finalize_variable_values`, which, with `use_ema`,
    copies the averages over the weights. A run resumed mid-epoch calls `fit` twice; the second
    must go on from the raw weights, as an uninterrupted run does, or the resume is not exact.
    """
    optimizer.finalize_variable_values = lambda variables: None
    try:
        yield
    finally:
        del optimizer.finalize_variable_values  # the class's method again


def ema_callbacks(ema: float | None) -> tuple[list, list]:
    """(callbacks to put first, callbacks to put just before the backup) for `training.ema`."""
    if ema is None:
        return [], []
    return [AveragedWeights("in")], [AveragedWeights("out")]
