"""Bring your own data, end to end: train on a folder of images, a folder of texts, a CSV file
and keras' IMDB (as raw text), then `bigmodel predict` on raw files, raw strings and CSV rows
from the run directory gives the predictions of the same model in-process.

Training runs in-process (runner.train), so keras' imdb loaders can be substituted; predict
runs as the real command in a subprocess.
"""

from __future__ import annotations

import io
import json

import keras
import numpy as np
import pytest
from cli_runner import bigmodel
from rich.console import Console
from test_data_csv import people, write_csv
from test_data_folders import image_folder, reviews, write_png
from test_data_sources import fake_reviews, fake_word_index

from bigmodel_cli.config.schema import Config
from bigmodel_cli.data import images
from bigmodel_cli.train import runner

TINY_TRAINING = {"epochs": 1, "tensorboard": False}


def train(run_dir, data, model):
    config = Config.model_validate({"name": run_dir.name, "seed": 0, "data": data,
                                    "model": model, "training": TINY_TRAINING})
    log = io.StringIO()
    results = runner.train(config, run_dir, Console(file=log, width=200))
    return results, log.getvalue()


def best_model(run_dir):
    return keras.models.load_model(run_dir / "checkpoints" / "best.keras", safe_mode=True)


def predict_command(run_dir, *inputs, cwd=None) -> list[dict]:
    result = bigmodel("predict", run_dir, *inputs, "--format", "jsonl", "--top-k", "5", cwd=cwd)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def probabilities(rows: list[dict], class_names: list[str]) -> np.ndarray:
    """(examples, classes) from predict's ranked output, in class order."""
    return np.array([[next(guess["probability"] for guess in row["top"] if guess["class"] == name)
                      for name in class_names] for row in rows])


