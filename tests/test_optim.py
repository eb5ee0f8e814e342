"""Optimizers and learning-rate schedules built from the `optimizer` section."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from bigmodel_cli.config.schema import OptimizerConfig
from bigmodel_cli.errors import ConfigError
from bigmodel_cli.train.optimizer import LinearWarmup, build_optimizer, build_schedule


def rate_at(schedule, step):
    return float(schedule(step)) if callable(schedule) else float(schedule)


@pytest.mark.parametrize("name, expected", [
    ("adam", keras.optimizers.Adam), ("adamw", keras.optimizers.AdamW),
    ("sgd", keras.optimizers.SGD), ("rmsprop", keras.optimizers.RMSprop),
])
def test_optimizer_by_name(name, expected):
    assert type(build_optimizer(OptimizerConfig(name=name), 100)) is expected


def test_arguments_clipping_and_weight_decay_reach_keras():
    optimizer = build_optimizer(OptimizerConfig(
        name="sgd", args={"momentum": 0.9, "nesterov": True}, clipnorm=1.0, weight_decay=1e-4),
        100)
    assert optimizer.momentum == 0.9 and optimizer.nesterov is True
    assert optimizer.clipnorm == 1.0 and optimizer.weight_decay == pytest.approx(1e-4)


def test_unknown_argument_is_a_config_error_with_suggestion():
    with pytest.raises(ConfigError, match=r"optimizer.args.momentun: 'sgd' takes no argument "
                                          r"'momentun'; did you mean 'momentum'\?"):
        build_optimizer(OptimizerConfig(name="sgd", args={"momentun": 0.9}), 100)


def test_cosine_with_warmup_rises_then_decays_to_alpha():
    config = OptimizerConfig(learning_rate=0.1,
                             schedule={"name": "cosine", "warmup_steps": 10, "alpha": 0.1})
    schedule = build_schedule(config, total_steps=110)
    assert type(schedule) is keras.optimizers.schedules.CosineDecay  # Keras' own warmup
    assert rate_at(schedule, 0) == pytest.approx(0.01)
    assert rate_at(schedule, 5) == pytest.approx(0.01 + 0.09 * 0.5)
    assert rate_at(schedule, 10) == pytest.approx(0.1)
    assert rate_at(schedule, 60) == pytest.approx(0.1 * (0.1 + 0.9 * 0.5), rel=1e-3)
    assert rate_at(schedule, 110) == pytest.approx(0.01, rel=1e-3)


def test_exponential_and_piecewise():
    exponential = build_schedule(OptimizerConfig(
        learning_rate=1.0, schedule={"name": "exponential", "decay_steps": 10,
                                     "decay_rate": 0.5}), 100)
    assert rate_at(exponential, 10) == pytest.approx(0.5)
    piecewise = build_schedule(OptimizerConfig(
        schedule={"name": "piecewise", "boundaries": [5], "values": [0.1, 0.01]}), 100)
    assert [rate_at(piecewise, step) for step in (0, 6)] == pytest.approx([0.1, 0.01])


def test_constant_is_a_plain_float():
    assert build_schedule(OptimizerConfig(learning_rate=0.3), 100) == 0.3


def test_warmup_schedule_survives_serialization():
    schedule = LinearWarmup(keras.optimizers.schedules.ExponentialDecay(1.0, 10, 0.5), 4)
    again = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(schedule))
    steps = np.arange(0, 20)
    expected = [rate_at(schedule, step) for step in steps]
    assert [rate_at(again, step) for step in steps] == pytest.approx(expected)
