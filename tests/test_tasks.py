"""Tasks: each trains a tiny model from CSV rows, saves, reloads and predicts; regression comes
back in the data's units; multilabel end to end through the CLI; the language-modeling pieces
on tiny tensors; the one task check and the one list of task names."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest
from cli_runner import bigmodel

from bigmodel_cli import data, models, tasks
from bigmodel_cli.config.schema import DataConfig, MlpConfig
from bigmodel_cli.data.spec import TargetSpec
from bigmodel_cli.errors import ConfigError
from bigmodel_cli.predict import inference
from bigmodel_cli.predict.inputs import read_inputs
from bigmodel_cli.tasks import names

pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning")


def label_of(task: str, x1: float, x2: float) -> str:
    """The label column of a row: a rule of the two features, so a tiny model can learn it."""
    if task == "regression":
        return f"{300 + 50 * x1:.4f}"  # raw targets far from 0, in the data's units
    if task == "binary":
        return "yes" if x1 > 0 else "no"
    if task == "multiclass":
        return "low" if x1 < -0.5 else "high" if x1 > 0.5 else "mid"
    return "|".join(["a" if x1 > 0 else "c"] + (["b"] if x2 > 0 else []))  # multilabel


def write_rows(path, task: str, count: int, seed: int = 0):
    x = np.random.default_rng(seed).normal(size=(count, 2))
    lines = ["x1,x2,label"] + [f"{a:.4f},{b:.4f},{label_of(task, a, b)}" for a, b in x]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, x


@pytest.mark.parametrize("task", ["multiclass", "binary", "multilabel", "regression"])
def test_each_task_trains_saves_reloads_and_predicts(tmp_path, task):
    keras.utils.set_random_seed(0)
    path, _ = write_rows(tmp_path / "train.csv", task, 240)
    bundle = data.load(DataConfig(source="csv", path=str(path), label_column="label",
                                  batch_size=32), 0)
    target = bundle.target
    assert target.task == task
    # Regression: a linear model (no hidden layer) is enough for a linear target.
    config = MlpConfig(family="mlp", hidden_units=[] if task == "regression" else [16])
    chosen = tasks.resolve(target, config.task)
    model = models.build_model(bundle.input_spec, target, config)
    model.compile(optimizer=keras.optimizers.Adam(0.05), **chosen.compile_arguments(target))
    history = model.fit(bundle.train, validation_data=bundle.validation, epochs=15, verbose=0)
    assert set(chosen.metric_names) <= set(history.history)  # the names monitors are checked on
    model.save(tmp_path / "model.keras")
    reloaded = keras.models.load_model(tmp_path / "model.keras", safe_mode=True)

    rows_path, x = write_rows(tmp_path / "rows.csv", task, 6, seed=1)
    labels, batch = read_inputs([str(rows_path)], bundle.input_spec)
    outputs = np.asarray(reloaded.predict(batch, verbose=0))
    np.testing.assert_allclose(outputs, model.predict(batch, verbose=0), rtol=1e-5, atol=1e-5)
    rows = [chosen.format_row(label, output, target, 2)
            for label, output in zip(labels, outputs, strict=True)]
    assert [row["input"] for row in rows] == labels
    expected = [label_of(task, a, b) for a, b in x]
    if task == "regression":
        assert target.mean == pytest.approx(300, abs=15) and target.std == pytest.approx(50, rel=.2)
        values = np.array([row["value"] for row in rows])
        np.testing.assert_allclose(values, [float(text) for text in expected], atol=5.0)
        return
    for row in rows:
        assert len(row["top"]) == 2 and {guess["class"] for guess in row["top"]} <= set(
            target.class_names)
    if task == "multilabel":
        assert target.class_names == ["a", "b", "c"] and outputs.shape == (6, 3)
        decisions = [(name in row["labels"]) == (name in text.split("|"))
                     for row, text in zip(rows, expected, strict=True) for name in "abc"]
        assert sum(decisions) >= 15, decisions  # of 6 rows x 3 labels
    else:
        assert sum(row["top"][0]["class"] == e for row, e in zip(rows, expected, strict=True)) >= 5
    numbers = chosen.score(target, *everything(bundle.test, reloaded))
    assert numbers["loss"] > 0 and 0.5 <= numbers["accuracy"] <= 1.0
    assert set(numbers) >= {"loss", *chosen.metric_names}


def everything(dataset, model):
    batches = [(y.numpy(), model.predict_on_batch(x)) for x, y in dataset]
    return (np.concatenate([labels for labels, _ in batches]),
            np.concatenate([outputs for _, outputs in batches]))


def test_regression_statistics_come_from_train_and_are_kept_in_the_spec(tmp_path):
    path, _ = write_rows(tmp_path / "train.csv", "regression", 100)
    bundle = data.load(DataConfig(source="csv", path=str(path), label_column="label",
                                  test_split=0.2), 0)
    train_labels = bundle.labels["train"]
    assert bundle.target.mean == pytest.approx(float(train_labels.mean()), rel=1e-6)
    assert bundle.target.std == pytest.approx(float(train_labels.std()), rel=1e-6)
    assert TargetSpec.from_dict(json.loads(json.dumps(bundle.target.to_dict()))) == bundle.target


def test_old_spec_files_load_without_regression_statistics():
    old = {"task": "regression", "class_names": []}  # spec.json as runs wrote it before
    target = TargetSpec.from_dict(old)
    assert (target.mean, target.std) == (None, None)
    # ... and a model built for it predicts what its Dense unit says (mean 0, std 1).
    model = models.build_model(
        data.spec.InputSpec("vector", (2,), "float32", mean=[0.0, 0.0], variance=[1.0, 1.0]),
        target, MlpConfig(family="mlp", hidden_units=[]))
    x = np.ones((1, 2), "float32")
    assert model(x).numpy() == pytest.approx(model.get_layer("standardized")(x).numpy())


def test_multilabel_from_a_csv_end_to_end(tmp_path):
    path, _ = write_rows(tmp_path / "tags.csv", "multilabel", 200)
    config = tmp_path / "tags.yaml"
    config.write_text(f"name: tags\ndata:\n  source: csv\n  path: {path}\n  label_column: label\n"
                      "  batch_size: 16\nmodel:\n  family: mlp\n  hidden_units: [16]\n"
                      "optimizer:\n  learning_rate: 0.02\ntraining:\n  epochs: 4\n"
                      "  tensorboard: false\n", encoding="utf-8")
    run_dir = tmp_path / "run"
    trained = bigmodel("train", config, "--run-dir", run_dir)
    assert trained.returncode == 0, trained.stderr
    assert "task multilabel" in trained.stdout
    spec = json.loads((run_dir / "spec.json").read_text())["target"]
    assert spec["task"] == "multilabel" and spec["class_names"] == ["a", "b", "c"]

    evaluated = bigmodel("evaluate", run_dir, "--json")
    assert evaluated.returncode == 0, evaluated.stderr
    numbers = json.loads(evaluated.stdout)
    assert {"loss", "accuracy", "f1", "exact_match", "macro_f1"} <= set(numbers)
    test = json.loads((run_dir / "results.json").read_text())["test"]
    assert numbers["loss"] == pytest.approx(test["loss"], rel=1e-4)
    assert numbers["accuracy"] == pytest.approx(test["accuracy"], abs=1e-6)

    rows_path, x = write_rows(tmp_path / "rows.csv", "multilabel", 4, seed=3)
    predicted = bigmodel("predict", run_dir, rows_path, "--format", "jsonl", "--top-k", "3")
    assert predicted.returncode == 0, predicted.stderr
    rows = [json.loads(line) for line in predicted.stdout.splitlines()]
    assert len(rows) == 4
    for row in rows:
        assert set(row["labels"]) <= {"a", "b", "c"}
        # Each label its own yes-or-no: probabilities need not add up to one; labels are those
        # at 0.5 or more.
        assert row["labels"] == [guess["class"] for guess in row["top"]
                                 if guess["probability"] >= 0.5]
    as_csv = inference.format_rows(rows, "csv").splitlines()
    assert as_csv[0] == "input,rank,class,probability,predicted" and len(as_csv) == 1 + 4 * 3


# --- language modeling: the pieces the next issue wires in ------------------------------------

TOKENS = np.array([[5, 3, 2, 0, 0],
                   [1, 4, 4, 3, 0]], dtype=np.int32)  # 0 pads the end


def test_language_modeling_labels_are_the_inputs_shifted_by_one():
    inputs, labels = tasks.get("language_modeling").pairs(TOKENS)
    assert inputs.tolist() == [[5, 3, 2, 0], [1, 4, 4, 3]]
    assert labels.tolist() == [[3, 2, 0, 0], [4, 4, 3, 0]]


def manual_cross_entropy(labels, logits):
    log_probabilities = logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))
    return -np.take_along_axis(log_probabilities, labels[..., None], axis=-1)[..., 0]


def test_language_modeling_loss_is_per_real_token_with_padding_masked():
    task = tasks.get("language_modeling")
    target = TargetSpec("language_modeling", [f"t{index}" for index in range(6)])
    _, labels = task.pairs(TOKENS)
    logits = np.random.default_rng(0).normal(size=(*labels.shape, 6)).astype(np.float32)
    loss = task.loss(target)
    real = labels != 0
    expected = manual_cross_entropy(labels, logits)[real].mean()
    assert float(loss(labels, logits)) == pytest.approx(expected, rel=1e-5)
    changed = logits.copy()
    changed[~real] = 100.0  # what the model says at padded positions does not count
    assert float(loss(labels, changed)) == pytest.approx(expected, rel=1e-5)


def test_language_modeling_accuracy_and_perplexity_count_real_tokens_only():
    task = tasks.get("language_modeling")
    target = TargetSpec("language_modeling", [f"t{index}" for index in range(6)])
    labels = np.array([[3, 2, 0, 0], [4, 4, 3, 0]])
    logits = np.zeros((2, 4, 6), np.float32)  # uniform: perplexity is the vocabulary size
    logits[0, 0, 3] = logits[1, 0, 4] = logits[1, 1, 1] = 5.0  # 2 of the 5 real tokens right
    logits[0, 2:, 0] = 9.0  # "predicts" padding where padding is: still not counted
    metric = task.metrics(target)[0]
    metric.update_state(labels, logits)
    assert float(metric.result()) == pytest.approx(2 / 5)
    report = task.report(labels, logits)
    assert report["accuracy"] == pytest.approx(2 / 5)
    uniform = task.report(labels, np.zeros((2, 4, 6)))
    assert uniform["perplexity"] == pytest.approx(6.0)
    ce = manual_cross_entropy(labels, logits.astype(np.float64))[labels != 0].mean()
    assert report["perplexity"] == pytest.approx(np.exp(ce))


def test_language_modeling_head_and_compiled_model_survive_a_reload(tmp_path):
    task = tasks.get("language_modeling")
    target = TargetSpec("language_modeling", [f"t{index}" for index in range(6)])
    inputs = keras.Input((4,), dtype="int32")
    outputs = task.head(keras.layers.Embedding(6, 8)(inputs), target)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", **task.compile_arguments(target))
    x, y = task.pairs(TOKENS)
    model.fit(x, y, epochs=2, verbose=0)
    assert model.output_shape == (None, 4, 6)
    model.save(tmp_path / "lm.keras")
    reloaded = keras.models.load_model(tmp_path / "lm.keras", safe_mode=True)
    logs = reloaded.evaluate(x, y, return_dict=True, verbose=0)
    assert set(logs) == {"loss", "accuracy"} and np.isfinite(logs["loss"])


# --- one check, one list of names ------------------------------------------------------------

@pytest.mark.parametrize(("target", "requested", "message"), [
    (TargetSpec("multiclass", list("abcde")), "multilabel",
     "model.task 'multilabel' needs several labels per example .*, but the data has 5 classes; "
     "use task: multiclass \\(or auto\\)"),
    (TargetSpec("multilabel", list("abc")), "multiclass",
     "model.task 'multiclass' needs class labels .*, but the data has 3 labels, several per "
     "example; use task: multilabel"),
    (TargetSpec("multiclass", ["only"]), "auto",
     "model.task 'multiclass' needs class labels \\(at least 2 classes\\), but the data has 1 "
     "class; check the data's labels"),
])
def test_a_task_that_does_not_fit_the_data_is_one_clear_line(target, requested, message):
    with pytest.raises(ConfigError, match=message) as raised:
        tasks.resolve(target, requested)
    assert "\n" not in str(raised.value)


def test_task_names_come_from_one_place():
    assert tuple(tasks.TASKS) == names.TASK_NAMES
    assert set(names.METRICS) == set(names.TASK_NAMES)
    schema = MlpConfig.model_json_schema()["properties"]["task"]["enum"]
    assert tuple(schema) == names.CONFIG_CHOICES
    assert names.classification_task(2) == "binary" and names.classification_task(3) == \
        "multiclass"
    with pytest.raises(ConfigError, match="unknown task 'multilable'; did you mean 'multilabel'"):
        tasks.get("multilable")


@pytest.mark.parametrize(("data", "logged"), [
    ({"source": "csv", "path": "t.csv", "label_column": "tags", "label_type": "multilabel"},
     ["loss", "accuracy", "f1"]),
    ({"source": "csv", "path": "t.csv", "label_column": "tags"},
     ["loss", "accuracy", "mae", "f1"]),  # auto: the labels decide
    ({"source": "npz", "path": "t.npz"}, ["loss", "accuracy", "mae"]),  # never multilabel
])
def test_monitors_are_checked_against_the_tasks_metric_names(data, logged):
    from bigmodel_cli.config.checks import validate_time_metrics
    from bigmodel_cli.config.schema import Config

    config = Config.model_validate({"name": "t", "data": data, "model": {"family": "mlp"}})
    assert validate_time_metrics(config) == logged
