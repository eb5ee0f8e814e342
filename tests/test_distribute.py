"""Distribution settings, worker roles, mixed precision, gradient accumulation and EMA.

All in this process on one CPU device; the multi-replica runs are in
test_distribute_mirrored.py and test_distribute_multiworker.py (subprocesses, since logical
devices and collectives are fixed once per process).
"""

from __future__ import annotations

import json
import math

import keras
import numpy as np
import pytest
from cli_runner import CONFIGS
from rich.console import Console

from bigmodel_cli import config as config_module
from bigmodel_cli.config.schema import DistributeConfig, OptimizerConfig
from bigmodel_cli.errors import ConfigError, UsageError
from bigmodel_cli.runtime import distribute, keras_compat, precision
from bigmodel_cli.train import optimizer as optim
from bigmodel_cli.train import runner

MLP = CONFIGS / "smoke" / "mlp.yaml"


def load(*overrides):
    return config_module.load(MLP, list(overrides))


# --- config -------------------------------------------------------------------------------

@pytest.mark.parametrize("overrides, message", [
    (["distribute.workers=[a:1, b:2]"], "workers and distribute.worker_index go together"),
    (["distribute.workers=[a:1, b:2]", "distribute.worker_index=2"], "use 0 to 1"),
    (["distribute.strategy=multi_worker", "distribute.cpu_devices=2"],
     "multi_worker uses one CPU device per worker"),
    (["distribute.strategy=cpu", "distribute.devices=['/cpu:0']"],
     "distribute.devices is used only by strategy mirrored, not cpu"),
    (["distribute.strategy=mirrored", "distribute.tpu=local"], "used only by strategy tpu"),
    (["training.gradient_accumulation_steps=0"], "gradient_accumulation_steps"),
    (["training.ema=1.0"], "training.ema"),
])
def test_settings_that_cannot_work_are_config_errors(overrides, message):
    with pytest.raises(ConfigError, match=message):
        load(*overrides)


def test_bare_off_in_yaml_means_no_mixed_precision():
    # YAML 1.1 reads `off` as false; the user meant the string.
    assert load("training.mixed_precision=off").training.mixed_precision == "off"


# --- which worker writes --------------------------------------------------------------------

def tf_config(monkeypatch, cluster, task_type, index):
    monkeypatch.setenv("TF_CONFIG", json.dumps(
        {"cluster": cluster, "task": {"type": task_type, "index": index}}))


def test_worker_role_from_tf_config_counts_the_chief_first(monkeypatch):
    cluster = {"chief": ["h0:1"], "worker": ["h1:1", "h2:1"]}
    tf_config(monkeypatch, cluster, "worker", 1)
    assert distribute.worker_role(DistributeConfig(strategy="multi_worker")) == (2, 3)
    tf_config(monkeypatch, cluster, "chief", 0)
    assert distribute.worker_role(DistributeConfig()) == (0, 3)
    # Another strategy ignores TF_CONFIG: the process is alone and writes.
    assert distribute.worker_role(DistributeConfig(strategy="cpu")) == (0, 1)


def test_worker_role_from_the_config_wins(monkeypatch):
    tf_config(monkeypatch, {"worker": ["h0:1", "h1:1"]}, "worker", 0)
    config = DistributeConfig(workers=["a:1", "b:1", "c:1"], worker_index=2)
    assert distribute.worker_role(config) == (2, 3)


