"""training.privacy under MirroredStrategy over two logical CPUs: each replica clips its own
examples, the sums are all-reduced, the noise is added once.

Each training run is a subprocess: TensorFlow fixes its logical devices once per process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from cli_runner import CONFIGS, REPO, bigmodel
from test_privacy import SMALL  # the smallest private config, shared

from bigmodel_cli import config as config_module
from bigmodel_cli.errors import ConfigError

MLP = CONFIGS / "smoke" / "mlp.yaml"
PRIVATE = ["distribute.cpu_devices=2", "distribute.strategy=mirrored",
           "training.deterministic=true", "training.privacy.noise_multiplier=1.1",
           "training.privacy.secret_seed=5"]
# Same Poisson batches (the same secret), same initial weights, same noise (keyed on the
# secret and the step, drawn once): the runs differ only in float32 rounding of the sums.
# Measured here: relative differences up to 5e-7 in loss and val_loss after 3 epochs. A
# per-example gradient halved by Keras' loss scaling, or the noise added on both replicas,
# moves the losses by more than 1e-3 (checked by breaking each on purpose).
RELATIVE_TOLERANCE = 1e-4


def metrics(run_dir):
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def train(run_dir, *overrides):
    arguments = [item for override in (*PRIVATE, *overrides) for item in ("--set", override)]
    return bigmodel("train", MLP, "--run-dir", run_dir, *arguments)


def test_dp_sgd_over_two_mirrored_replicas_matches_one_replica_and_its_epsilon(tmp_path):
    # The one-replica run also goes through tf.distribute's input pipeline (MirroredStrategy
    # on one device), so both split the same global Poisson batches.
    single = train(tmp_path / "single", "distribute.devices=['/cpu:0']")
    assert single.returncode == 0, single.stderr
    mirrored = train(tmp_path / "mirrored")
    assert mirrored.returncode == 0, mirrored.stderr
    assert "MirroredStrategy, 2 replica(s), batch 16 (8 per replica)" in mirrored.stdout
    assert "sampling Poisson, rate 0.1524 (expected batch 16)" in mirrored.stdout

    one, two = metrics(tmp_path / "single"), metrics(tmp_path / "mirrored")
    assert [row["step"] for row in one] == [row["step"] for row in two] == [7, 14, 21]
    assert [row["epsilon"] for row in two] == [row["epsilon"] for row in one]
    assert [row["epsilon_rdp"] for row in two] == [row["epsilon_rdp"] for row in one]
    for expected, actual in zip(one, two, strict=True):
        for key in ("loss", "val_loss"):
            assert actual[key] == pytest.approx(expected[key], rel=RELATIVE_TOLERANCE), key
    assert two[-1]["loss"] < two[0]["loss"]  # it trains
    results = json.loads((tmp_path / "mirrored" / "results.json").read_text())
    assert results["distribute"]["replicas"] == 2
    assert results["privacy"] == json.loads(
        (tmp_path / "single" / "results.json").read_text())["privacy"]
    assert round(results["privacy"]["epsilon"], 3) == 2.810


# One step of the private train step on an empty batch (Poisson sampling may draw one), so
# the update of the weights is the noise alone, divided by the expected global batch B; and
# one example's per-example gradient on each of two replicas.
NOISE_ONCE = """
import json
import numpy as np
import tensorflow as tf
tf.config.set_logical_device_configuration(
    tf.config.list_physical_devices("CPU")[0], [tf.config.LogicalDeviceConfiguration()] * 2)
import keras
from bigmodel_cli.config.schema_privacy import PrivacyConfig
from bigmodel_cli.train import accounting, privacy

def update(devices):
    strategy = tf.distribute.MirroredStrategy(devices)
    with strategy.scope():
        keras.utils.set_random_seed(1)
        inputs = keras.Input((6,))
        model = keras.Model(inputs, keras.layers.Dense(2000)(inputs))
        model.compile(optimizer=keras.optimizers.SGD(1.0), loss="mse")
        model.optimizer.build(model.trainable_variables)
        plan = accounting.make_plan(PrivacyConfig(l2_norm_clip=0.5, noise_multiplier=1.3),
                                    400, 20, 20, 1)
        privacy.make_private(model, privacy.PrivateRun(plan, privacy.Secret(3)))
    before = [variable.numpy() for variable in model.trainable_variables]
    empty = (tf.zeros((0, 6)), tf.zeros((0, 2000)))
    tf.function(lambda: strategy.run(model.train_step, args=(empty,)))()
    return np.concatenate([(variable.numpy() - old).ravel()
                           for variable, old in zip(model.trainable_variables, before)])

def twin_gradients():  # one example on both replicas, through a dropout layer
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    with strategy.scope():
        inputs = keras.Input((6,))
        hidden = keras.layers.Dropout(0.5)(keras.layers.Dense(8)(inputs))
        model = keras.Model(inputs, keras.layers.Dense(1)(hidden))
        model.compile(loss="mse")
    x, y = tf.ones((1, 6)), tf.ones((1, 1))
    step = tf.function(lambda: strategy.run(
        lambda: privacy.per_example_gradients(model, x, y)[0][0]))
    return [gradient.numpy() for gradient in strategy.experimental_local_results(step())]

one, two = update(["/cpu:0"]), update(["/cpu:0", "/cpu:1"])
first, second = twin_gradients()
print(json.dumps({"one": float(one.std()), "two": float(two.std()), "size": int(two.size),
                  "max_difference": float(np.abs(one - two).max()),
                  "twins_differ": bool(np.any(first != second))}))
"""


def test_the_noise_is_added_once_across_replicas_and_dropout_masks_differ():
    result = subprocess.run([sys.executable, "-c", NOISE_ONCE], cwd=REPO, capture_output=True,
                            text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout.strip().splitlines()[-1])
    expected = 0.5 * 1.3 / 20  # C x sigma / B; on both replicas it would be 2x (the same draw)
    assert found["size"] == 14_000
    assert abs(found["two"] / expected - 1) < 0.03  # the estimate's own error is ~0.6%
    assert found["max_difference"] < 1e-7  # the very noise one device adds, for that step
    # Replicas share the dropout seed states: an example's place is offset by its replica's.
    assert found["twins_differ"]


@pytest.mark.parametrize(("overrides", "key", "reason"), [
    (["distribute.strategy=mirrored"], None, None),
    (["distribute.cpu_devices=2"], None, None),
    (["distribute.strategy=tpu"], "distribute.strategy", "runs on one machine: tpu"),
    (["distribute.strategy=mirrored", "optimizer.clipnorm=1"], "optimizer.clipnorm",
     "carry no noise"),
    (["distribute.cpu_devices=2", "optimizer.global_clipnorm=1"], "optimizer.global_clipnorm",
     "carry no noise"),
], ids=["mirrored", "cpu_devices", "tpu", "mirrored_clipnorm", "cpu_devices_global_clipnorm"])
def test_mirrored_privacy_is_accepted_and_what_it_cannot_take_is_refused(
        tmp_path, overrides, key, reason):
    path = tmp_path / "private.yaml"
    path.write_text(SMALL)
    if key is None:
        config_module.load(path, overrides)
        return
    with pytest.raises(ConfigError) as error:
        config_module.load(path, overrides)
    assert key in str(error.value) and reason in str(error.value)
