"""`config validate --dry-run`: specs without downloads, FLOPs by hand, one real training step."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow_datasets as tfds
from cli_runner import CONFIGS, bigmodel

from bigmodel_cli import config, data, models
from bigmodel_cli.config.schema import DataConfig
from bigmodel_cli.errors import ConfigError, DataError
from bigmodel_cli.models.layers import TransformerEncoder
from bigmodel_cli.train import dryrun, flops


def cost_of(input_shape, *layers):
    inputs = keras.Input(input_shape)
    outputs = inputs
    for layer in layers:
        outputs = layer(outputs)
    return flops.estimate(keras.Model(inputs, outputs))


def test_dense_flops_and_activations():
    cost = cost_of((4,), keras.layers.Dense(16), keras.layers.Dense(3))
    assert cost.forward_flops == 2 * (4 * 16 + 16 * 3)
    assert cost.training_flops == 3 * cost.forward_flops
    assert cost.activations == 16 + 3


def test_convolution_flops_count_output_positions():
    # 3x3 kernel over an 8x8x1 image, valid padding: 6x6 positions x 4 filters.
    cost = cost_of((8, 8, 1), keras.layers.Conv2D(4, 3), keras.layers.Flatten(),
                   keras.layers.Dense(2))
    assert cost.forward_flops == 2 * (3 * 3 * 1 * 4) * 36 + 2 * 144 * 2


def test_recurrent_flops_per_step_and_direction():
    lstm = cost_of((10, 6), keras.layers.Bidirectional(keras.layers.LSTM(5)))
    assert lstm.forward_flops == 2 * 10 * 2 * (6 * 20 + 5 * 20)  # 4 gates of 5 units
    gru = cost_of((7, 3), keras.layers.GRU(4))
    assert gru.forward_flops == 7 * 2 * (3 * 12 + 4 * 12)  # 3 gates of 4 units


def test_attention_and_encoder_flops():
    inputs = keras.Input((10, 8))
    attention = flops.estimate(keras.Model(
        inputs, keras.layers.MultiHeadAttention(2, key_dim=4)(inputs, inputs)))
    projections = 4 * 2 * 10 * 8 * 8  # query, key, value, output: 10 positions, 8 -> 2x4
    scores_and_sum = 2 * 10 * 10 * 2 * (4 + 4)
    assert attention.forward_flops == projections + scores_and_sum
    encoder = cost_of((10, 8), TransformerEncoder(embed_dim=8, num_heads=2, ff_dim=16))
    assert encoder.forward_flops == projections + scores_and_sum + 2 * (2 * 10 * 8 * 16)


@pytest.mark.parametrize("name", sorted(dryrun.SKLEARN_SHAPES))
def test_sklearn_table_matches_the_real_data(name):
    data_config = DataConfig(source="sklearn", name=name)
    table_spec, table_target = dryrun.spec_without_download(data_config, 0)
    bundle = data.load(data_config, 0)
    assert (table_spec.kind, tuple(table_spec.shape)) == \
        (bundle.input_spec.kind, tuple(bundle.input_spec.shape))
    # Regression statistics need the data; the dry run only knows the kind of target.
    assert (table_target.task, table_target.class_names) == \
        (bundle.target.task, bundle.target.class_names)


def fake_load_data(shape, classes):
    def load_data():
        rng = np.random.default_rng(0)
        return tuple((rng.integers(0, 256, (count, *shape), dtype=np.uint8),
                      rng.integers(0, classes, count)) for count in (30, 10))
    return load_data


@pytest.mark.parametrize("name, shape, classes", [
    ("mnist", (28, 28), 10), ("fashion_mnist", (28, 28), 10), ("cifar10", (32, 32, 3), 10),
    ("cifar100", (32, 32, 3), 100)])
def test_keras_table_matches_the_loader(monkeypatch, name, shape, classes):
    monkeypatch.setattr(getattr(keras.datasets, name), "load_data", fake_load_data(shape, classes))
    data_config = DataConfig(source="keras", name=name)
    spec, target = dryrun.spec_without_download(data_config, 0)
    bundle = data.load(data_config, 0)
    assert tuple(spec.shape) == tuple(bundle.input_spec.shape) and spec.kind == "image"
    assert target == bundle.target


def test_keras_text_spec_has_the_configured_vocabulary():
    spec, target = dryrun.spec_without_download(
        DataConfig(source="keras", name="imdb", vocab_size=1000, sequence_length=64), 0)
    assert (spec.kind, spec.dtype, spec.sequence_length) == ("text", "string", 64)
    assert spec.vocab_size == 1000 and len(spec.vocabulary) == 998  # + padding and unknown
    assert target.class_names == ["negative", "positive"] and target.task == "binary"


def test_tfds_needs_a_prepared_dataset(tmp_path, monkeypatch):
    data_config = DataConfig(source="tfds", name="mnist", data_dir=str(tmp_path))
    with pytest.raises(DataError) as caught:
        dryrun.spec_without_download(data_config, 0)
    assert "'mnist' is not prepared in" in str(caught.value)
    assert "never downloads" in str(caught.value) and "\n" not in str(caught.value)
    monkeypatch.setattr(tfds.core.DatasetBuilder, "is_prepared", lambda self: True)
    spec, target = dryrun.spec_without_download(data_config, 0)
    assert (spec.kind, tuple(spec.shape)) == ("image", (28, 28, 1))
    assert target.class_names == [str(digit) for digit in range(10)]


def test_dry_run_builds_and_steps_the_real_model():
    loaded = config.load(CONFIGS / "smoke" / "mlp.yaml")
    report = dryrun.dry_run(loaded)
    bundle = data.load(loaded.data, loaded.seed)  # the real iris data, for comparison
    real = models.build_model(bundle.input_spec, bundle.target, loaded.model)
    assert report["parameters"] == real.count_params() == 4 * 16 + 16 + 16 * 3 + 3
    assert report["replicas"] == 1 and report["precision"] == "float32"
    assert report["forward_flops"] == 2 * (4 * 16 + 16 * 3)
    assert np.isfinite(report["loss"]) and report["loss"] > 0
    memory = report["memory"]
    assert memory["gradients"] == 4 * report["trainable_parameters"]  # float32
    assert memory["optimizer"] >= 2 * memory["gradients"]  # adam: two slots per weight
    # Kept per example: normalized features, hidden layer, head; x batch 16 x float32 bytes.
    assert memory["activations"] == (4 + 16 + 3) * 16 * 4
    assert memory["total"] == sum(value for key, value in memory.items() if key != "total")


def test_dry_run_of_a_csv_config_feeds_one_input_per_column(tmp_path):
    rows = "".join(f"{age},{'red' if age % 2 else 'blue'},a few words,"
                   f"{'yes' if age > 40 else 'no'}\n" for age in range(20, 80, 3))
    (tmp_path / "people.csv").write_text("age,color,note,label\n" + rows)
    path = tmp_path / "c.yaml"
    path.write_text(f"data: {{source: csv, path: {tmp_path / 'people.csv'}, label_column: label,"
                    " batch_size: 8}\nmodel: {family: mlp, hidden_units: [8]}\n")
    report = dryrun.dry_run(config.load(path))
    assert report["input"].startswith("table") and report["task"] == "binary"
    assert np.isfinite(report["loss"])


def test_a_csv_starter_with_its_placeholders_filled_in_builds_and_steps(tmp_path):
    from bigmodel_cli.config.starter import starter_config

    rows = "".join(f"{value},{value % 3}\n" for value in range(30))
    (tmp_path / "numbers.csv").write_text("value,label\n" + rows)
    text = starter_config(source="csv").replace("path/to/data.csv", str(tmp_path / "numbers.csv"))
    path = tmp_path / "starter.yaml"
    path.write_text(text)
    report = dryrun.dry_run(config.load(path))
    assert report["task"] == "multiclass" and np.isfinite(report["loss"])


def test_dry_run_reports_a_family_that_cannot_read_the_data(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("data: {source: sklearn, name: iris}\nmodel: {family: cnn}\n")
    with pytest.raises(ConfigError, match="model family 'cnn' needs image, tokens or text"):
        dryrun.dry_run(config.load(path))


def test_dry_run_on_the_command_line_with_two_replicas():
    smoke = CONFIGS / "smoke"
    result = bigmodel("config", "validate", "--dry-run", smoke / "mlp.yaml",
                      smoke / "transformer.yaml", "--set", "distribute.cpu_devices=2")
    assert result.returncode == 0, result.stderr
    lines = [" ".join(line.split()) for line in result.stdout.splitlines()]
    assert lines[0] == f"OK {smoke / 'mlp.yaml'}"
    assert "strategy MirroredStrategy, 2 replica(s), global batch 16, float32" in lines
    assert "parameters 131 (131 trainable)" in lines
    assert "FLOPs 224 FLOPs per example forward, 672 FLOPs forward+backward" in lines
    assert any(line.startswith("memory ~") and "(8 examples)" in line for line in lines)
    assert f"OK {smoke / 'transformer.yaml'}" in lines  # raw strings through the real model
    assert "input text () string, task multiclass" in lines
