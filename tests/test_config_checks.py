"""Names checked without TensorFlow: data keyed on its source, dataset and tfds split names,
optimizer arguments, monitors; and the monitors checked again before the first step."""

from __future__ import annotations

import json
import textwrap

import numpy as np
import pytest
from cli_runner import bigmodel

from bigmodel_cli import config
from bigmodel_cli.config import checks as config_checks
from bigmodel_cli.config import schema
from bigmodel_cli.errors import ConfigError

MODEL = "model:\n  family: mlp\n"


def error_of(tmp_path, text: str) -> str:
    path = tmp_path / "c.yaml"
    path.write_text(textwrap.dedent(text))
    with pytest.raises(ConfigError) as caught:
        config.load(path)
    return str(caught.value).replace(f"{path}:", "")


def loads(tmp_path, text: str):
    path = tmp_path / "c.yaml"
    path.write_text(textwrap.dedent(text))
    return config.load(path)


# --- data is keyed on source --------------------------------------------------------------

@pytest.mark.parametrize("source, key, value, takers", [
    ("sklearn", "x_key", "features", "npz"),
    ("sklearn", "path", "data.csv", "image_folder or text_folder or csv or npz or text_corpus"),
    ("csv", "image_size", "[8, 8]", "image_folder"),
    ("image_folder", "label_column", "y", "csv"),
    ("keras", "data_dir", "/tmp", "tfds"),
    ("tfds", "num_classes", "3", "synthetic"),
])
def test_a_key_of_another_source_is_an_error_at_its_line(tmp_path, source, key, value, takers):
    identity = {"sklearn": "name: iris", "keras": "name: mnist", "tfds": "name: mnist",
                "csv": "path: a.csv\n  label_column: y", "image_folder": "path: photos"}
    message = error_of(tmp_path, f"data:\n  source: {source}\n  {identity[source]}\n"
                                 f"  {key}: {value}\n" + MODEL)
    line = 4 + identity[source].count("\n")
    assert message.startswith(f"{line}:"), message
    assert f"data.{key}: '{key}' is not used with data.source {source}, only with {takers}; " \
           "remove it or change data.source" in message


def test_a_typo_in_a_data_key_still_gets_the_closest_key(tmp_path):
    message = error_of(tmp_path, "data:\n  source: sklearn\n  name: iris\n  batch_sise: 8\n"
                       + MODEL)
    assert message == "4:15: data.batch_sise: unknown key 'batch_sise'; did you mean 'batch_size'?"


def test_an_unknown_source_suggests_the_closest(tmp_path):
    message = error_of(tmp_path, "data:\n  source: skleran\n  name: iris\n" + MODEL)
    assert message.startswith("2:11: data.source: unknown data source 'skleran'; did you mean "
                              "'sklearn'? known: csv, image_folder, keras, npz")


def test_data_without_source_is_synthetic(tmp_path):
    assert loads(tmp_path, "data:\n  kind: image\n" + MODEL).data.source == "synthetic"


def test_shared_code_reads_every_data_key_of_every_source():
    """The pipeline and the runner read keys by name whatever the source: a key the source
    does not take reads as its default."""
    minimal = {"synthetic": {}, "sklearn": {"name": "iris"}, "keras": {"name": "mnist"},
               "tfds": {"name": "mnist"}, "image_folder": {"path": "p"},
               "text_folder": {"path": "p"}, "csv": {"path": "p", "label_column": "y"},
               "npz": {"path": "p"}}
    every_key = {key for data_class in schema.DATA_CLASSES.values()
                 for key in data_class.model_fields}
    for source, settings in minimal.items():
        data = schema.DataConfig(source=source, **settings)
        for key in every_key:
            getattr(data, key)
        assert data.source == source
        if source != "npz":
            assert data.x_key is None
        if source != "image_folder":
            assert data.image_size == "auto" and data.cache == "auto"
        assert not hasattr(data, "no_such_setting")
    assert schema.DataConfig(source="csv", path="p", label_column="y").augment.flip == "none"


@pytest.mark.parametrize("source, name, message", [
    ("sklearn", "irsi", "data.name: unknown scikit-learn dataset 'irsi'; did you mean 'iris'?"),
    ("sklearn", "mnist", "unknown scikit-learn dataset 'mnist'; known: breast_cancer, "
                         "diabetes, digits, iris, wine ('mnist' is a keras dataset: set "
                         "data.source: keras)"),
    ("keras", "mnsit", "data.name: unknown keras dataset 'mnsit'; did you mean 'mnist'?"),
    ("keras", "digits", "('digits' is a scikit-learn dataset: set data.source: sklearn)"),
])
def test_dataset_names_are_checked(tmp_path, source, name, message):
    text = f"data:\n  source: {source}\n  name: {name}\n" + MODEL
    result = error_of(tmp_path, text)
    assert result.startswith("3:") and message in result, result


