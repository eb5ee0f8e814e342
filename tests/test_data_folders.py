"""The image_folder and text_folder sources, on small folders the tests write, and their
bad-data errors: every one names the file or folder and says how to fix it."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from bigmodel_cli import data
from bigmodel_cli.config.schema import DataConfig
from bigmodel_cli.data import images
from bigmodel_cli.errors import ConfigError, DataError


def write_png(path, pixels) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(tf.io.encode_png(np.asarray(pixels, np.uint8)).numpy())


def image_folder(root, classes=("cat", "dog"), count=6, size=(10, 12)):
    """Each class a different brightness, so labels can be checked from pixels."""
    rng = np.random.default_rng(0)
    for label, name in enumerate(classes):
        for index in range(count):
            pixels = np.full((*size, 3), 40 + 150 * label) + rng.integers(0, 20, (*size, 3))
            write_png(root / name / f"{index}.png", pixels)
    return root


def text_folder(root, texts_by_class):
    for name, texts in texts_by_class.items():
        (root / name).mkdir(parents=True, exist_ok=True)
        for index, text in enumerate(texts):
            (root / name / f"{index}.txt").write_text(text, encoding="utf-8")
    return root


def image_config(root, **settings):
    return DataConfig(source="image_folder", path=str(root), image_size=[8, 8], **settings)


def everything(dataset):
    xs, ys = zip(*[(x.numpy(), y.numpy()) for x, y in dataset], strict=True)
    return np.concatenate(xs), np.concatenate(ys)


# --- image_folder -----------------------------------------------------------------------------

@pytest.mark.parametrize("cache", ["memory", False, "file"])
def test_image_folder_resizes_labels_and_splits(tmp_path, cache):
    root = image_folder(tmp_path / "photos", count=10)
    cache = str(tmp_path / "new" / "cache") if cache == "file" else cache
    bundle = data.load(image_config(root, cache=cache, validation_split=0.2, test_split=0.2,
                                    batch_size=4), 0)
    assert bundle.sizes == {"train": 12, "validation": 4, "test": 4}
    assert bundle.target.class_names == ["cat", "dog"] and bundle.target.task == "binary"
    spec = bundle.input_spec
    assert (spec.kind, spec.shape, spec.scale) == ("image", (8, 8, 3), pytest.approx(1 / 255))
    pixels, labels = everything(bundle.train)
    assert pixels.shape == (12, 8, 8, 3) and pixels.dtype == np.float32
    assert sorted(labels.tolist()) == [0] * 6 + [1] * 6
    # Pixels in [0, 255], each class at its own brightness: labels travel with their images.
    assert np.all((pixels.mean(axis=(1, 2, 3)) > 120) == (labels == 1))
    if isinstance(cache, str) and cache != "memory":  # a path: decoded pixels in files there
        assert len(list((tmp_path / "new").glob("cache.train-*.u8"))) == 1


def test_training_and_predict_decode_a_file_alike(tmp_path):
    root = image_folder(tmp_path / "photos", count=2)
    path = root / "cat" / "0.png"
    scanned = images.scan([str(path)], (5, 7, 1), keep_pixels=True)
    pixels = scanned.pixels
    assert scanned.bad == [] and pixels.shape == (1, 5, 7, 1)
    from bigmodel_cli.data.spec import InputSpec
    from bigmodel_cli.predict.inputs import read_inputs

    spec = InputSpec(kind="image", shape=(5, 7, 1), dtype="float32", scale=1 / 255)
    _, batch = read_inputs([str(path)], spec)
    assert np.array_equal(batch[0], pixels[0].astype(np.float32))


def test_split_folders_and_chosen_classes(tmp_path):
    root = tmp_path / "imdb_like"
    image_folder(root / "train", classes=("neg", "pos", "unsup"), count=4)
    image_folder(root / "test", classes=("neg", "pos"), count=3)
    (root / "README.txt").write_text("notes beside the folders are not examples")
    bundle = data.load(image_config(root, classes=["pos", "neg"], validation_split=0.25), 0)
    assert bundle.target.class_names == ["pos", "neg"]  # data.classes order is the label order
    assert bundle.sizes == {"train": 6, "validation": 2, "test": 6}


def test_grayscale_color_mode(tmp_path):
    bundle = data.load(image_config(image_folder(tmp_path / "p"), color_mode="grayscale"), 0)
    assert bundle.input_spec.shape == (8, 8, 1)


@pytest.mark.parametrize("on_bad_file", ["fail", "skip"])
def test_corrupt_image_is_named_or_skipped_and_counted(tmp_path, on_bad_file):
    root = image_folder(tmp_path / "photos")
    (root / "dog" / "broken.png").write_bytes(b"not an image at all")
    good = tf.io.encode_png(np.zeros((9, 9, 3), np.uint8)).numpy()
    (root / "cat" / "truncated.png").write_bytes(good[: len(good) // 2])
    config = image_config(root, on_bad_file=on_bad_file, validation_split=0, test_split=0)
    if on_bad_file == "fail":
        with pytest.raises(DataError, match=r"photos/cat/truncated\.png: cannot read the image "
                                            r"\(.+\) \(1 more unreadable\).*on_bad_file: skip"):
            data.load(config, 0)
        return
    bundle = data.load(config, 0)
    assert bundle.sizes["train"] == 12 and bundle.skipped == 2
    assert sorted(bundle.skipped_names) == ["cat/truncated.png", "dog/broken.png"]
    assert bundle.skipped_note.startswith("skipped 2 unreadable")


@pytest.mark.parametrize("make, message", [
    (lambda root: root.mkdir(), r"has no class folders; put the examples in .*/<class name>/"),
    (lambda root: image_folder(root, classes=("only",)), r"one class folder \(only/\)"),
    (lambda root: (image_folder(root), (root / "bird").mkdir()), r"bird: no image files"),
    (lambda root: (image_folder(root / "train"), image_folder(root / "test", ("cat", "cow"))),
     r"test has class folder\(s\) cow that training does not have"),
    (lambda root: (image_folder(root / "train"), image_folder(root / "val")),
     r"val/ is not one of data.splits; name it \(e.g. data.splits.validation: val\)"),
])
def test_folder_layout_mistakes(tmp_path, make, message):
    root = tmp_path / "photos"
    make(root)
    with pytest.raises(DataError, match=message):
        data.load(image_config(root, splits={"test": "test"}), 0)


def test_missing_folder_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="data.path: no folder .*nowhere"):
        data.load(image_config(tmp_path / "nowhere"), 0)


# --- text_folder ------------------------------------------------------------------------------

def reviews(root):
    return text_folder(root, {
        "neg": [f"a dull film, number {index}" for index in range(6)],
        "pos": [f"A wonderful film! Number {index}" for index in range(6)],
    })


def test_text_folder_reads_raw_text_and_learns_vocabulary_on_train(tmp_path):
    root = reviews(tmp_path / "reviews")
    (root / "pos" / "bom.txt").write_bytes("\ufeffa wonderful start".encode())
    bundle = data.load(DataConfig(source="text_folder", path=str(root), sequence_length=6,
                                  standardize="lower", validation_split=0, test_split=0.25), 0)
    assert bundle.sizes == {"train": 10, "validation": 0, "test": 3}
    spec = bundle.input_spec
    assert spec.kind == "text" and spec.standardize == "lower"
    assert "wonderful" in spec.vocabulary and "film!" in spec.vocabulary  # punctuation kept
    texts, _ = everything(bundle.train)
    assert all(not text.startswith(b"\xef\xbb\xbf") for text in texts)


@pytest.mark.parametrize("on_bad_file", ["fail", "skip"])
def test_text_that_is_not_utf8(tmp_path, on_bad_file):
    root = reviews(tmp_path / "reviews")
    (root / "neg" / "latin1.txt").write_bytes("un film ennuyeux, d\xe9j\xe0 vu".encode("latin-1"))
    config = DataConfig(source="text_folder", path=str(root), on_bad_file=on_bad_file)
    if on_bad_file == "fail":
        with pytest.raises(DataError, match=r"neg/latin1\.txt: not UTF-8 text \(byte 19 is "
                                            r"0xe9\); re-save it as UTF-8"):
            data.load(config, 0)
    else:
        bundle = data.load(config, 0)
        assert bundle.skipped == 1 and bundle.skipped_names == ["neg/latin1.txt"]
        assert sum(bundle.sizes.values()) == 12
