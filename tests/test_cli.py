"""The real `bigmodel` command, end to end: train every smoke config, then evaluate and predict."""

from __future__ import annotations

import csv
import io
import json
import shutil

import numpy as np
import pytest
from cli_runner import CONFIGS, bigmodel

FAMILIES = ("mlp", "cnn", "rnn", "transformer")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Train each smoke config once; the tests below read what the runs left behind."""
    root = tmp_path_factory.mktemp("runs")
    trained = {}
    for family in FAMILIES:
        run_dir = root / family
        result = bigmodel("train", CONFIGS / "smoke" / f"{family}.yaml", "--run-dir", run_dir)
        assert result.returncode == 0, result.stderr
        trained[family] = (run_dir, result)
    return trained


def example_inputs(family: str, run_dir, tmp_path) -> list[str]:
    """Raw inputs of the kind each smoke model takes, two examples each."""
    spec = json.loads((run_dir / "spec.json").read_text())["input"]
    if family == "transformer":
        return ["the first review", "another line of words"]
    if family == "cnn":
        import tensorflow as tf

        paths = []
        for index in range(2):
            pixels = np.random.default_rng(index).integers(0, 255, (20, 20, 1), dtype=np.uint8)
            path = tmp_path / f"image{index}.png"
            path.write_bytes(tf.io.encode_png(pixels).numpy())
            paths.append(str(path))
        return paths
    shape = tuple(spec["shape"])
    high = spec["vocab_size"] if family == "rnn" else 5
    array = np.random.default_rng(0).integers(1, high, (2, *shape)).astype(spec["dtype"])
    np.save(tmp_path / "batch.npy", array)
    return [str(tmp_path / "batch.npy")]


@pytest.mark.parametrize("family", FAMILIES)
def test_train_writes_a_complete_run_directory(runs, family):
    run_dir, result = runs[family]
    for name in ("config.yaml", "spec.json", "versions.json", "metrics.jsonl", "metrics.csv",
                 "checkpoints/best.keras", "checkpoints/last.keras"):
        assert (run_dir / name).is_file(), name
    epochs = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [record["epoch"] for record in epochs] == [1, 2, 3][: len(epochs)]
    assert all("loss" in record and "val_loss" in record for record in epochs)
    results = json.loads((run_dir / "results.json").read_text())
    assert 0.0 <= results["test"]["accuracy"] <= 1.0
    assert results["distribute"]["replicas"] == 1
    assert f"accuracy {results['test']['accuracy']:.4f}" in result.stdout
    assert not list(run_dir.rglob(".*.tmp*")), "a temporary file was left behind"


@pytest.mark.parametrize("family", FAMILIES)
def test_evaluate_matches_the_training_results(runs, family):
    run_dir, _ = runs[family]
    result = bigmodel("evaluate", run_dir, "--json")
    assert result.returncode == 0, result.stderr
    metrics = json.loads(result.stdout)
    expected = json.loads((run_dir / "results.json").read_text())["test"]
    assert metrics["accuracy"] == pytest.approx(expected["accuracy"], abs=1e-6)
    assert metrics["loss"] == pytest.approx(expected["loss"], rel=1e-4)
    assert "warning" not in result.stderr  # e.g. of splits cut another way than at training


@pytest.mark.parametrize("family", FAMILIES)
def test_predict_prints_ranked_class_names(runs, family, tmp_path):
    run_dir, _ = runs[family]
    class_names = json.loads((run_dir / "spec.json").read_text())["target"]["class_names"]
    result = bigmodel("predict", run_dir, *example_inputs(family, run_dir, tmp_path),
                      "--format", "jsonl", "--top-k", "2")
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 2
    for row in rows:
        probabilities = [guess["probability"] for guess in row["top"]]
        assert len(row["top"]) == 2
        assert probabilities == sorted(probabilities, reverse=True)
        assert 0 <= sum(probabilities) <= 1 + 1e-5
        assert {guess["class"] for guess in row["top"]} <= set(class_names)


def test_predict_csv_to_a_file_and_table(runs, tmp_path):
    run_dir, _ = runs["transformer"]
    output = tmp_path / "out.csv"
    result = bigmodel("predict", run_dir, "good words", "--output", output, "--top-k", "3")
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(output.read_text())))
    assert [row["rank"] for row in rows] == ["1", "2", "3"]
    table = bigmodel("predict", run_dir, "good words")
    assert table.returncode == 0 and "good words" in table.stdout and "#1" in table.stdout


def test_predict_table_shows_class_names_and_inputs_as_they_are(runs, tmp_path):
    """Class names and file names are user text: never read as Rich markup or emoji codes."""
    run_dir = tmp_path / "run"
    shutil.copytree(runs["mlp"][0], run_dir)
    spec = json.loads((run_dir / "spec.json").read_text())
    names = [":thumbs_up:", "[red]no[/red]", "[bold]"]  # iris has three classes
    spec["target"]["class_names"] = names
    (run_dir / "spec.json").write_text(json.dumps(spec))
    np.savez(tmp_path / "batch.npz", **{"[b]x:fire:": np.ones((2, 4), dtype="float32")})
    result = bigmodel("predict", "run", "batch.npz", "--top-k", "3", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    for text in (*names, "batch.npz:[b]x:fire:[0]", "batch.npz:[b]x:fire:[1]"):
        assert text in result.stdout, text


def test_train_again_on_a_finished_run_does_not_retrain(runs):
    run_dir, _ = runs["mlp"]
    before = (run_dir / "metrics.jsonl").read_text()
    result = bigmodel("train", CONFIGS / "smoke" / "mlp.yaml", "--run-dir", run_dir)
    assert result.returncode == 0
    assert "holds a finished run" in result.stdout
    assert (run_dir / "metrics.jsonl").read_text() == before


def test_predict_wrong_shape_is_a_usage_error(runs, tmp_path):
    run_dir, _ = runs["mlp"]
    np.save(tmp_path / "wrong.npy", np.zeros((3, 7), dtype="float32"))
    result = bigmodel("predict", run_dir, tmp_path / "wrong.npy")
    assert result.returncode == 2
    assert "wrong.npy: array of shape (3, 7) does not fit the model's input (4,)" in result.stderr
    assert "Traceback" not in result.stderr


def test_predict_corrupt_image_is_a_usage_error(runs, tmp_path):
    run_dir, _ = runs["cnn"]
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG not really")
    result = bigmodel("predict", run_dir, broken)
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: {broken}: cannot read the image")
    assert "Traceback" not in result.stderr
