"""Evaluation reports against scikit-learn, pictures, report.html, `runs` and `compare`."""

from __future__ import annotations

import base64
import io
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from cli_runner import CONFIGS, bigmodel
from PIL import Image
from sklearn import metrics as sk

from bigmodel_cli import tasks
from bigmodel_cli.data.spec import TargetSpec
from bigmodel_cli.report import compare, plots, runinfo
from bigmodel_cli.runs import RunDir
from bigmodel_cli.train import liveness


def fixed_predictions(classes: int, count: int = 200, seed: int = 0):
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, classes, count)
    logits = rng.normal(size=(count, classes)) + 2.0 * np.eye(classes)[truth]
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return truth, probabilities


def target(classes: int, task: str = "multiclass") -> TargetSpec:
    return TargetSpec(task=task, class_names=[f"c{index}" for index in range(classes)])


def assert_valid_png(path, width: int, height: int) -> None:
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", path
    with Image.open(path) as image:
        assert image.size == (width, height), (path, image.size)
        pixels = np.asarray(image.convert("RGB"), dtype=np.float64)
    assert pixels.var() > 0, f"{path} is blank"


# --- numbers: the same as scikit-learn's on fixed predictions -----------------------------------

def test_multiclass_report_matches_scikit_learn():
    truth, probabilities = fixed_predictions(6)
    task = tasks.get("multiclass")
    predicted = probabilities.argmax(axis=1)
    numbers = task.report(truth, probabilities)
    details = task.details(target(6), truth, probabilities)

    expected = sk.classification_report(truth, predicted, output_dict=True, zero_division=0)
    for index, row in enumerate(details["per_class"]["classes"]):
        assert row["class"] == f"c{index}"
        for key in ("precision", "recall", "f1"):
            assert row[key] == pytest.approx(expected[str(index)][key if key != "f1"
                                                                  else "f1-score"])
        assert row["support"] == expected[str(index)]["support"]
    for average in ("macro", "weighted"):
        row = details["per_class"]["averages"][average]
        assert row["f1"] == pytest.approx(expected[f"{average} avg"]["f1-score"])
        assert row["precision"] == pytest.approx(expected[f"{average} avg"]["precision"])
        assert row["support"] == len(truth)
    matrix = details["confusion_matrix"]
    assert matrix["counts"] == sk.confusion_matrix(truth, predicted).tolist()
    np.testing.assert_allclose(matrix["normalized"],
                               sk.confusion_matrix(truth, predicted, normalize="true"), atol=1e-6)
    for k in (3, 5):
        assert numbers[f"top_{k}_accuracy"] == pytest.approx(
            sk.top_k_accuracy_score(truth, probabilities, k=k))
    assert numbers["macro_f1"] == pytest.approx(expected["macro avg"]["f1-score"])


def test_calibration_error_by_hand():
    # Two bins used: confidence 0.9 (2 of 2 right) and 0.6 (1 of 2 right): |1-0.9|/2 + |0.5-0.6|/2
    probabilities = np.array([[0.9, 0.1], [0.1, 0.9], [0.6, 0.4], [0.4, 0.6]])
    truth = np.array([0, 1, 0, 0])
    assert tasks.get("multiclass").report(truth, probabilities)["ece"] == pytest.approx(0.1)


def test_binary_report_has_roc_and_pr_auc():
    truth, probabilities = fixed_predictions(2, seed=1)
    positive = probabilities[:, 1:]
    task = tasks.get("binary")
    numbers = task.report(truth, positive)
    assert numbers["roc_auc"] == pytest.approx(sk.roc_auc_score(truth, positive[:, 0]))
    assert numbers["pr_auc"] == pytest.approx(sk.average_precision_score(truth, positive[:, 0]))
    assert "top_3_accuracy" not in numbers
    details = task.details(target(2, "binary"), truth, positive)
    assert details["confusion_matrix"]["counts"] == sk.confusion_matrix(
        truth, (positive[:, 0] >= 0.5).astype(int)).tolist()


def test_regression_report_in_data_units():
    rng = np.random.default_rng(2)
    truth = rng.normal(150, 50, 100)
    predicted = truth + rng.normal(0, 10, 100)
    numbers = tasks.get("regression").report(truth, predicted[:, None])
    assert numbers["mae"] == pytest.approx(sk.mean_absolute_error(truth, predicted))
    assert numbers["rmse"] == pytest.approx(sk.root_mean_squared_error(truth, predicted))
    assert numbers["r2"] == pytest.approx(sk.r2_score(truth, predicted))


# --- pictures ------------------------------------------------------------------------------

