"""The order training sees: every epoch a full seeded permutation of the training examples, for
every source, however small data.shuffle_buffer is. Sources list their examples class after
class (folders are read class by class); a buffer alone then feeds batches of one or two
classes and the model learns in stretches."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from bigmodel_cli import data
from bigmodel_cli.config.schema import DataConfig
from bigmodel_cli.data import pipeline
from bigmodel_cli.data.spec import RawData, Split

CLASSES = 10
BATCH = 64
SMALL_BUFFER = 16  # far smaller than one class: a buffer alone cannot mix the classes


def sorted_vectors(per_class=100) -> RawData:
    """Class-sorted examples whose single feature is their index in the source."""
    count = CLASSES * per_class
    x = np.arange(count, dtype=np.float32).reshape(-1, 1)
    y = np.repeat(np.arange(CLASSES), per_class)
    return RawData(train=Split(x, y), input_kind="vector", task="multiclass",
                   class_names=[f"c{label}" for label in range(CLASSES)])


def order_config(**settings) -> DataConfig:
    return DataConfig(**{"batch_size": BATCH, "shuffle_buffer": SMALL_BUFFER,
                         "validation_split": 0, "test_split": 0, **settings})


def labels_per_batch(dataset) -> list[np.ndarray]:
    return [labels.numpy() for _, labels in dataset]


def assert_batches_mix_the_classes(dataset, total: int) -> None:
    batches = labels_per_batch(dataset)
    assert sum(len(labels) for labels in batches) == total
    full = [labels for labels in batches if len(labels) == BATCH]
    assert len(full) >= 4
    fewest = min(len(np.unique(labels)) for labels in full)
    assert fewest >= CLASSES // 2, f"a batch of {BATCH} holds only {fewest} of {CLASSES} classes"
    # The first half of the epoch holds every class near its share of the data (10%; the
    # bounds are over 3 standard deviations away even at 300 examples). A buffer alone
    # would hold only the first classes there.
    half = np.concatenate(batches)[: total // 2]
    shares = np.bincount(half, minlength=CLASSES) / len(half)
    assert shares.min() >= 0.03 and shares.max() <= 0.2, shares


def epoch_order(dataset) -> np.ndarray:
    """The source indices of one pass, in the order training sees them."""
    return np.concatenate([x.numpy()[:, 0] for x, _ in dataset]).astype(int)


def write_png(path, pixels) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(tf.io.encode_png(np.asarray(pixels, np.uint8)).numpy())


def sorted_image_folder(root, per_class=40):
    """Tiny PNGs, class after class, each image's first pixel telling its class."""
    for label in range(CLASSES):
        for index in range(per_class):
            write_png(root / f"class_{label}" / f"{index:03d}.png",
                      np.full((4, 4, 1), 20 * label, np.uint8))
    return root


# --- arrays -----------------------------------------------------------------------------------

def test_array_batches_hold_the_class_mix_of_the_data():
    bundle = pipeline.make_bundle(sorted_vectors(), order_config(), seed=0)
    assert_batches_mix_the_classes(bundle.train, 1000)


def test_every_epoch_is_a_full_permutation_and_a_new_one():
    bundle = pipeline.make_bundle(sorted_vectors(), order_config(), seed=0)
    first, second = epoch_order(bundle.train), epoch_order(bundle.train)
    for order in (first, second):
        assert sorted(order) == list(range(1000))  # every example once
        # Full, not local: where an example lands does not depend on where it sits in the
        # source (a buffer of 16 keeps this correlation near 1).
        assert abs(np.corrcoef(order, np.arange(1000))[0, 1]) < 0.2
    assert not np.array_equal(first, second)


def test_the_same_seed_gives_the_same_epochs_and_another_seed_others():
    raw = sorted_vectors()
    first = pipeline.make_bundle(raw, order_config(), seed=5)
    again = pipeline.make_bundle(raw, order_config(), seed=5)
    other = pipeline.make_bundle(raw, order_config(), seed=6)
    first_epochs = [epoch_order(first.train) for _ in range(2)]
    assert all(np.array_equal(mine, theirs)
               for mine, theirs in zip(first_epochs, [epoch_order(again.train)
                                                      for _ in range(2)], strict=True))
    assert not np.array_equal(first_epochs[0], epoch_order(other.train))


def test_the_stream_resumes_mid_epoch_with_the_same_batches():
    bundle = pipeline.make_bundle(sorted_vectors(), order_config(), seed=0)
    steps_per_epoch = 16  # 1000 examples in batches of 64
    whole = [x.numpy() for x, _ in bundle.train_stream(0).take(3 * steps_per_epoch)]
    resumed = [x.numpy() for x, _ in bundle.train_stream(20).take(3 * steps_per_epoch - 20)]
    assert all(np.array_equal(a, b) for a, b in zip(whole[20:], resumed, strict=True))
    epochs = [np.concatenate(whole[start:start + steps_per_epoch])[:, 0]
              for start in range(0, len(whole), steps_per_epoch)]
    assert sorted(epochs[1].astype(int)) == list(range(1000))
    assert not np.array_equal(epochs[0], epochs[1])


def test_a_cut_split_still_trains_in_a_mixed_order():
    # The cut keeps the remaining examples in source order (class after class).
    bundle = pipeline.make_bundle(sorted_vectors(),
                                  order_config(validation_split=0.1, test_split=0.2), seed=0)
    assert_batches_mix_the_classes(bundle.train, 700)


# --- folders and files --------------------------------------------------------------------------

@pytest.mark.parametrize("cache", ["memory", False, "file"])
def test_image_folder_batches_hold_the_class_mix(tmp_path, cache):
    root = sorted_image_folder(tmp_path / "photos")
    cache = str(tmp_path / "cache" / "photos") if cache == "file" else cache
    config = order_config(source="image_folder", path=str(root), image_size=[4, 4],
                          color_mode="grayscale", cache=cache)
    bundle = data.load(config, 0)
    assert_batches_mix_the_classes(bundle.train, 400)
    # Labels still travel with their images.
    for images, labels in bundle.train:
        assert np.array_equal(np.round(images.numpy()[:, 0, 0, 0] / 20), labels.numpy())


def test_text_folder_batches_hold_the_class_mix(tmp_path):
    root = tmp_path / "reviews"
    for label in range(CLASSES):
        (root / f"class_{label}").mkdir(parents=True)
        for index in range(30):
            (root / f"class_{label}" / f"{index}.txt").write_text(f"word{label} text {index}")
    bundle = data.load(order_config(source="text_folder", path=str(root)), 0)
    assert_batches_mix_the_classes(bundle.train, 300)


def test_csv_rows_sorted_by_label_train_mixed(tmp_path):
    path = tmp_path / "rows.csv"
    rows = [f"{index},{label}" for label in range(CLASSES) for index in range(50)]
    path.write_text("value,label\n" + "\n".join(rows) + "\n", encoding="utf-8")
    config = order_config(source="csv", path=str(path), label_column="label",
                          label_type="categorical")
    bundle = data.load(config, 0)
    assert_batches_mix_the_classes(bundle.train, 500)
