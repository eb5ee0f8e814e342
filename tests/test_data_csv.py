"""The csv and npz sources: typed columns, statistics from train only, a model that takes raw
rows, and the errors for bad rows (file, line and column named)."""

from __future__ import annotations

import numpy as np
import pytest

from bigmodel_cli import data, models
from bigmodel_cli.config.schema import DataConfig, MlpConfig
from bigmodel_cli.data.spec import InputSpec
from bigmodel_cli.errors import ConfigError, DataError, UsageError
from bigmodel_cli.predict.inputs import read_inputs

COLUMNS = {"age": "numeric", "city": "categorical", "note": "text"}


def write_csv(path, rows, header=("age", "city", "note", "label"), delimiter=","):
    lines = ([delimiter.join(header)] if header else []) + [delimiter.join(map(str, row))
                                                             for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def people(count=40):
    cities = ["paris", "oslo", "rome"]
    return [(20 + index, cities[index % 3], f"likes {'tea' if index % 2 else 'coffee'}",
             "yes" if index % 2 else "no") for index in range(count)]


def csv_config(path, **settings):
    return DataConfig(source="csv", path=str(path), label_column="label", **settings)


def everything(dataset):
    batches = list(dataset)
    return ({name: np.concatenate([x[name].numpy() for x, _ in batches]) for name in batches[0][0]},
            np.concatenate([y.numpy() for _, y in batches]))


def test_csv_columns_typed_with_statistics_from_train(tmp_path):
    path = write_csv(tmp_path / "people.csv", people())
    bundle = data.load(csv_config(path, columns=COLUMNS, test_split=0.25), 0)
    assert bundle.sizes == {"train": 26, "validation": 4, "test": 10}
    assert bundle.target.class_names == ["no", "yes"]
    spec = bundle.input_spec
    age, city, note = spec.columns
    train_x, train_y = everything(bundle.train)
    assert age.type == "numeric" and age.mean == pytest.approx(train_x["age"].mean())
    assert age.variance == pytest.approx(train_x["age"].var(), rel=1e-5)
    assert sorted(city.vocabulary) == ["oslo", "paris", "rome"] and city.encoding == "one_hot"
    assert set(note.vocabulary) == {"likes", "tea", "coffee"}
    assert train_x["city"].dtype == object and train_x["age"].dtype == np.float32
    # The label travels with its row: odd ages say yes.
    assert np.array_equal(train_x["age"].astype(int) % 2, train_y)
    assert InputSpec.from_dict(spec.to_dict()) == spec


def test_csv_types_are_inferred_and_header_can_be_absent(tmp_path):
    path = write_csv(tmp_path / "people.tsv", people(), header=None, delimiter="\t")
    config = DataConfig(source="csv", path=str(path), label_column="answer", header=False,
                        delimiter="\t", column_names=["age", "city", "note", "answer"])
    spec = data.load(config, 0).input_spec
    assert [(column.name, column.type) for column in spec.columns] == [
        ("age", "numeric"), ("city", "categorical"), ("note", "categorical")]
    assert spec.column_names == ["age", "city", "note", "answer"] and spec.delimiter == "\t"


def test_csv_numeric_labels_are_classes_or_regression(tmp_path):
    rows = [(index, "a", "x", index % 3) for index in range(30)]
    bundle = data.load(csv_config(write_csv(tmp_path / "c.csv", rows)), 0)
    assert bundle.target.class_names == ["0", "1", "2"] and bundle.target.task == "multiclass"
    rows = [(index, "a", "x", index / 7) for index in range(30)]
    assert data.load(csv_config(write_csv(tmp_path / "r.csv", rows)), 0).target.task == \
        "regression"


def test_a_table_model_predicts_from_raw_csv_rows(tmp_path):
    bundle = data.load(csv_config(write_csv(tmp_path / "p.csv", people()), columns=COLUMNS,
                                  categorical_encoding="embedding"), 0)
    model = models.build_model(bundle.input_spec, bundle.target,
                               MlpConfig(family="mlp", hidden_units=[4]))
    # Columns in another order, the label column missing, a city never seen in training.
    rows = write_csv(tmp_path / "rows.csv", [("likes tea", "lima", 31), ("", "oslo", 20)],
                     header=("note", "city", "age"))
    labels, batch = read_inputs([str(rows)], bundle.input_spec)
    assert labels == [f"{rows}:2", f"{rows}:3"]  # the path as given, then the line
    assert batch["age"].tolist() == [31.0, 20.0] and batch["city"].tolist() == ["lima", "oslo"]
    predictions = model.predict(batch, verbose=0)
    assert predictions.shape == (2, 1) and np.all(np.isfinite(predictions))


@pytest.mark.parametrize("header, rows, message", [
    (("note", "age"), [("tea", 30)], r"rows\.csv: no column 'city'; this model takes CSV files "
                                     r"with a header row and the columns age, city, note"),
    (("age", "city", "note"), [("thirty", "oslo", "tea")],
     r"rows\.csv:2: column 'age' holds 'thirty', not a number"),
])
def test_predict_rows_that_do_not_fit_are_usage_errors(tmp_path, header, rows, message):
    spec = data.load(csv_config(write_csv(tmp_path / "p.csv", people()), columns=COLUMNS),
                     0).input_spec
    with pytest.raises(UsageError, match=message):
        read_inputs([str(write_csv(tmp_path / "rows.csv", rows, header=header))], spec)


@pytest.mark.parametrize("rows, message", [
    ([(20, "a", "x", "no"), ("twenty", "b", "y", "yes")],
     r"bad\.csv:3: column 'age' holds 'twenty', not a number; fix the row, or declare the "
     r"column categorical"),
    ([(20, "a", "x", "no"), (21, "b", "yes")], r"bad\.csv:3: 3 fields, but the header has 4"),
    ([(20, "a", "x", "no"), (21, "b", "y", "")], r"bad\.csv:3: column 'label' \(the label\) is "
                                                  r"empty"),
])
def test_bad_rows_are_named_or_skipped(tmp_path, rows, message):
    path = write_csv(tmp_path / "bad.csv", rows + people(10))
    with pytest.raises(DataError, match=message):
        data.load(csv_config(path, columns=COLUMNS), 0)
    bundle = data.load(csv_config(path, columns=COLUMNS, on_bad_file="skip"), 0)
    assert bundle.skipped == 1 and bundle.skipped_names[0].endswith("bad.csv:3")
    assert sum(bundle.sizes.values()) == 11


def test_missing_label_column_lists_the_columns(tmp_path):
    path = write_csv(tmp_path / "p.csv", people(), header=("age", "city", "note", "labels"))
    with pytest.raises(DataError, match=r"p\.csv: no column 'label' \(data.label_column\); did "
                                        r"you mean 'labels'\?; its columns: age, city"):
        data.load(csv_config(path), 0)


def test_mostly_numeric_column_with_a_typo_is_not_guessed_categorical(tmp_path):
    rows = people(30) + [("n/a", "oslo", "x", "yes")]
    with pytest.raises(DataError, match=r"p\.csv:32: column 'age' holds 'n/a', not a number"):
        data.load(csv_config(write_csv(tmp_path / "p.csv", rows)), 0)


def test_csv_config_mistakes(tmp_path):
    with pytest.raises(ConfigError, match="no CSV file at"):
        data.load(csv_config(tmp_path / "*.csv"), 0)
    path = write_csv(tmp_path / "p.csv", people())
    with pytest.raises(DataError, match=r"'agee'.*did you mean 'age'"):
        data.load(csv_config(path, columns={"agee": "numeric"}), 0)
    with pytest.raises(DataError, match="no feature columns besides the label 'label'"):
        data.load(csv_config(path, columns={}), 0)
    with pytest.raises(DataError, match="one class"):
        data.load(csv_config(write_csv(tmp_path / "one.csv", [(1, "a", "b", "x")] * 9)), 0)
    (tmp_path / "latin.csv").write_bytes(b"age,city,note,label\n1,z\xfcrich,x,no\n")
    with pytest.raises(DataError, match=r"latin\.csv:2: not UTF-8"):
        data.load(csv_config(tmp_path / "latin.csv"), 0)


# --- npz ------------------------------------------------------------------------------------

def test_npz_train_and_test_arrays_as_in_mnist_npz(tmp_path):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "digits.npz", x_train=rng.integers(0, 256, (30, 6, 6), dtype=np.uint8),
             y_train=np.arange(30) % 3, x_test=rng.integers(0, 256, (9, 6, 6), dtype=np.uint8),
             y_test=np.arange(9) % 3)
    bundle = data.load(DataConfig(source="npz", path=str(tmp_path / "digits.npz")), 0)
    assert bundle.sizes == {"train": 27, "validation": 3, "test": 9}
    assert bundle.input_spec.shape == (6, 6, 1) and bundle.target.class_names == ["0", "1", "2"]


