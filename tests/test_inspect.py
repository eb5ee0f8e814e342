"""`bigmodel data inspect`: splits, class balance, input spec, examples, pipeline speed."""

from __future__ import annotations

import numpy as np
import tensorflow as tf
from cli_runner import bigmodel
from test_data_csv import people, write_csv
from test_data_folders import image_folder

from bigmodel_cli.config.schema import Config
from bigmodel_cli.data import inspect as data_inspect

IMAGE_CONFIG = """\
name: photos
data:
  source: image_folder
  path: {path}
  image_size: [8, 8]
  batch_size: 4
  validation_split: 0.25
  test_split: 0
  augment: {{flip: horizontal}}
model: {{family: cnn}}
"""


def test_inspect_an_image_folder_saves_a_grid(tmp_path):
    photos = image_folder(tmp_path / "photos", count=4)
    config = tmp_path / "photos.yaml"
    config.write_text(IMAGE_CONFIG.format(path=photos))
    grid = tmp_path / "out" / "grid.png"
    result = bigmodel("data", "inspect", config, "--output", grid, "--examples", "5")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "splits: train 6, validation 2, test 0" in out
    assert "│ cat │     3 │          1 │" in out  # the class balance table
    assert "input: kind image, shape [8, 8, 3]" in out
    assert f"examples: 5 training images in {grid}" in out
    assert "examples/s first pass" in out
    # 5 images of 8x8, enlarged 8 times, in a 3 x 2 grid with 2-pixel gaps.
    image = tf.io.decode_png(grid.read_bytes()).numpy()
    assert image.shape == (2 * 66 + 2, 3 * 66 + 2, 3)


def test_inspect_report_of_a_table(tmp_path):
    path = write_csv(tmp_path / "people.csv", people(40))
    config = Config.model_validate({"name": "people", "model": {"family": "mlp"}, "data": {
        "source": "csv", "path": str(path), "label_column": "label", "batch_size": 8,
        "columns": {"age": "numeric", "city": "categorical", "note": "text"}}})
    report = data_inspect.inspect(config, tmp_path / "unused.png", examples=3)
    assert report["sizes"] == {"train": 28, "validation": 4, "test": 8}
    assert report["class_balance"]["test"] == {"no": 4, "yes": 4}
    assert report["input"]["columns"]["city"] == "categorical, 3 values, one_hot"
    assert report["input"]["columns"]["note"] == "text, 3 words, length 32"
    rows = report["examples"]["rows"]
    assert len(rows) == 3 and set(rows[0]["input"]) == {"age", "city", "note"}
    assert all((row["input"]["age"] % 2 == 1) == (row["label"] == "yes") for row in rows)
    passes = report["pipeline"]
    assert passes["first_pass"]["examples"] == 28 and passes["second_pass"]["examples"] == 28
    assert np.isfinite(passes["second_pass"]["examples_per_second"])
    assert not (tmp_path / "unused.png").exists()  # no grid for a table