def prepare_tfds(root, name="mnist", version="3.0.1", splits=("train", "test")):
    """The files tfds leaves in a data_dir after preparing a dataset (as far as we read)."""
    folder = root / name / version
    folder.mkdir(parents=True)
    (folder / "dataset_info.json").write_text(json.dumps(
        {"name": name, "version": version, "splits": [{"name": split} for split in splits]}))


def test_tfds_split_names_are_checked_when_the_dataset_is_prepared(tmp_path):
    prepare_tfds(tmp_path / "tfds")
    prepare_tfds(tmp_path / "tfds", version="1.0.0", splits=("only",))  # older: not used
    text = (f"data:\n  source: tfds\n  name: mnist\n  data_dir: {tmp_path / 'tfds'}\n"
            "  splits:\n    train: train[:90%]\n    validation: valid\n" + MODEL)
    message = error_of(tmp_path, text)
    assert message.startswith("7:17: data.splits.validation: tfds dataset 'mnist' (prepared in "
                              f"{tmp_path / 'tfds' / 'mnist' / '3.0.1'}) has no split 'valid' "
                              "(its splits: train, test); or set data.splits.validation: null")
    fixed = text.replace("valid\n", "test[:50%]\n").replace("    train: train[:90%]\n", "")
    assert loads(tmp_path, fixed.replace("data:", "data:", 1)).data.splits.validation == \
        "test[:50%]"
    # Not prepared (or another data_dir): tfds knows its splits only once it downloads.
    assert loads(tmp_path, text.replace("name: mnist", "name: fashion_mnist")).data.name == \
        "fashion_mnist"


# --- optimizer arguments ------------------------------------------------------------------

@pytest.mark.parametrize("optimizer, args, message", [
    ("sgd", "{momentun: 0.9}", "optimizer.args.momentun: 'sgd' takes no argument 'momentun'; "
                               "did you mean 'momentum'? (accepted: momentum, nesterov, "),
    ("sgd", "{beta_1: 0.9}", "optimizer.args.beta_1: 'sgd' takes no argument 'beta_1'"),
    ("adam", "{learning_rate: 0.1}", "optimizer.args.learning_rate: set "
                                     "optimizer.learning_rate (and optimizer.schedule) instead"),
    ("lamb", "{beta1: 0.9}", "did you mean 'beta_1'?"),
])
def test_optimizer_argument_names_are_checked(tmp_path, optimizer, args, message):
    text = f"data:\n  source: synthetic\n{MODEL}optimizer:\n  name: {optimizer}\n  args: {args}\n"
    result = error_of(tmp_path, text)
    assert result.startswith("7:") and message in result, result


def test_optimizer_arguments_that_the_config_sets_elsewhere(tmp_path):
    text = ("data: {source: synthetic}\nmodel: {family: mlp}\n"
            "optimizer: {name: adamw, args: {use_ema: true, beta_1: 0.8}}\n"
            "training: {ema: 0.99}\n")
    assert error_of(tmp_path, text) == "3:42: optimizer.args.use_ema: set by training.ema " \
                                       "already; remove it from optimizer.args"
    assert loads(tmp_path, text.replace("training: {ema: 0.99}\n", "")).optimizer.args == \
        {"use_ema": True, "beta_1": 0.8}


def test_the_optimizer_table_is_keras_own():
    import inspect

    import keras

    from bigmodel_cli.config.known_names import OPTIMIZERS, optimizer_keywords
    from bigmodel_cli.train import optimizer as optim

    assert set(schema.OPTIMIZERS) == set(OPTIMIZERS)
    for name, entry in OPTIMIZERS.items():
        optimizer_class = getattr(keras.optimizers, entry.class_name)
        keywords = set(inspect.signature(optimizer_class.__init__).parameters) - {"self",
                                                                                 "kwargs"}
        assert set(optimizer_keywords(name)) == keywords, name
        built = optim.build_optimizer(schema.OptimizerConfig(name=name), total_steps=10)
        assert type(built) is optimizer_class  # lamb too, which keras.optimizers.get refuses


# --- monitors -----------------------------------------------------------------------------

@pytest.mark.parametrize("data, where, monitor, message", [
    ("{source: synthetic}", "checkpoint: {monitor: val_los}", "val_los",
     "did you mean 'val_loss'? (it logs: loss, accuracy, val_loss, val_accuracy)"),
    ("{source: synthetic}", "checkpoint: {monitor: val_acc}", "val_acc",
     "did you mean 'val_accuracy'?"),
    ("{source: sklearn, name: diabetes}", "training: {early_stopping: {monitor: val_accuracy}}",
     "val_accuracy", "(it logs: loss, mae, val_loss, val_mae)"),
    ("{source: synthetic, num_classes: 1}", "checkpoint: {monitor: accuracy}", "accuracy",
     "(it logs: loss, mae, val_loss, val_mae)"),
    ("{source: npz, path: a.npz}", "checkpoint: {monitor: val_f1}", "val_f1",
     "(it logs: loss, accuracy, mae, val_loss, val_accuracy, val_mae)"),
])
def test_a_monitor_must_name_a_logged_metric(tmp_path, data, where, monitor, message):
    result = error_of(tmp_path, f"data: {data}\nmodel: {{family: mlp}}\n{where}\n")
    key = "checkpoint.monitor" if where.startswith("checkpoint") else \
        "training.early_stopping.monitor"
    assert result.startswith("3:") and f"{key}: '{monitor}' is not a metric this run logs" \
        in result and message in result, result


