"""Never lose a run: kill -9 and resume to the same weights, signals, NaN, config changes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from cli_runner import REPO, bigmodel

CONFIG = """\
name: resume
seed: 7
data: {source: synthetic, kind: vector, input_shape: [8], num_classes: 3,
       num_examples: 600, batch_size: 16}
model: {family: mlp, hidden_units: [16], dropout: 0.2}
optimizer: {name: adam, schedule: {name: cosine, warmup_steps: 10}}
training: {epochs: 3, deterministic: true, tensorboard: false, ema: 0.9,
           early_stopping: {patience: 5}}
checkpoint: {backup_every_steps: 5, keep_last: 2}
"""


@pytest.fixture(scope="module")
def config_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("config") / "resume.yaml"
    path.write_text(CONFIG)
    return path


@pytest.fixture(scope="module")
def uninterrupted(config_file, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("uninterrupted") / "run"
    result = bigmodel("train", config_file, "--run-dir", run_dir)
    assert result.returncode == 0, result.stderr
    return run_dir


def start_training(config_file, run_dir, *extra):
    return subprocess.Popen(
        [sys.executable, "-m", "bigmodel_cli", "train", str(config_file), "--run-dir",
         str(run_dir), *extra], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env={**os.environ, "COLUMNS": "200"})


def wait_for(condition, process, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if process.poll() is not None:
            raise AssertionError(f"training ended first: {process.communicate()}")
        time.sleep(0.005)
    raise AssertionError("condition not reached in time")


def backup_steps(run_dir):
    return [int(path.name[6:15]) for path in (run_dir / "backup").glob("state-*.json")]


def epochs_logged(run_dir):
    path = run_dir / "metrics.jsonl"
    return len(path.read_text().splitlines()) if path.exists() else 0


def final_weights(run_dir):
    import keras

    import bigmodel_cli.models  # noqa: F401  registers bigmodel's layers
    import bigmodel_cli.train.optimizer  # noqa: F401

    model = keras.models.load_model(run_dir / "checkpoints" / "last.keras", safe_mode=True)
    return model.get_weights()


def test_kill_9_mid_epoch_and_at_epoch_end_resumes_to_identical_weights(
        config_file, uninterrupted, tmp_path):
    # With weight averaging (EMA): a mid-epoch resume runs two `fit` calls, and only the last
    # may copy the averages into the weights (optim.raw_weights_kept).
    run_dir = tmp_path / "run"
    # 1. Killed mid-epoch, right after a step backup (27 steps per epoch; step 10 is mid-epoch).
    process = start_training(config_file, run_dir)
    wait_for(lambda: any(step >= 10 for step in backup_steps(run_dir)), process)
    process.kill()
    process.wait()
    # 2. Resumed, then killed again once the second epoch is logged.
    process = start_training(config_file, run_dir)
    wait_for(lambda: epochs_logged(run_dir) >= 2, process)
    process.kill()
    output = process.communicate()[0]
    assert "resuming from step" in output
    # 3. Resumed to the end.
    result = bigmodel("train", config_file, "--run-dir", run_dir)
    assert result.returncode == 0, result.stderr
    assert "resuming from step" in result.stdout
    for expected, actual in zip(final_weights(uninterrupted), final_weights(run_dir), strict=True):
        np.testing.assert_array_equal(actual, expected)
    logged = [json.loads(line)["epoch"] for line in (run_dir / "metrics.jsonl").read_text()
              .splitlines()]
    assert logged == [1, 2, 3]
    results = json.loads((run_dir / "results.json").read_text())
    assert results["steps"] == json.loads((uninterrupted / "results.json").read_text())["steps"]
    assert not list((run_dir / "backup").glob("state-*")), "a finished run keeps no backups"


@pytest.mark.parametrize("signal_number", [signal.SIGTERM, signal.SIGINT],
                         ids=["SIGTERM", "SIGINT"])
def test_a_signal_backs_up_and_exits_128_plus_its_number_then_resumes(
        config_file, tmp_path, signal_number):
    run_dir = tmp_path / "run"
    process = start_training(config_file, run_dir)
    wait_for(lambda: backup_steps(run_dir), process)
    process.send_signal(signal_number)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 128 + signal_number, stderr
    assert f"stopped by {signal_number.name} at step" in stderr
    assert "run the same command again" in stderr
    assert "Traceback" not in stderr
    stopped_at = max(backup_steps(run_dir))
    assert stopped_at % 5 != 0 or stopped_at > 5  # a backup written at the signal, not only N
    result = bigmodel("train", config_file, "--run-dir", run_dir)
    assert result.returncode == 0, result.stderr
    assert f"resuming from step {stopped_at:,}" in result.stdout


def test_config_change_that_breaks_resume_is_refused_with_the_diff(config_file, tmp_path):
    run_dir = tmp_path / "run"
    process = start_training(config_file, run_dir)
    wait_for(lambda: backup_steps(run_dir), process)
    process.kill()
    process.wait()
    refused = bigmodel("train", config_file, "--run-dir", run_dir,
                       "--set", "model.hidden_units=[32]", "--set", "training.epochs=4")
    assert refused.returncode == 2
    assert "model.hidden_units: [16] -> [32]" in refused.stderr
    assert "--restart" in refused.stderr and "--force" in refused.stderr
    allowed = bigmodel("train", config_file, "--run-dir", run_dir, "--set", "training.epochs=4")
    assert allowed.returncode == 0, allowed.stderr
    assert "config change allowed on resume: training.epochs: 3 -> 4" in allowed.stdout
    assert json.loads((run_dir / "results.json").read_text())["epochs"] == 4


def test_nan_loss_stops_with_the_step_and_keeps_checkpoints(tmp_path):
    config = tmp_path / "nan.yaml"
    config.write_text(CONFIG.replace("optimizer: {name: adam, schedule: {name: cosine, "
                                     "warmup_steps: 10}}",
                                     "optimizer: {name: sgd, learning_rate: 1.0e+30}"))
    run_dir = tmp_path / "run"
    result = bigmodel("train", config, "--run-dir", run_dir)
    assert result.returncode == 1
    assert "loss became nan at step" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (run_dir / "results.json").exists()