def test_pictures_are_valid_pngs_of_the_expected_size(tmp_path):
    records = [{"epoch": epoch, "step": 10 * epoch, "seconds": 1.0,
                "learning_rate": 0.01 / epoch, "loss": 1 / epoch, "val_loss": 1.2 / epoch,
                "accuracy": 1 - 0.5 / epoch, "val_accuracy": 1 - 0.6 / epoch}
               for epoch in range(1, 5)]
    assert_valid_png(plots.curves(records, tmp_path / "curves.png"), 1200, 300)
    truth, probabilities = fixed_predictions(4)
    details = tasks.get("multiclass").details(target(4), truth, probabilities)
    assert_valid_png(plots.confusion_matrix(details["confusion_matrix"], tmp_path / "cm.png"),
                     530, 430)  # 4 classes: 5.3 x 4.3 inches at 100 dpi
    binary_truth, binary = fixed_predictions(2)
    assert_valid_png(plots.roc(binary_truth, binary[:, 1], tmp_path / "roc.png"), 900, 400)
    images = np.random.default_rng(0).integers(0, 255, (40, 8, 8, 1))
    assert_valid_png(plots.examples(images, truth[:40], probabilities[:40].argmax(axis=1),
                                    [f"c{index}" for index in range(4)], tmp_path / "ex.png"),
                     1020, 1180)


# --- a trained run: pictures at the end of training, evaluate, report.html ---------------------

@pytest.fixture(scope="module")
def cnn_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("report") / "cnn"
    result = bigmodel("train", CONFIGS / "smoke" / "cnn.yaml", "--run-dir", run_dir)
    assert result.returncode == 0, result.stderr
    return run_dir, result


def test_training_writes_pictures_and_evaluate_tells_the_whole_story(cnn_run):
    run_dir, trained = cnn_run
    assert "pictures:" in trained.stdout
    for name, size in (("curves.png", (1200, 300)), ("confusion_matrix.png", (530, 430))):
        assert_valid_png(run_dir / "plots" / name, *size)
    assert (run_dir / "plots" / "examples.png").is_file()
    assert not (run_dir / "process.json").exists(), "process.json outlived training"
    events = b"".join(path.read_bytes() for path in (run_dir / "logs").rglob("events.*"))
    assert b"confusion_matrix" in events and b"steps_per_second" in events  # TensorBoard too

    # In this process: one TensorFlow start for the JSON and the table (the CLI prints these).
    from bigmodel_cli.predict import inference
    from bigmodel_cli.report import evaluation, tables

    evaluated = json.loads(json.dumps(inference.evaluate(run_dir)))  # what --json prints
    best = json.loads((run_dir / "checkpoints" / "best.json").read_text())
    assert evaluated["run"]["finished"] is True
    assert evaluated["run"]["checkpoint"]["which"] == "best"
    assert evaluated["run"]["checkpoint"]["epoch"] == best["epoch"]
    assert evaluated["run"]["checkpoint"]["step"] == best["step"]
    per_class = evaluated["report"]["per_class"]
    assert [row["class"] for row in per_class["classes"]] == [f"class_{i}" for i in range(4)]
    assert sum(map(sum, evaluated["report"]["confusion_matrix"]["counts"])) == \
        evaluated["examples"]
    assert {"top_3_accuracy", "ece", "macro_f1", "accuracy", "loss"} <= set(evaluated)
    assert set(evaluated["plots"]) == {"plots/curves.png", "plots/confusion_matrix.png",
                                       "plots/examples.png"}

    first = evaluation.header(run_dir, "test", evaluated["examples"], evaluated["run"])
    assert "checkpoint checkpoints/best.keras (best" in first and f"epoch {best['epoch']}" in first
    assert first.endswith("run finished")
    unfinished = {**evaluated["run"], "finished": False, "state": "interrupted",
                  "epochs_done": 1}
    assert "NOT finished (interrupted, epoch 1 of 2)" in evaluation.header(
        run_dir, "test", 51, unfinished)
    names = [table.title for table in tables.evaluation_tables(evaluated)]
    assert names == ["metrics", "per class", "confusion matrix (rows: true, columns: predicted)"]


def test_report_html_embeds_pictures_and_tables(cnn_run):
    # What `bigmodel report` does, in this process (TensorFlow is loaded already): evaluate,
    # then the page.
    from bigmodel_cli.predict import inference
    from bigmodel_cli.report import html

    run_dir, _ = cnn_run
    written = html.write(RunDir(run_dir), inference.evaluate(run_dir))
    assert written == run_dir / "report.html"
    page = written.read_text()
    assert page.startswith("<!DOCTYPE html>")
    images = page.split('src="data:image/png;base64,')[1:]
    assert len(images) >= 3  # curves, confusion matrix, examples
    for encoded in images:
        png = base64.b64decode(encoded.split('"')[0])
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        assert np.asarray(Image.open(io.BytesIO(png))).var() > 0
    for heading in ("Per class", "Confusion matrix", "Config", "Versions", "Metrics (test)"):
        assert f"<h2>{heading}" in page
    assert "<td>macro avg</td>" in page and "smoke_cnn" in page
    assert "src=\"plots/" not in page and "href=" not in page  # nothing outside the file


