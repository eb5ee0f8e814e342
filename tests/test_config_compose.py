"""Composing configs: `base:` inheritance, `${env:NAME}` values, `--set`, and where each value
came from (`config show --origin`)."""

from __future__ import annotations

import textwrap

import pytest
from cli_runner import bigmodel

from bigmodel_cli import config
from bigmodel_cli.errors import ConfigError

PARENT = """\
name: parent
seed: 7
data:
  source: synthetic
  kind: image
  batch_size: 16
model:
  family: cnn
  filters: [8, 16]
  kernel_size: 5
training:
  epochs: 4
"""


def write(folder, name, text):
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def test_child_wins_mappings_merge_lists_replace(tmp_path):
    write(tmp_path, "shared/parent.yaml", PARENT)
    child = write(tmp_path, "experiments/small.yaml", """\
        base: ../shared/parent.yaml
        data:
          batch_size: 8
        model:
          filters: [4]
        """)
    loaded = config.load(child)
    assert loaded.name == "small"  # the name is never inherited: one run directory per file
    assert loaded.seed == 7 and loaded.data.kind == "image"
    assert loaded.data.batch_size == 8
    assert loaded.model.filters == [4] and loaded.model.kernel_size == 5
    assert loaded.training.epochs == 4


def test_later_bases_win_and_the_child_wins_over_all(tmp_path):
    write(tmp_path, "parent.yaml", PARENT)
    write(tmp_path, "long.yaml", "training:\n  epochs: 20\nseed: 1\n")
    child = write(tmp_path, "child.yaml", "base: [parent.yaml, long.yaml]\nseed: 3\n")
    loaded = config.load(child)
    assert (loaded.training.epochs, loaded.seed, loaded.model.filters) == (20, 3, [8, 16])


def test_a_shared_grandparent_is_not_a_cycle(tmp_path):
    write(tmp_path, "root.yaml", PARENT)
    write(tmp_path, "left.yaml", "base: root.yaml\nseed: 1\n")
    write(tmp_path, "right.yaml", "base: root.yaml\ntraining: {epochs: 9}\n")
    loaded = config.load(write(tmp_path, "child.yaml", "base: [left.yaml, right.yaml]\n"))
    assert (loaded.seed, loaded.training.epochs) == (7, 9)  # right re-sets root's seed


def test_a_cycle_names_the_whole_chain(tmp_path):
    write(tmp_path, "a.yaml", "base: b.yaml\n")
    write(tmp_path, "b.yaml", "seed: 1\nbase: c.yaml\n")
    write(tmp_path, "c.yaml", "base: a.yaml\n")
    with pytest.raises(ConfigError) as caught:
        config.load(tmp_path / "a.yaml")
    assert str(caught.value) == (
        f"{tmp_path}/c.yaml:1:7: base: cycle {tmp_path}/a.yaml -> {tmp_path}/b.yaml -> "
        f"{tmp_path}/c.yaml -> {tmp_path}/a.yaml; remove one of these base entries")


def test_changing_the_family_replaces_the_model_section(tmp_path):
    write(tmp_path, "parent.yaml", PARENT)
    child = write(tmp_path, "mlp.yaml", "base: parent.yaml\nmodel:\n  family: mlp\n")
    loaded = config.load(child)  # cnn's filters would be unknown keys for an mlp
    assert loaded.model.family == "mlp" and loaded.model.hidden_units == [64]


def test_errors_in_inherited_values_point_into_the_parent(tmp_path):
    write(tmp_path, "parent.yaml", PARENT.replace("kernel_size: 5", "kernel_size: -5"))
    child = write(tmp_path, "child.yaml", "base: parent.yaml\ntraining:\n  epochs: 0\n")
    with pytest.raises(ConfigError) as caught:
        config.load(child)
    assert str(caught.value).splitlines() == [
        f"{tmp_path}/parent.yaml:10:16: model.kernel_size: input should be greater than 0 "
        "(got -5)",
        f"{child}:3:11: training.epochs: input should be greater than 0 (got 0)",
    ]


