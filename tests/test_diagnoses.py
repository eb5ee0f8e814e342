"""Diagnoses that tell the truth: data that changed under a run is named before metrics are
computed, bad values and files are called what they are, and the native image decoders speak
only through bigmodel's own lines (their raw output only with --verbose)."""

from __future__ import annotations

import io
import os
import shutil

import numpy as np
import pytest
import tensorflow as tf
from cli_runner import bigmodel
from rich.console import Console
from test_data_csv import people, write_csv
from test_data_folders import image_folder, text_folder, write_png

from bigmodel_cli import data
from bigmodel_cli.config.schema import Config, DataConfig
from bigmodel_cli.data import images
from bigmodel_cli.data.spec import ColumnSpec, InputSpec, TargetSpec, differences
from bigmodel_cli.errors import ConfigError, DataError, RunError, UsageError
from bigmodel_cli.predict import inference
from bigmodel_cli.predict.inputs import read_inputs
from bigmodel_cli.runs import RunDir
from bigmodel_cli.train import runner
from bigmodel_cli.train.checkpoints import load_checkpoint

TINY = {"epochs": 1, "tensorboard": False}
MLP = {"family": "mlp", "hidden_units": [4]}


def train(run_dir, data_settings):
    config = Config.model_validate({"name": run_dir.name, "seed": 0, "data": data_settings,
                                    "model": MLP, "training": TINY})
    runner.train(config, run_dir, Console(file=io.StringIO(), width=200))
    return run_dir


def copy_run(run_dir, data_path, tmp_path):
    """A copy of a run and of its data, the copy's config pointing at the copied data."""
    copied_data = tmp_path / ("data" + data_path.suffix)
    (shutil.copytree if data_path.is_dir() else shutil.copy)(data_path, copied_data)
    copied_run = tmp_path / "run"
    shutil.copytree(run_dir, copied_run)
    config = copied_run / "config.yaml"
    config.write_text(config.read_text().replace(str(data_path), str(copied_data)))
    return copied_run, copied_data


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("trained")
    photos = image_folder(root / "photos", count=6, size=(8, 8))
    table = write_csv(root / "people.csv", people(40))
    rng = np.random.default_rng(0)
    np.savez(root / "named.npz", x=rng.normal(size=(40, 3)).astype(np.float32),
             y=np.arange(40) % 3, class_names=np.array(["ant", "bee", "cow"]))
    return {
        "image": (train(root / "image_run", {"source": "image_folder", "path": str(photos),
                                             "image_size": [8, 8], "batch_size": 8}), photos),
        "csv": (train(root / "csv_run", {"source": "csv", "path": str(table),
                                         "label_column": "label", "batch_size": 8}), table),
        "npz": (train(root / "npz_run", {"source": "npz", "path": str(root / "named.npz"),
                                         "batch_size": 8}), root / "named.npz"),
    }


# --- item 3: evaluate checks the data against the run's spec.json ------------------------------

def test_evaluate_on_unchanged_data_runs(runs, tmp_path):
    run_dir, photos = copy_run(*runs["image"], tmp_path)
    metrics = inference.evaluate(run_dir)
    assert metrics["split"] == "test" and 0 <= metrics["accuracy"] <= 1


def test_evaluate_refuses_a_class_folder_added(runs, tmp_path):
    run_dir, photos = copy_run(*runs["image"], tmp_path)
    shutil.copytree(photos / "cat", photos / "bird")
    result = bigmodel("evaluate", run_dir)
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {photos}: the data is not what "
                                                   "this run was trained on")
    assert "class(es) bird added (classes now bird, cat, dog; trained on cat, dog)" in lines[0]
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_evaluate_refuses_a_class_folder_removed_or_renamed(runs, tmp_path):
    run_dir, photos = copy_run(*runs["image"], tmp_path)
    (photos / "cat").rename(photos / "kitten")
    with pytest.raises(DataError, match=r"class\(es\) kitten added; class\(es\) cat missing"):
        inference.evaluate(run_dir)