def test_npz_named_keys_text_and_label_names(tmp_path):
    np.savez(tmp_path / "t.npz", reviews=np.array(["good film", "bad film"] * 10),
             stars=np.array([5, 1] * 10), class_names=np.array(["one", "five"]))
    with pytest.raises(DataError, match=r"no array 'x' \(data.x_key\); its arrays: reviews"):
        data.load(DataConfig(source="npz", path=str(tmp_path / "t.npz")), 0)
    config = DataConfig(source="npz", path=str(tmp_path / "t.npz"), x_key="reviews",
                        y_key="stars", validation_split=0, test_split=0)
    with pytest.raises(DataError, match="ids 0..1 to match its class_names"):
        data.load(config, 0)
    np.savez(tmp_path / "t.npz", reviews=np.array(["good film", "bad film"] * 10),
             stars=np.array([5, 1] * 10))
    bundle = data.load(config, 0)
    assert bundle.input_spec.kind == "text" and bundle.target.class_names == ["1", "5"]
    texts, labels = next(iter(bundle.train))
    assert all((text == b"good film") == (label == 1) for text, label in zip(
        texts.numpy(), labels.numpy(), strict=True))


def test_npz_float_images_in_unit_range_are_not_rescaled_again(tmp_path):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "f.npz", x=rng.random((20, 4, 4, 3)).astype(np.float32),
             y=np.arange(20) % 2)
    spec = data.load(DataConfig(source="npz", path=str(tmp_path / "f.npz")), 0).input_spec
    assert spec.kind == "image" and spec.scale == 1.0
