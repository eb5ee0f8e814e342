"""Checkpoints and backups: atomic writes, corruption fallback, safe loading, fine-tuning."""

from __future__ import annotations

import json
import shutil

import keras
import numpy as np
import pytest
from cli_runner import CONFIGS, bigmodel

from bigmodel_cli import atomic
from bigmodel_cli.train import checkpoints


def tiny_model():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(np.ones((4, 3)), np.ones((4, 2)), verbose=0)
    return model


def test_a_crash_during_a_write_leaves_the_previous_file_intact(tmp_path):
    target = tmp_path / "results.json"
    atomic.write_text(target, "old")
    with pytest.raises(RuntimeError), atomic.atomic_path(target) as temporary:
        temporary.write_text("half of the new conte")
        raise RuntimeError("killed mid-write")
    assert target.read_text() == "old"
    assert [path.name for path in tmp_path.iterdir()] == ["results.json"]


def test_corrupt_newest_backup_falls_back_to_the_previous_one(tmp_path):
    model = tiny_model()
    for step in (5, 10):
        checkpoints.save_backup(model, tmp_path, checkpoints.TrainingState(step, 0, step))
    newest = tmp_path / "state-000000010.weights.h5"
    newest.write_bytes(newest.read_bytes()[:100])  # truncated, as by a full disk
    warnings = []
    weights, state = checkpoints.latest_backup(tmp_path, warnings.append)
    assert state.global_step == 5 and weights.name == "state-000000005.weights.h5"
    assert warnings == ["backup state-000000010.json is incomplete or corrupt; "
                        "using the one before it"]


def test_backups_are_pruned_to_the_newest_two(tmp_path):
    model = tiny_model()
    for step in (1, 2, 3):
        checkpoints.save_backup(model, tmp_path, checkpoints.TrainingState(step, 0, step))
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "state-000000002.json", "state-000000002.weights.h5",
        "state-000000003.json", "state-000000003.weights.h5"]


def test_restore_brings_back_weights_and_optimizer_step(tmp_path):
    model = tiny_model()
    checkpoints.save_backup(model, tmp_path, checkpoints.TrainingState(1, 0, 1))
    fresh = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    fresh.compile(optimizer="adam", loss="mse")
    weights, state = checkpoints.latest_backup(tmp_path, print)
    assert state.precision == "float32"  # the policy trained under, kept by a resume
    checkpoints.restore(fresh, weights, state)
    assert int(fresh.optimizer.iterations) == int(model.optimizer.iterations) == 1
    for expected, actual in zip(model.get_weights(), fresh.get_weights(), strict=True):
        np.testing.assert_array_equal(actual, expected)


def test_epoch_checkpoints_keep_the_newest_and_point_last_at_it(tmp_path):
    model = tiny_model()
    for epoch in (1, 2, 3):
        checkpoints.save_epoch_checkpoint(model, tmp_path, epoch, keep_last=2)
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "epoch-0002.keras", "epoch-0003.keras", "last.keras"]
    assert (tmp_path / "last.keras").samefile(tmp_path / "epoch-0003.keras")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("trained") / "run"
    result = bigmodel("train", CONFIGS / "smoke" / "mlp.yaml", "--run-dir", run_dir)
    assert result.returncode == 0, result.stderr
    return run_dir


def copy_run(trained, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(trained, copy)
    return copy


def test_a_lambda_checkpoint_is_refused_unless_unsafe(trained, tmp_path):
    run_dir = copy_run(trained, tmp_path)
    inputs = keras.Input((4,))
    doubled = keras.layers.Lambda(lambda x: x * 2.0)(inputs)
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(doubled))
    model.save(run_dir / "checkpoints" / "best.keras")
    np.save(tmp_path / "x.npy", np.ones((1, 4), dtype="float32"))
    refused = bigmodel("predict", run_dir, tmp_path / "x.npy")
    assert refused.returncode == 2
    assert "holds Python code (e.g. a Lambda layer)" in refused.stderr
    assert "--unsafe" in refused.stderr and "Traceback" not in refused.stderr
    allowed = bigmodel("predict", run_dir, tmp_path / "x.npy", "--unsafe", "--format", "jsonl")
    assert allowed.returncode == 0, allowed.stderr
    assert len(allowed.stdout.splitlines()) == 1


def test_an_unreadable_best_checkpoint_falls_back_to_last(trained, tmp_path):
    run_dir = copy_run(trained, tmp_path)
    (run_dir / "checkpoints" / "best.keras").write_bytes(b"PK\x03\x04 truncated")
    np.save(tmp_path / "x.npy", np.ones((1, 4), dtype="float32"))
    result = bigmodel("predict", run_dir, tmp_path / "x.npy", "--format", "jsonl")
    assert result.returncode == 0, result.stderr
    assert "best.keras is damaged: not a complete .keras archive" in result.stderr
    assert "using " in result.stderr and "last.keras" in result.stderr


def test_init_from_loads_weights_and_refuses_a_different_architecture(trained, tmp_path):
    result = bigmodel("train", CONFIGS / "smoke" / "mlp.yaml", "--run-dir", tmp_path / "tuned",
                      "--init-from", trained, "--set", "training.epochs=1")
    assert result.returncode == 0, result.stderr
    assert f"weights initialized from {trained / 'checkpoints' / 'best.keras'}" in result.stdout
    wider = bigmodel("train", CONFIGS / "smoke" / "mlp.yaml", "--run-dir", tmp_path / "wider",
                     "--init-from", trained, "--set", "model.hidden_units=[32]")
    assert wider.returncode == 2
    assert "its weights do not fit this model" in wider.stderr


def test_restart_trains_a_finished_run_again(trained, tmp_path):
    run_dir = copy_run(trained, tmp_path)
    before = json.loads((run_dir / "results.json").read_text())
    result = bigmodel("train", CONFIGS / "smoke" / "mlp.yaml", "--run-dir", run_dir,
                      "--restart", "--set", "training.epochs=1")
    assert result.returncode == 0, result.stderr
    after = json.loads((run_dir / "results.json").read_text())
    assert (before["epochs"], after["epochs"]) == (3, 1)


def test_best_and_last_are_names_of_the_epoch_file_written_once(tmp_path):
    from bigmodel_cli.train.callbacks import BestCheckpoint, EpochCheckpoints

    model = tiny_model()
    saves = []
    original_save = model.save
    model.save = lambda path: (saves.append(path), original_save(path))
    epochs = EpochCheckpoints(tmp_path, keep_last=1)
    best = BestCheckpoint(tmp_path / "best.keras", "loss", "min", 5, epochs)
    for callback in (epochs, best):
        callback.set_model(model)
    for epoch, loss in enumerate([0.5, 0.7, 0.4]):  # epoch 2 is not an improvement
        for callback in (epochs, best):
            callback.on_epoch_end(epoch, {"loss": loss})
        if epoch == 1:
            assert not (tmp_path / "best.keras").samefile(tmp_path / "last.keras")
    assert len(saves) == 3  # one write per epoch, none for best.keras
    assert (tmp_path / "best.keras").samefile(tmp_path / "epoch-0003.keras")
    assert (tmp_path / "last.keras").samefile(tmp_path / "epoch-0003.keras")
    assert sorted(path.name for path in tmp_path.glob("epoch-*")) == ["epoch-0003.keras"]
    assert json.loads((tmp_path / "best.json").read_text())["epoch"] == 3
    keras.saving.load_model(tmp_path / "best.keras")  # still a whole model