def test_evaluate_refuses_a_changed_csv_header(runs, tmp_path):
    run_dir, table = copy_run(*runs["csv"], tmp_path)
    table.write_text(table.read_text().replace("age,city,note", "years,city,note", 1))
    with pytest.raises(DataError, match=r"column\(s\) years added; column\(s\) age missing"):
        inference.evaluate(run_dir)


def test_evaluate_refuses_classes_in_another_order(runs, tmp_path):
    run_dir, archive = copy_run(*runs["npz"], tmp_path)
    with np.load(archive) as arrays:
        renamed = {**arrays, "class_names": np.array(["bee", "ant", "cow"])}
    np.savez(archive, **renamed)
    with pytest.raises(DataError, match=r"classes in another order \(bee, ant, cow; trained "
                                        r"as ant, bee, cow\)"):
        inference.evaluate(run_dir)


def test_evaluate_warns_when_split_sizes_changed(runs, tmp_path, capsys):
    run_dir, photos = copy_run(*runs["image"], tmp_path)
    for index in range(6, 9):
        shutil.copy(photos / "cat" / "0.png", photos / "cat" / f"{index}.png")
    inference.evaluate(run_dir)
    assert "warning: the data now has train" in capsys.readouterr().err


def test_differences_in_shape_pixel_range_tokens_and_column_types():
    target = TargetSpec(task="binary", class_names=["a", "b"])
    image = InputSpec(kind="image", shape=(8, 8, 3), dtype="float32", scale=1 / 255)
    assert differences(image, target, image, target) == []
    assert differences(image, target, InputSpec(kind="image", shape=(8, 8, 1), dtype="float32",
                                                scale=1.0), target) == [
        "input shape (8, 8, 1), trained on (8, 8, 3)",
        "pixels now in [0, 1], the model expects [0, 255]"]
    tokens = InputSpec(kind="tokens", shape=(5,), dtype="int32", vocab_size=10)
    grown = InputSpec(kind="tokens", shape=(5,), dtype="int32", vocab_size=12)
    assert differences(tokens, target, grown, target) == [
        "token ids now reach 11, the model knows 10 ids"]
    assert differences(grown, target, tokens, target) == []  # fewer ids fit the model
    table = InputSpec(kind="table", shape=(1,), dtype="table",
                      columns=[ColumnSpec(name="age", type="numeric")])
    retyped = InputSpec(kind="table", shape=(1,), dtype="table",
                        columns=[ColumnSpec(name="age", type="categorical")])
    assert differences(table, target, retyped, TargetSpec("regression")) == [
        "the task is now regression, it was binary", "class(es) a, b missing (classes now "
        "none; trained on a, b)", "column 'age' is now categorical, it was numeric"]


# --- item 11: bad values and files called what they are ----------------------------------------

def test_nan_in_npz_inputs_or_labels_is_bad_data_at_load(tmp_path):
    x = np.ones((20, 4), np.float32)
    x[5, 2] = np.nan
    x[7, 0] = np.inf
    np.savez(tmp_path / "nan.npz", x=x, y=np.arange(20) % 2)
    with pytest.raises(DataError, match=r"nan\.npz: array 'x' holds nan at index \[5, 2\] "
                                        r"\(example 5\), 1 more non-finite value\(s\); fill in"):
        data.load(DataConfig(source="npz", path=str(tmp_path / "nan.npz")), 0)
    targets = np.linspace(0, 1, 20)
    targets[3] = -np.inf
    np.savez(tmp_path / "nan.npz", x=np.ones((20, 4)), y=targets)
    with pytest.raises(DataError, match=r"array 'y' holds -inf at index \[3\];"):
        data.load(DataConfig(source="npz", path=str(tmp_path / "nan.npz")), 0)


