"""MirroredStrategy over two logical CPU devices, through the real `bigmodel train`.

Each run is a subprocess: TensorFlow fixes its logical devices once per process.
"""

from __future__ import annotations

import json

import pytest
from cli_runner import CONFIGS, bigmodel

CNN = CONFIGS / "smoke" / "cnn.yaml"
TRANSFORMER = CONFIGS / "smoke" / "transformer.yaml"
TWO_CPUS = ["--set", "distribute.cpu_devices=2", "--set", "training.tensorboard=false"]

# Same examples, same initial weights, same global batch: the runs differ only in how the
# batch's gradient is summed (on one device, or two halves all-reduced): float32 rounding.
# Measured here: relative differences up to 1e-5 in loss and 2.4e-4 in val_loss after 2 epochs.
RELATIVE_TOLERANCE = 1e-3


def metrics(run_dir):
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def train(config, run_dir, *overrides):
    arguments = [item for override in overrides for item in ("--set", override)]
    return bigmodel("train", config, "--run-dir", run_dir, *TWO_CPUS, *arguments)


def test_mirrored_over_two_cpus_matches_one_replica_at_the_same_global_batch(tmp_path):
    # The one-replica run also goes through tf.distribute's input pipeline (MirroredStrategy on
    # one device), so both runs see the same shuffled examples.
    single = train(CNN, tmp_path / "single", "distribute.strategy=mirrored",
                   "distribute.devices=['/cpu:0']", "training.deterministic=true")
    assert single.returncode == 0, single.stderr
    mirrored = train(CNN, tmp_path / "mirrored", "distribute.strategy=mirrored",
                     "training.deterministic=true")
    assert mirrored.returncode == 0, mirrored.stderr
    assert "MirroredStrategy, 2 replica(s), batch 16 (8 per replica)" in mirrored.stdout

    results = json.loads((tmp_path / "mirrored" / "results.json").read_text())
    assert results["distribute"]["replicas"] == 2
    assert results["distribute"]["per_replica_batch"] == 8
    one, two = metrics(tmp_path / "single"), metrics(tmp_path / "mirrored")
    assert [row["step"] for row in one] == [row["step"] for row in two] != []
    # That rounding may move one borderline example across the decision boundary: accuracy
    # agrees to one example of the training split.
    one_example = 1 / results["examples"]["train"]
    for expected, actual in zip(one, two, strict=True):
        for key in ("loss", "val_loss"):
            assert actual[key] == pytest.approx(expected[key], rel=RELATIVE_TOLERANCE), key
        assert actual["accuracy"] == pytest.approx(expected["accuracy"], abs=1.01 * one_example)


def test_text_model_on_raw_strings_trains_mirrored_with_ema(tmp_path):
    # The model starts with TextVectorization: Keras' first-batch build averaged the string
    # batches across replicas and failed (keras_compat fixes it). EMA swaps mirrored weights.
    result = train(TRANSFORMER, tmp_path / "run", "distribute.strategy=mirrored",
                   "training.ema=0.9")
    assert result.returncode == 0, result.stderr
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["distribute"]["replicas"] == 2
    # The test split is scored by the saved best checkpoint, on raw strings.
    assert results["test"]["accuracy"] > 0.5  # 3 classes: better than chance


def test_a_global_batch_that_does_not_divide_across_replicas_is_a_clear_error(tmp_path):
    result = train(CNN, tmp_path / "run", "distribute.strategy=mirrored", "data.batch_size=15")
    assert result.returncode == 2, result.stderr
    assert ("error: data.batch_size: the global batch 15 does not divide across 2 replicas; "
            "use a multiple of 2, e.g. 14") in result.stderr
    assert "Traceback" not in result.stderr


def test_several_steps_per_execution_with_mirrored_replicas_is_a_clear_error(tmp_path):
    # Keras 3 fails there (keras-team/keras issue 19246); `auto` picks 1 instead.
    result = train(CNN, tmp_path / "run", "distribute.strategy=mirrored",
                   "training.steps_per_execution=2")
    assert result.returncode == 2, result.stderr
    assert "training.steps_per_execution: 2 steps per execution fail with 2 mirrored" \
        in result.stderr
    assert "Traceback" not in result.stderr