def test_environment_values(tmp_path, monkeypatch):
    monkeypatch.setenv("BIGMODEL_TEST_BATCH", "64")
    monkeypatch.setenv("BIGMODEL_TEST_ROOT", "/data")
    monkeypatch.delenv("BIGMODEL_TEST_NEVER_SET", raising=False)
    path = write(tmp_path, "c.yaml", """\
        data:
          source: tfds
          name: mnist
          batch_size: ${env:BIGMODEL_TEST_BATCH}
          data_dir: ${env:BIGMODEL_TEST_ROOT}/tfds
          max_examples: ${env:BIGMODEL_TEST_NEVER_SET,100}
          splits: {validation: "${env:BIGMODEL_TEST_NEVER_SET,train[:10%]}"}
        model:
          family: mlp
          hidden_units: ${env:BIGMODEL_TEST_NEVER_SET,[32, 16]}
        """)
    loaded = config.load(path, ["data.name=${env:BIGMODEL_TEST_NEVER_SET,fashion_mnist}"])
    assert loaded.data.batch_size == 64 and loaded.data.data_dir == "/data/tfds"
    assert loaded.data.max_examples == 100 and loaded.data.splits.validation == "train[:10%]"
    assert loaded.model.hidden_units == [32, 16]  # a whole-value reference is read as YAML
    assert loaded.data.name == "fashion_mnist"


def test_a_missing_variable_names_file_line_and_variable(tmp_path, monkeypatch):
    monkeypatch.delenv("BIGMODEL_TEST_NEVER_SET", raising=False)
    path = write(tmp_path, "c.yaml",
                 "data:\n  source: synthetic\n  kind: ${env:BIGMODEL_TEST_NEVER_SET}\n")
    with pytest.raises(ConfigError) as caught:
        config.load(path)
    assert str(caught.value) == (
        f"{path}:3:9: data.kind: environment variable BIGMODEL_TEST_NEVER_SET is not set; "
        "set it or give a default: ${env:BIGMODEL_TEST_NEVER_SET,default}")


def test_set_indexes_lists_and_creates_sections(tmp_path):
    write(tmp_path, "parent.yaml", PARENT)
    loaded = config.load(tmp_path / "parent.yaml", [
        "model.filters.1=32", "training.early_stopping.patience=2"])
    assert loaded.model.filters == [8, 32]
    assert loaded.training.early_stopping.patience == 2


def test_origins_name_the_file_line_override_or_default(tmp_path):
    write(tmp_path, "parent.yaml", PARENT)
    child = write(tmp_path, "child.yaml", "base: parent.yaml\ndata:\n  batch_size: 8\n")
    raw, origins = config.resolve(child, ["training.early_stopping={patience: 2}"])
    shown = config.dump_with_origins(config.validate(raw, origins, str(child)), raw, origins)
    rows = {line.split("#")[0].strip(): line.split("# ")[1] for line in shown.splitlines()
            if "#" in line}
    assert rows["name: child"] == f"{child} (the file name)"
    assert rows["seed: 7"] == f"{tmp_path}/parent.yaml:2:7"
    assert rows["batch_size: 8"] == f"{child}:3:15"
    assert rows["filters: [8, 16]"] == f"{tmp_path}/parent.yaml:9:12"
    assert rows["patience: 2"] == "--set training.early_stopping={patience: 2}"
    assert rows["monitor: val_loss"] == "default"  # inside the override, but not set by it
    assert rows["global_pooling: false"] == "default"


def test_show_origin_on_the_command_line(tmp_path):
    write(tmp_path, "parent.yaml", PARENT)
    child = write(tmp_path, "child.yaml", "base: parent.yaml\n")
    result = bigmodel("config", "show", child, "--origin", "--set", "seed=5")
    assert result.returncode == 0, result.stderr
    lines = [" ".join(line.split()) for line in result.stdout.splitlines()]
    assert "seed: 5 # --set seed=5" in lines
    assert f"epochs: 4 # {tmp_path}/parent.yaml:12:11" in lines
    assert "steps_per_epoch: null # default" in lines
    plain = bigmodel("config", "show", child)
    assert plain.returncode == 0 and "#" not in plain.stdout and "epochs: 4" in plain.stdout


def test_a_base_name_with_a_line_break_is_one_error_line(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text('base: "0\\r"\ndata: {source: synthetic}\nmodel: {family: mlp}\n')
    with pytest.raises(ConfigError) as caught:
        config.load(path)
    assert str(caught.value).splitlines() == [
        f"{path}:1:7: base: file not found: {tmp_path / '0'}\\r (base paths are relative to "
        f"the folder of {path})"]