def test_nan_in_csv_is_a_bad_row_not_a_category_or_a_class(tmp_path):
    table = tmp_path / "n.csv"
    table.write_text("a,b,label\n" + "".join(f"{index},{index % 3},{index / 4}\n"
                                             for index in range(20)).replace("3,0,", "nan,0,"))
    with pytest.raises(DataError, match=r"n\.csv:5: column 'a' holds 'nan', not a finite "
                                        "number; fill in the value or remove the row"):
        data.load(DataConfig(source="csv", path=str(table), label_column="label"), 0)
    table.write_text("a,label\n" + "".join(f"{index},{index / 4}\n" for index in range(20))
                     .replace(",1.25\n", ",inf\n"))
    with pytest.raises(DataError, match=r"n\.csv:7: column 'label' \(the label\) holds 'inf', "
                                        "not a finite number"):
        data.load(DataConfig(source="csv", path=str(table), label_column="label"), 0)
    bundle = data.load(DataConfig(source="csv", path=str(table), label_column="label",
                                  on_bad_file="skip"), 0)
    assert bundle.target.task == "regression" and bundle.skipped_names == [f"{table}:7"]


def saved(save, **arrays) -> bytes:
    buffer = io.BytesIO()
    save(buffer, **arrays)
    return buffer.getvalue()


@pytest.mark.parametrize("contents, message", [
    (b"hello, not an archive", r"not an npz archive \(the file starts with b'hello,"),
    (b"", r"not an npz archive \(the file is empty"),
    (saved(np.save, arr=np.ones(3)), r"a single \.npy array \(np\.save\), not an \.npz "
                                     "archive"),
    (saved(np.savez, x=np.ones(3))[:60], r"a damaged npz archive: cut short \(60 bytes"),
], ids=["text", "empty", "npy", "truncated"])
def test_a_file_that_is_not_an_npz_archive_says_so(tmp_path, contents, message):
    path = tmp_path / "d.npz"
    path.write_bytes(contents)
    with pytest.raises(DataError, match=message):
        data.load(DataConfig(source="npz", path=str(path)), 0)
    vector = InputSpec(kind="vector", shape=(3,), dtype="float32")
    with pytest.raises(UsageError, match=message):  # predict reads it the same way
        read_inputs([str(path)], vector)


def test_predict_inputs_with_nan_or_of_the_wrong_format(tmp_path):
    vector = InputSpec(kind="vector", shape=(3,), dtype="float32")
    np.save(tmp_path / "x.npy", np.array([[1, 2, 3], [4, np.nan, 6]], np.float32))
    with pytest.raises(UsageError, match=r"x\.npy holds nan at index \[1, 1\] \(example 1\)"):
        read_inputs([str(tmp_path / "x.npy")], vector)
    (tmp_path / "zipped.npy").write_bytes(saved(np.savez, x=np.ones(3)))
    with pytest.raises(UsageError, match=r"an \.npz archive \(np\.savez\), not a \.npy array"):
        read_inputs([str(tmp_path / "zipped.npy")], vector)


def test_a_truncated_keras_checkpoint_is_damaged_not_missing(tmp_path):
    best, last = tmp_path / "best.keras", tmp_path / "last.keras"
    best.write_bytes(b"PK\x03\x04" + bytes(500))
    last.write_bytes(b"")
    warnings = []
    with pytest.raises(RunError) as raised:
        load_checkpoint([best, last], False, warnings.append)
    assert warnings == [f"{best} is damaged: not a complete .keras archive (504 bytes; cut "
                        f"short by a full disk or an interrupted copy?); using {last}"]
    assert f"{last} is damaged: the file is empty" in str(raised.value)
    assert "not found" not in str(raised.value).lower()


def test_all_empty_text_files_name_the_folder(tmp_path):
    root = text_folder(tmp_path / "texts", {"neg": ["", " \n"], "pos": ["", ""]})
    with pytest.raises(DataError, match=f"{root}: all 4 text files of the train split are "
                                        "empty"):
        data.load(DataConfig(source="text_folder", path=str(root)), 0)
    text_folder(root, {"pos": ["good", "fine"]})
    with pytest.raises(DataError, match=f"{root / 'neg'}: all 2 text files of class 'neg' "
                                        r"\(train split\) are empty"):
        data.load(DataConfig(source="text_folder", path=str(root)), 0)