@pytest.mark.parametrize("value, message", [
    ("{not json", "TF_CONFIG is not valid JSON"),
    (json.dumps({"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 3}}),
     "is not in the cluster"),
    (json.dumps({"cluster": {"ps": ["a:1"], "worker": ["b:1"]},
                 "task": {"type": "ps", "index": 0}}), "task type 'ps' is not supported"),
])
def test_bad_tf_config_is_one_clear_usage_error(monkeypatch, value, message):
    monkeypatch.setenv("TF_CONFIG", value)
    with pytest.raises(UsageError, match=message):
        distribute.worker_role(DistributeConfig(strategy="multi_worker"))


def test_multi_worker_without_a_cluster_says_how_to_describe_one(monkeypatch):
    import tensorflow as tf

    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(UsageError, match="needs the cluster: set TF_CONFIG"):
        distribute.make_strategy(tf, DistributeConfig(strategy="multi_worker"))


def test_tpu_and_gpu_on_a_machine_without_them_are_usage_errors(monkeypatch):
    import tensorflow as tf

    monkeypatch.delenv("TPU_NAME", raising=False)
    if distribute._tpu_available() or tf.config.list_logical_devices("GPU"):
        pytest.skip("this machine has an accelerator")
    with pytest.raises(UsageError, match="this machine has no TPU"):
        distribute.make_strategy(tf, DistributeConfig(strategy="tpu"))
    with pytest.raises(UsageError, match="TensorFlow sees no GPU"):
        distribute.make_strategy(tf, DistributeConfig(strategy="gpu"))


def test_non_chief_workers_write_to_a_scratch_directory(tmp_path):
    run = runner.RunDir(tmp_path / "run")
    assert distribute.worker_run_dir((0, 2), run) == (run, None)
    scratch_run, scratch = distribute.worker_run_dir((1, 2), run)
    assert scratch_run.path.is_dir() and not scratch_run.path.is_relative_to(tmp_path)
    scratch.cleanup()
    assert not scratch_run.path.exists()


def test_keras_fixes_are_limited_to_versions_known_to_need_them():
    assert keras_compat.needs_fixes("3.15.1")
    assert not keras_compat.needs_fixes("3.16.0")
    assert not keras_compat.needs_fixes("2.15.0")


# --- mixed precision ----------------------------------------------------------------------

def test_auto_precision_is_float32_on_cpu_and_explicit_policies_pass_through():
    import tensorflow as tf

    if tf.config.list_logical_devices("GPU"):
        pytest.skip("this machine has a GPU")
    strategy = tf.distribute.get_strategy()
    assert precision.resolve(tf, "auto", strategy) == "float32"
    assert precision.resolve(tf, "mixed_bfloat16", strategy) == "mixed_bfloat16"
    assert precision.resolve(tf, "off", strategy) == "float32"


def test_mixed_float16_run_has_float16_layers_a_float32_output_and_trains(tmp_path):
    config = load("training.mixed_precision=mixed_float16", "training.epochs=1",
                  "distribute.strategy=cpu")
    results = runner.train(config, tmp_path / "run", Console(quiet=True))
    assert results["distribute"]["precision"] == "mixed_float16"
    assert results["steps"] >= 1 and math.isfinite(results["test"]["loss"])
    model = keras.models.load_model(tmp_path / "run" / "checkpoints" / "last.keras")
    hidden = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)][0]
    assert hidden.dtype_policy.name == "mixed_float16" and hidden.compute_dtype == "float16"
    assert model.output.dtype == "float32"
    assert model.predict(np.zeros((2, 4), "float32"), verbose=0).dtype == np.float32
    assert keras.config.dtype_policy().name == "float32"  # the global policy is put back


# --- gradient accumulation and EMA ----------------------------------------------------------

FEATURES = np.random.default_rng(0).normal(size=(16, 4)).astype("float32")
TARGETS = np.random.default_rng(1).normal(size=(16, 3)).astype("float32")


def small_model(**optimizer_arguments):
    keras.utils.set_random_seed(7)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    model.compile(optimizer=optim.build_optimizer(
        OptimizerConfig(name="sgd", learning_rate=0.5), 10, **optimizer_arguments), loss="mse")
    return model


def weights_after(batch_size, accumulation_steps=1):
    model = small_model(accumulation_steps=accumulation_steps)
    model.fit(FEATURES, TARGETS, batch_size=batch_size, epochs=1, shuffle=False, verbose=0)
    return model.get_weights()


def test_two_accumulated_half_batches_equal_one_full_batch():
    accumulated = weights_after(batch_size=8, accumulation_steps=2)
    full_batch = weights_after(batch_size=16)
    two_steps = weights_after(batch_size=8)
    for mine, reference in zip(accumulated, full_batch, strict=True):
        np.testing.assert_allclose(mine, reference, rtol=1e-5, atol=1e-6)
    assert not np.allclose(accumulated[0], two_steps[0], atol=1e-4)


class Capture(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.seen = []

    def on_train_batch_end(self, batch, logs=None):
        self.seen.append(self.model.get_weights()[0].copy())

    def on_epoch_end(self, epoch, logs=None):
        self.seen.append(self.model.get_weights()[0].copy())


def test_checkpoints_see_the_averaged_weights_and_backups_the_raw_ones():
    raw = Capture()
    small_model().fit(FEATURES, TARGETS, batch_size=8, epochs=1, shuffle=False, verbose=0,
                      callbacks=[raw])
    first_step, second_step = raw.seen[:2]

    averages_in, averages_out = optim.ema_callbacks(0.5)
    at_checkpoint, at_backup = Capture(), Capture()
    small_model(ema=0.5).fit(
        FEATURES, TARGETS, batch_size=8, epochs=1, shuffle=False, verbose=0,
        validation_data=(FEATURES, TARGETS),
        callbacks=[*averages_in, at_checkpoint, *averages_out, at_backup])
    # Keras starts the average at the first step's weights, then mixes in each step.
    np.testing.assert_allclose(at_checkpoint.seen[-1], 0.5 * first_step + 0.5 * second_step,
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(at_backup.seen[-1], second_step, rtol=1e-5, atol=1e-6)


def test_ema_and_accumulation_reach_the_saved_optimizer(tmp_path):
    config = load("training.ema=0.9", "training.gradient_accumulation_steps=2",
                  "training.epochs=1", "distribute.strategy=cpu")
    runner.train(config, tmp_path / "run", Console(quiet=True))
    optimizer = keras.models.load_model(tmp_path / "run" / "checkpoints" / "last.keras").optimizer
    assert optimizer.use_ema and optimizer.ema_momentum == pytest.approx(0.9)
    assert optimizer.gradient_accumulation_steps == 2


def test_the_same_setting_in_optimizer_args_and_training_is_an_error():
    with pytest.raises(ConfigError, match="optimizer.args.use_ema: set by training.ema"):
        optim.build_optimizer(OptimizerConfig(args={"use_ema": True}), 10, ema=0.9)