def test_restart_removes_the_pictures_and_the_report(cnn_run, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(cnn_run[0], copy)
    (copy / "report.html").write_text("<html></html>")
    (copy / "failed.json").write_text("{}")
    (copy / "notes.txt").write_text("mine")
    removed, kept = RunDir(copy).remove_own()  # what --restart deletes
    assert "plots/ (3 files)" in removed and "report.html" in removed
    assert kept == ["notes.txt"] and not (copy / "plots").exists()


# --- runs: every state, made for real ----------------------------------------------------------

def fake_run(root, name: str, **files) -> RunDir:
    run = RunDir(root / name)
    run.path.mkdir(parents=True)
    run.config.write_text(f"name: {name}\ndata:\n  source: sklearn\n  name: iris\n"
                          "model:\n  family: mlp\ntraining:\n  epochs: 3\n")
    run.spec.write_text("{}")
    run.metrics_jsonl.write_text(json.dumps({"epoch": 1, "step": 7, "seconds": 0.5,
                                             "loss": 1.0, "val_loss": 1.1}) + "\n")
    for relative, text in files.items():
        (run.path / relative.replace("__", "/")).parent.mkdir(parents=True, exist_ok=True)
        (run.path / relative.replace("__", "/")).write_text(text)
    return run


def test_runs_shows_every_state(tmp_path):
    root = tmp_path / "runs"
    fake_run(root, "done", **{"results.json": json.dumps({"test": {"accuracy": 0.9},
                                                          "parameters": 99,
                                                          "total_seconds": 4.0})})
    fake_run(root, "stopped", **{"backup__state-000000007.json": "{}"})
    failed = fake_run(root, "broken")
    liveness.hold(failed)
    from bigmodel_cli.errors import RunError

    liveness.release(failed, RunError("loss became nan at step 3"))
    # A real training process: running while it lives, interrupted once killed with -9.
    live = root / "live"
    process = subprocess.Popen(
        [sys.executable, "-m", "bigmodel_cli", "train", str(CONFIGS / "smoke" / "mlp.yaml"),
         "--run-dir", str(live), "--set", "training.epochs=500"],
        cwd=str(CONFIGS.parent), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while not (live / "process.json").exists() and time.time() < deadline:
            time.sleep(0.2)
        running = states(root)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(30)
    finally:
        if process.poll() is None:
            process.kill()
    assert running["live"] == "running"
    after = states(root)
    assert after == {"done": "finished", "stopped": "interrupted", "broken": "failed",
                     "live": "interrupted"}
    listed = {row["name"]: row for row in json.loads(bigmodel("runs", root, "--json").stdout)}
    assert "killed" in listed["live"]["why"] and "nan" in listed["broken"]["why"]
    assert listed["done"]["test"] == 0.9 and listed["done"]["parameters"] == 99
    assert listed["done"]["epochs_done"] == 1 and listed["done"]["epochs_planned"] == 3
    table = bigmodel("runs", root, "--filter", "b*")
    assert table.returncode == 0 and "broken" in table.stdout and "done" not in table.stdout
    ordered = bigmodel("runs", root, "--json", "--sort", "-name")
    assert [row["name"] for row in json.loads(ordered.stdout)] == [
        "stopped", "live", "done", "broken"]
    wrong = bigmodel("runs", root, "--sort", "nmae")
    assert wrong.returncode == 2 and "name" in wrong.stderr


def states(root) -> dict:
    return {run.path.name: runinfo.state(run)[0] for run in runinfo.find_runs(root)}


# --- compare -----------------------------------------------------------------------------------

def test_compare_lists_exactly_the_differing_keys(tmp_path):
    first = fake_run(tmp_path, "a")
    second = fake_run(tmp_path, "b")
    second.config.write_text(first.config.read_text().replace("epochs: 3", "epochs: 5")
                             .replace("family: mlp", "family: mlp\n  dropout: 0.2"))
    assert compare.differing([runinfo.read_config(first), runinfo.read_config(second)]) == {
        "training.epochs": [3, 5], "model.dropout": [compare.MISSING, 0.2]}
    output = tmp_path / "compare.png"
    result = bigmodel("compare", first.path, second.path, "--output", output, "--json")
    assert result.returncode == 0, result.stderr
    compared = json.loads(result.stdout)
    assert set(compared["differences"]) == {"training.epochs", "model.dropout"}
    assert compared["runs"][1]["final"]["val_loss"] == 1.1
    with Image.open(output) as image:
        assert image.size[0] > 0 and np.asarray(image.convert("L")).var() > 0
    alone = bigmodel("compare", first.path)
    assert alone.returncode == 2 and "two or more" in alone.stderr


def test_tensorboard_needs_a_folder_with_logs(tmp_path):
    missing = bigmodel("tensorboard", tmp_path / "nothing")
    assert missing.returncode == 2 and "no folder" in missing.stderr
    fake_run(tmp_path, "quiet")
    empty = bigmodel("tensorboard", tmp_path)
    assert empty.returncode == 2 and "no TensorBoard logs" in empty.stderr