def test_a_file_or_folder_given_for_a_run_directory_says_what_it_is(runs, tmp_path):
    run_dir = runs["npz"][0]
    with pytest.raises(UsageError, match=f"{run_dir / 'spec.json'} is a file, not a run "
                                         f"directory; pass the folder that holds it: {run_dir}$"):
        RunDir(run_dir / "spec.json").require()
    (tmp_path / "mine.yaml").write_text("name: mine\n")
    with pytest.raises(UsageError, match=r"mine\.yaml is a file, not a run directory; a config "
                                         r"is trained with 'bigmodel train .*mine\.yaml'"):
        RunDir(tmp_path / "mine.yaml").require()
    with pytest.raises(UsageError, match=f"{run_dir.parent} is a folder of run directories, "
                                         "not one; pass one of them"):
        RunDir(run_dir.parent).require()
    with pytest.raises(UsageError, match="is a folder, but it is not a bigmodel run directory"):
        RunDir(tmp_path).require()
    with pytest.raises(UsageError, match="run directory not found"):
        RunDir(tmp_path / "nowhere").require()


def test_a_folder_or_file_given_for_an_input_says_what_it_is(tmp_path):
    text = InputSpec(kind="text", shape=(), dtype="string", vocabulary=["a"])
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(UsageError, match="pipe is not a regular file"):
        read_inputs([str(tmp_path / "pipe")], text)  # not a raw string to classify
    (tmp_path / "photos").write_text("a file")
    with pytest.raises(ConfigError, match=r"data.path: .*photos is a file; point it at the "
                                          "folder"):
        data.load(DataConfig(source="image_folder", path=str(tmp_path / "photos"),
                             image_size=[8, 8]), 0)
    with pytest.raises(ConfigError, match=f"data.path: {tmp_path} is a folder; give the .npz"):
        data.load(DataConfig(source="npz", path=str(tmp_path)), 0)


# --- item 13: the native decoders speak through bigmodel's lines -------------------------------

def jpeg(seed: int = 0) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (16, 16, 3)).astype(np.uint8)
    return tf.io.encode_jpeg(pixels).numpy()


def damaged_jpeg() -> bytes:
    """Decodes, but libjpeg writes "Corrupt JPEG data: ... extraneous bytes" to fd 2."""
    good = jpeg()
    middle = len(good) // 2
    return good[:middle] + bytes(10) + good[middle + 10:]


TRUNCATED_JPEG = b"\xff\xd8\xff\xe0 cut short"  # libjpeg: "Improper call to JPEG library"
NATIVE = ("Corrupt JPEG data", "JPEG library")