@pytest.mark.parametrize("text", [
    "data: {source: synthetic}\nmodel: {family: mlp}\ncheckpoint: {monitor: val_accuracy}\n",
    "data: {source: sklearn, name: diabetes}\nmodel: {family: mlp}\n"
    "checkpoint: {monitor: mae}\ntraining: {early_stopping: {monitor: loss}}\n",
    "data: {source: npz, path: a.npz}\nmodel: {family: mlp, task: regression}\n"
    "checkpoint: {monitor: val_mae}\n",
])
def test_monitors_of_logged_metrics_validate(tmp_path, text):
    loads(tmp_path, text)


def test_the_metrics_of_each_task_are_what_the_model_compiles():
    import keras

    from bigmodel_cli import tasks
    from bigmodel_cli.data.spec import TargetSpec

    for task, metrics in config_checks.TASK_METRICS.items():
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
        target = TargetSpec(task, ["a", "b"])
        model.compile(optimizer="sgd", **tasks.get(task).compile_arguments(target))
        assert config_checks.metric_names(model) == ["loss", *metrics], task


def test_training_refuses_a_monitor_the_model_does_not_log_before_the_first_step(tmp_path):
    """Regression labels from an npz: a config cannot tell the task, the compiled model can."""
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "r.npz", x=rng.normal(size=(40, 3)), y=rng.normal(size=40))
    path = tmp_path / "c.yaml"
    path.write_text(f"data: {{source: npz, path: {tmp_path / 'r.npz'}, batch_size: 8}}\n"
                    "model: {family: mlp, hidden_units: [4]}\n"
                    "checkpoint: {monitor: val_accuracy}\n"
                    "training: {epochs: 1, tensorboard: false}\n")
    assert bigmodel("config", "validate", path).returncode == 0  # the task is not known yet
    run = tmp_path / "run"
    result = bigmodel("train", path, "--run-dir", run)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "checkpoint.monitor: 'val_accuracy' is not a metric this run logs (it logs: loss, " \
           "mae, val_loss, val_mae)" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (run / "metrics.jsonl").exists() and not list(run.glob("checkpoints/*.keras"))


def test_check_monitors_lists_every_bad_monitor():
    loaded = schema.Config.model_validate({
        "name": "t", "data": {"source": "npz", "path": "a.npz"}, "model": {"family": "mlp"},
        "checkpoint": {"monitor": "val_accuracy"},
        "training": {"early_stopping": {"monitor": "accuracy"}}})
    config_checks.check_monitors(loaded, ["loss", "accuracy"])
    with pytest.raises(ConfigError) as caught:
        config_checks.check_monitors(loaded, ["loss", "mae"])
    assert str(caught.value).count("is not a metric this run logs") == 2


# --- run directories written before data was keyed on source ------------------------------

OLD_RUN_CONFIG = """\
name: smoke_mlp
data:
  source: sklearn
  name: iris
  batch_size: 16
  validation_split: 0.1
  test_split: 0.2
  shuffle_buffer: 10000
  cache: memory
  deterministic: true
  max_examples: null
  path: null
  classes: null
  on_bad_file: fail
  image_size: [256, 256]
  color_mode: rgb
  augment: {flip: none, rotation: 0.0, zoom: 0.0, translation: 0.0, contrast: 0.0,
    crop: 0}
  label_column: null
  label_type: auto
  columns: null
  header: true
  column_names: null
  delimiter: ','
  categorical_encoding: one_hot
  embedding_dim: 8
  x_key: null
  y_key: null
  kind: vector
  input_shape: null
  num_classes: 10
  num_examples: 512
  vocab_size: null
  sequence_length: null
  standardize: lower_and_strip_punctuation
  splits: {train: train, validation: null, test: test}
  data_dir: null
model:
  family: mlp
"""


def test_a_run_config_written_with_every_data_key_still_loads(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(OLD_RUN_CONFIG)
    loaded = config.load_saved(path)
    assert loaded.data.name == "iris" and loaded.data.batch_size == 16
    with pytest.raises(ConfigError, match="data.path: 'path' is not used with data.source"):
        config.load(path)  # a file the user wrote must be exact
    path.write_text(OLD_RUN_CONFIG.replace("x_key: null", "x_key: features"))
    with pytest.raises(ConfigError, match="data.x_key: 'x_key' is not used"):
        config.load_saved(path)  # a setting that changed something is not dropped
