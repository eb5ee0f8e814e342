"""metrics.jsonl and metrics.csv: one table in two files, safe to append across resumes."""

from __future__ import annotations

import csv
import json

import pytest
from cli_runner import CONFIGS, bigmodel

from bigmodel_cli.runs import RunDir
from bigmodel_cli.train import metrics_log, resume


def jsonl_rows(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def csv_rows(path):
    """CSV rows with numbers parsed back, empty cells as None: comparable to the JSON lines."""
    with open(path, newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    return [{key: None if value == "" else json.loads(value) for key, value in row.items()}
            for row in rows]


def assert_same_table(run: RunDir):
    for path in (run.metrics_jsonl, run.metrics_csv):
        assert b"\r" not in path.read_bytes(), f"{path.name}: CRLF line endings"
    records = jsonl_rows(run.metrics_jsonl)
    assert csv_rows(run.metrics_csv) == [
        {key: record.get(key) for key in metrics_log.columns_of(records)} for record in records]
    return records


def record(epoch, **metrics):
    return {"epoch": epoch, "step": 7 * epoch, "seconds": 0.5, "learning_rate": 0.01 / epoch,
            "loss": 1.0 / epoch, **metrics}


@pytest.fixture
def run(tmp_path):
    return RunDir(tmp_path)


def log(run: RunDir, *records):
    """One process logging these epochs in turn."""
    files = metrics_log.MetricsFiles(run.metrics_jsonl, run.metrics_csv)
    for one in records:
        files.add(one)


def test_a_run_writes_the_same_epochs_learning_rates_and_seconds_to_both_files(tmp_path):
    result = bigmodel("train", CONFIGS / "smoke" / "mlp.yaml", "--run-dir", tmp_path / "run",
                      "--set", "optimizer.schedule={name: cosine}")
    assert result.returncode == 0, result.stderr
    run = RunDir(tmp_path / "run")
    records = assert_same_table(run)
    assert [row["epoch"] for row in records] == [1, 2, 3]
    assert [row["step"] for row in records] == [7, 14, 21]  # 105 iris flowers, batches of 16
    assert run.metrics_csv.read_text().splitlines()[0] == (
        "epoch,step,seconds,learning_rate,accuracy,loss,val_accuracy,val_loss")
    assert all(row["seconds"] > 0 for row in records)
    # Cosine decay over the run's 21 steps, read at each epoch's end: 1e-3 * (1 + cos) / 2.
    rates = [row["learning_rate"] for row in records]
    assert rates == pytest.approx([7.5e-4, 2.5e-4, 0.0], abs=1e-7)


def test_a_resume_trims_both_files_to_the_epochs_of_its_backup(run):
    log(run, record(1), record(2), record(3))
    resume.trim_metrics(run, 1)
    assert [row["epoch"] for row in assert_same_table(run)] == [1]
    log(run, record(2, val_loss=0.3), record(3, val_loss=0.2))  # the resumed run logs on
    assert [row["epoch"] for row in assert_same_table(run)] == [1, 2, 3]
    assert len(run.metrics_csv.read_text().splitlines()) == 4  # one header, three rows


def test_a_line_cut_short_and_epochs_logged_again_never_survive(run):
    # Killed mid-write in epoch 3, after epochs 1 and 2 were logged (the CSV missed epoch 2),
    # and no backup of epoch 2: the next run starts again from epoch 2.
    log(run, record(1), record(2))
    run.metrics_csv.write_text(run.metrics_csv.read_text().splitlines()[0] + "\r\n")
    with open(run.metrics_jsonl, "a") as file:
        file.write('{"epoch": 3, "step": 2')
    log(run, record(2, loss=0.25), record(3))
    records = assert_same_table(run)
    assert [(row["epoch"], row["loss"]) for row in records] == [(1, 1.0), (2, 0.25), (3, 1 / 3)]


def test_a_metric_that_appears_later_gets_a_column(run):
    log(run, record(1), record(2, val_loss=0.5))
    assert run.metrics_csv.read_text().splitlines()[0] == (
        "epoch,step,seconds,learning_rate,loss,val_loss")
    assert [row["val_loss"] for row in csv_rows(run.metrics_csv)] == [None, 0.5]
    assert_same_table(run)


def test_trim_before_any_epoch_leaves_no_files_behind(run):
    resume.trim_metrics(run, 0)
    assert not run.metrics_jsonl.exists() and not run.metrics_csv.exists()
