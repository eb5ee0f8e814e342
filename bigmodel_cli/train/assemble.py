"""The trainable model, built and compiled one way for training and for dry runs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..config.schema import Config
from ..data.spec import TEXT, InputSpec, TargetSpec

# The name `models.preprocessing` gives the TextVectorization of a text input.
VECTORIZE_LAYER = "vectorize"


@dataclass
class Assembled:
    """What `fit` trains, and what checkpoints keep.

    For raw text, `fit` trains on word ids: the words are looked up in the input pipeline
    (`to_model_inputs`), in parallel with training, instead of inside every training step,
    which also lets XLA compile the step. The saved model is the same layers behind the
    TextVectorization, so it still takes raw strings. For every other input both are one model.
    """

    model: Any  # trained by fit; takes what `to_model_inputs` yields
    saved: Any  # written to checkpoints; takes raw inputs
    task: Any  # the Task (tasks/base.py) it trains for; str() is its name
    policy: str
    vectorize: Any = None  # the saved model's TextVectorization, when the two differ
    policy_reason: str | None = None  # why training.mixed_precision: auto chose the policy

    def to_model_inputs(self, dataset):
        """A batched (x, y) pipeline of raw inputs, as `model` takes them."""
        if dataset is None or self.vectorize is None:
            return dataset
        import tensorflow as tf

        return dataset.map(lambda x, y: (self.vectorize(x), y),
                           num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def compiled_model(tf, config: Config, strategy, input_spec: InputSpec, target: TargetSpec,
                   steps_per_epoch: int, step_in_epoch: int = 0, privacy=None,
                   chosen_precision: tuple[str, str | None] | None = None) -> Assembled:
    """The model built and compiled inside the strategy's scope.

    `steps_per_epoch` sizes decay schedules; `step_in_epoch` is where a resumed run starts
    inside its epoch (steps per execution must divide what `fit` is asked to run).
    `privacy`: a `privacy.PrivateRun`, to train with DP-SGD's step (train/privacy.py).
    """
    import keras

    from .. import models, tasks
    from ..runtime import keras_compat, precision
    from . import optimizer as optim
    from . import performance

    training = config.training
    # `chosen_precision`: the runner's (policy, reason), which a resumed run may have kept.
    policy, policy_reason = chosen_precision or precision.choose(
        tf, training.mixed_precision, strategy, config.model)
    task = tasks.resolve(target, config.model.task)
    with strategy.scope(), precision.dtype_policy(policy):
        saved = models.build_model(input_spec, target, config.model, config.name)
        if config.model.family == "pretrained" and input_spec.kind == TEXT:  # tokenizer, body
            vectorize, model = models.pretrained.body_of(saved)
        else:
            vectorize = saved.get_layer(VECTORIZE_LAYER) if input_spec.kind == TEXT else None
            # The layers after the vectorizer, taking its output (word ids) as their input.
            model = saved if vectorize is None else keras.Model(
                vectorize.output, saved.outputs, name=f"{saved.name}_on_ids")
        speed = performance.compile_options(config, model, strategy, steps_per_epoch,
                                            step_in_epoch)
        optimizer = optim.build_optimizer(config.optimizer, training.epochs * steps_per_epoch,
                                          training.gradient_accumulation_steps, training.ema)
        if config.model.family == "gpt":  # GPT-2's and nanoGPT's rule: only matrices decay
            optimizer.exclude_from_weight_decay(
                var_list=[weight for weight in model.trainable_weights if len(weight.shape) < 2])
        model.compile(
            optimizer=optimizer,
            # Speed only: XLA and steps per execution, `auto` chosen for the device type.
            **keras_compat.limit_steps_per_execution(speed, training.steps_per_execution,
                                                     strategy),
            **task.compile_arguments(target),
        )
        if privacy is not None:
            from .privacy import make_private

            make_private(model, privacy)
        if saved is not model:
            # Compiled too, so that a loaded checkpoint can evaluate; same optimizer object.
            saved.compile(optimizer=model.optimizer, **task.compile_arguments(target))
    return Assembled(model=model, saved=saved, task=task, policy=policy,
                     policy_reason=policy_reason, vectorize=vectorize)