def bad_photos(root):
    # Enough images that every split keeps a readable one whichever way the cut falls.
    photos = image_folder(root / "photos", count=8, size=(8, 8))
    (photos / "dog" / "damaged.jpg").write_bytes(damaged_jpeg())
    (photos / "cat" / "truncated.jpg").write_bytes(TRUNCATED_JPEG)
    png = tf.io.encode_png(np.zeros((9, 9, 3), np.uint8)).numpy()
    (photos / "cat" / "corrupt.png").write_bytes(png[: len(png) // 2])
    config = root / "photos.yaml"
    config.write_text(f"name: photos\ndata:\n  source: image_folder\n  path: {photos}\n"
                      "  image_size: [8, 8]\n  batch_size: 4\nmodel:\n  family: mlp\n")
    return photos, config


def test_scan_names_files_the_decoder_calls_damaged(tmp_path, capfd):
    paths = []
    for index in range(40):
        path = tmp_path / f"{index:02d}.jpg"
        path.write_bytes({3: damaged_jpeg(), 29: damaged_jpeg(), 17: TRUNCATED_JPEG}.get(
            index, jpeg(index)))
        paths.append(str(path))
    scanned = images.scan(paths, (8, 8, 3), keep_pixels=True)
    assert scanned.failed == [17] and sorted(scanned.damaged) == [3, 29]
    assert scanned.damaged[3].startswith("Corrupt JPEG data:") and scanned.bad == [3, 17, 29]
    assert not any(text in capfd.readouterr().err for text in NATIVE)


@pytest.mark.parametrize("on_bad_file", ["fail", "skip"])
def test_decoder_messages_reach_the_terminal_only_through_bigmodel(tmp_path, on_bad_file):
    photos, config = bad_photos(tmp_path)
    result = bigmodel("data", "inspect", config, "--set", f"data.on_bad_file={on_bad_file}",
                      "--output", tmp_path / "grid.png")
    lines = result.stderr.strip().splitlines()
    assert all(line.startswith(("error:", "warning:")) for line in lines), result.stderr
    if on_bad_file == "fail":
        assert result.returncode == 1 and len(lines) == 1
        assert lines[0].startswith(f"error: {photos / 'cat' / 'corrupt.png'}: cannot read the "
                                   "image (") and "(2 more unreadable)" in lines[0]
    else:
        assert result.returncode == 0, result.stderr
        assert "skipped: 3 (cat/corrupt.png, cat/truncated.jpg, dog/damaged.jpg)" in result.stdout


@pytest.mark.parametrize("on_bad_file", ["fail", "skip"])
def test_a_split_of_only_unreadable_files_names_its_cause(tmp_path, on_bad_file):
    root = tmp_path / "photos"
    image_folder(root / "train", count=4, size=(8, 8))
    png = tf.io.encode_png(np.zeros((9, 9, 3), np.uint8)).numpy()
    (root / "validation" / "cat").mkdir(parents=True)
    (root / "validation" / "cat" / "corrupt.png").write_bytes(png[: len(png) // 2])
    config = DataConfig(source="image_folder", path=str(root), image_size=[8, 8], test_split=0,
                        splits={"validation": "validation", "test": None},
                        on_bad_file=on_bad_file)
    with pytest.raises(DataError) as error:
        data.load(config, 0).fill()
    if on_bad_file == "fail":  # the file, not the empty split it leaves
        assert str(error.value).startswith(f"{root / 'validation' / 'cat' / 'corrupt.png'}: "
                                           "cannot read the image (")
    else:
        assert str(error.value) == f"no readable image files for the validation split in {root}"


def test_verbose_shows_the_decoder_messages(tmp_path):
    _, config = bad_photos(tmp_path)
    result = bigmodel("data", "inspect", config, "--set", "data.on_bad_file=skip", "--verbose",
                      "--output", tmp_path / "grid.png")
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert any(line.startswith("Corrupt JPEG data:") for line in lines), result.stderr
    assert "Improper call to JPEG library" in result.stderr


def test_predict_names_a_damaged_image_without_the_decoder_noise(runs, tmp_path):
    (tmp_path / "damaged.jpg").write_bytes(damaged_jpeg())
    write_png(tmp_path / "fine.png", np.zeros((8, 8, 3)))
    result = bigmodel("predict", runs["image"][0], tmp_path / "fine.png",
                      tmp_path / "damaged.jpg")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        f"error: {tmp_path / 'damaged.jpg'}: the image is damaged (the decoder reports: "
        "Corrupt JPEG data: ") and lines[0].endswith("); replace it")


def test_extending_a_run_refuses_data_that_changed(runs, tmp_path):
    """A resumed or extended run trains on the data it was trained on, or not at all."""
    run_dir, photos = copy_run(*runs["image"], tmp_path)
    shutil.copytree(photos / "cat", photos / "bird")
    before = (run_dir / "spec.json").read_bytes()
    result = bigmodel("train", run_dir / "config.yaml", "--run-dir", run_dir, "--extend",
                      "--set", "training.epochs=3")
    assert result.returncode == 1, result.stderr
    assert "the data is not what this run was trained on" in result.stderr
    assert "class(es) bird added" in result.stderr and "--restart" in result.stderr
    assert (run_dir / "spec.json").read_bytes() == before  # nothing rewritten
