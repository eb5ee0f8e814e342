"""The trainable model, built and compiled one way for training and for dry runs."""

from __future__ import annotations

from .data.spec import InputSpec, TargetSpec
from .schema import Config


def compiled_model(tf, config: Config, strategy, input_spec: InputSpec, target: TargetSpec,
                   steps_per_epoch: int, step_in_epoch: int = 0):
    """(model, task, precision policy): built and compiled inside the strategy's scope.

    `steps_per_epoch` sizes decay schedules; `step_in_epoch` is where a resumed run starts
    inside its epoch (steps per execution must divide what `fit` is asked to run).
    """
    from . import keras_compat, models, optim, performance, precision

    training = config.training
    policy = precision.resolve(tf, training.mixed_precision, strategy)
    task = models.resolve_task(target, config.model)
    with strategy.scope(), precision.dtype_policy(policy):
        model = models.build_model(input_spec, target, config.model, config.name)
        speed = performance.compile_options(config, model, strategy, steps_per_epoch,
                                            step_in_epoch)
        model.compile(
            optimizer=optim.build_optimizer(config.optimizer, training.epochs * steps_per_epoch,
                                            training.gradient_accumulation_steps, training.ema),
            # Speed only: XLA and steps per execution, `auto` chosen for the device type.
            **keras_compat.limit_steps_per_execution(speed, training.steps_per_execution,
                                                     strategy),
            **models.compile_arguments(task),
        )
    return model, task, policy