def as_two_classes(output: np.ndarray) -> np.ndarray:
    positive = output.reshape(-1)
    return np.stack([1 - positive, positive], axis=1)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("byod")
    photos = image_folder(root / "photos", count=8)
    (photos / "dog" / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 cut short")
    texts = reviews(root / "reviews")
    table = write_csv(root / "people.csv", people(48))
    trained = {
        "image": train(root / "image_run", {
            "source": "image_folder", "path": str(photos), "image_size": [8, 8],
            "batch_size": 8, "on_bad_file": "skip", "augment": {"flip": "horizontal", "crop": 1}},
            {"family": "cnn", "filters": [4], "dense_units": [8]}),
        "text": train(root / "text_run", {
            "source": "text_folder", "path": str(texts), "sequence_length": 8, "batch_size": 4},
            {"family": "mlp", "hidden_units": [8]}),
        "csv": train(root / "csv_run", {
            "source": "csv", "path": str(table), "label_column": "label", "batch_size": 8,
            "columns": {"age": "numeric", "city": "categorical", "note": "text"}},
            {"family": "mlp", "hidden_units": [8]}),
    }
    return root, trained


def test_image_folder_round_trip_with_a_skipped_file(runs, tmp_path):
    root, trained = runs
    results, log = trained["image"]
    assert results["skipped"] == 1 and "dog/corrupt.jpg" in log
    assert json.loads((root / "image_run" / "results.json").read_text())["skipped"] == 1
    # A training image, and one of another size and mode that predict must resize the same way.
    write_png(tmp_path / "big.png", np.random.default_rng(1).integers(0, 256, (30, 20, 4)))
    files = [str(root / "photos" / "cat" / "0.png"), str(tmp_path / "big.png")]
    scanned = images.scan(files, (8, 8, 3), keep_pixels=True)
    pixels = scanned.pixels
    assert scanned.bad == []
    expected = as_two_classes(best_model(root / "image_run").predict(
        pixels.astype(np.float32), verbose=0))
    rows = predict_command(root / "image_run", *files)
    assert [row["input"] for row in rows] == files
    np.testing.assert_allclose(probabilities(rows, ["cat", "dog"]), expected, atol=1e-5)


def test_predict_labels_inputs_as_given_and_reads_folders(runs, tmp_path):
    root, _ = runs
    rng = np.random.default_rng(2)
    for name in ("a/img.png", "b/img.png", "b/sub/z.jpg", "b/.hidden.png", "b/.cache/x.png"):
        write_png(tmp_path / name, rng.integers(0, 256, (8, 8, 3)))
    (tmp_path / "b" / "notes.txt").write_text("not an image\n")
    (tmp_path / "empty").mkdir()
    rows = predict_command(root / "image_run", "a/img.png", "./b/", cwd=tmp_path)
    # Two img.png told apart; the folder gives its images (sub-folders too) sorted, as spelled.
    assert [row["input"] for row in rows] == ["a/img.png", "./b/img.png", "./b/sub/z.jpg"]
    direct = predict_command(root / "image_run", "b/img.png", "b/sub/z.jpg", cwd=tmp_path)
    np.testing.assert_allclose(probabilities(direct, ["cat", "dog"]),
                               probabilities(rows[1:], ["cat", "dog"]), atol=1e-6)
    result = bigmodel("predict", root / "image_run", "empty", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("error: empty: a folder without files of the kinds this "
                                    "model reads (.bmp, .gif, .jpeg, .jpg, .png)")


def test_text_folder_round_trip_on_raw_strings_and_a_text_file(runs, tmp_path):
    root, _ = runs
    lines = ["A wonderful film!", "a dull film, frankly", "words never seen in training"]
    (tmp_path / "more.txt").write_text(lines[2] + "\n", encoding="utf-8")
    rows = predict_command(root / "text_run", lines[0], lines[1], tmp_path / "more.txt")
    expected = best_model(root / "text_run").predict(np.array(lines, dtype=object), verbose=0)
    np.testing.assert_allclose(probabilities(rows, ["neg", "pos"]), as_two_classes(expected),
                               atol=1e-5)
    assert rows[2]["input"] == f"{tmp_path / 'more.txt'}:1"
    # A folder is a folder of text files, not a raw string that happens to name one.
    (tmp_path / "texts").mkdir()
    (tmp_path / "more.txt").rename(tmp_path / "texts" / "more.txt")
    in_folder = predict_command(root / "text_run", "texts", cwd=tmp_path)
    assert [row["input"] for row in in_folder] == ["texts/more.txt:1"]
    np.testing.assert_allclose(probabilities(in_folder, ["neg", "pos"]),
                               probabilities(rows[2:], ["neg", "pos"]), atol=1e-6)


def test_csv_round_trip_on_rows_with_the_label_column_and_other_order(runs, tmp_path):
    root, _ = runs
    rows_file = write_csv(tmp_path / "rows.csv", [
        ("maybe", "likes tea", "oslo", 31), ("", "likes coffee", "a city never seen", 64)],
        header=("label", "note", "city", "age"))
    rows = predict_command(root / "csv_run", rows_file)
    assert [row["input"] for row in rows] == [f"{rows_file}:2", f"{rows_file}:3"]
    columns = {"age": np.array([31, 64], np.float32),
               "city": np.array(["oslo", "a city never seen"], dtype=object),
               "note": np.array(["likes tea", "likes coffee"], dtype=object)}
    expected = best_model(root / "csv_run").predict(columns, verbose=0)
    np.testing.assert_allclose(probabilities(rows, ["no", "yes"]), as_two_classes(expected),
                               atol=1e-5)


def test_keras_imdb_recipe_predicts_from_raw_text(tmp_path, monkeypatch):
    monkeypatch.setattr(keras.datasets.imdb, "load_data", fake_reviews)
    monkeypatch.setattr(keras.datasets.imdb, "get_word_index", fake_word_index)
    run_dir = tmp_path / "rnn_imdb"
    train(run_dir, {"source": "keras", "name": "imdb", "vocab_size": 20, "sequence_length": 12,
                    "batch_size": 8}, {"family": "rnn", "units": 4, "embedding_dim": 4})
    rows = predict_command(run_dir, "a wonderful film", "a dreadful plot")
    expected = best_model(run_dir).predict(
        np.array(["a wonderful film", "a dreadful plot"], dtype=object), verbose=0)
    np.testing.assert_allclose(probabilities(rows, ["negative", "positive"]),
                               as_two_classes(expected), atol=1e-5)
