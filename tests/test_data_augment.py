"""Image augmentation (training batches only) and the tf.data settings: cache, deterministic."""

from __future__ import annotations

import numpy as np
import pytest

from bigmodel_cli.config.schema import DataConfig
from bigmodel_cli.data import pipeline
from bigmodel_cli.data.spec import RawData, Split
from bigmodel_cli.errors import ConfigError


def gradient_images(count=32, size=8):
    """Channel 0 a left-to-right ramp (a flip or a shift changes it), channel 1 the example's
    number (no flip changes it), so each example can be followed through shuffling."""
    ramp = np.linspace(10, 250, size).astype(np.uint8)
    images = np.zeros((count, size, size, 2), np.uint8)
    images[..., 0] = ramp[None, None, :]
    images[..., 1] = np.arange(count, dtype=np.uint8)[:, None, None]
    return RawData(Split(images, np.arange(count) % 2), "image", "binary", ["a", "b"])


def bundle(raw, **settings):
    return pipeline.make_bundle(raw, DataConfig(batch_size=16, **settings), seed=0)


def pixels(dataset):
    return np.concatenate([x.numpy() for x, _ in dataset])


def flipped_examples(images) -> set[int]:
    return {int(image[0, 0, 1]) for image in images if image[0, 0, 0] > image[0, -1, 0]}


def test_flip_changes_training_batches_only_and_differs_per_epoch():
    result = bundle(gradient_images(), augment={"flip": "horizontal"}, validation_split=0.25,
                    test_split=0)
    first, second = (flipped_examples(pixels(result.train)) for _ in range(2))
    assert 0 < len(first) < 24 and 0 < len(second) < 24  # each image drawn on its own
    assert first != second  # and drawn again each epoch
    assert flipped_examples(pixels(result.validation)) == set()


def test_padded_crop_shifts_each_image_on_its_own():
    images = np.full((32, 8, 8, 3), 200, np.uint8)
    raw = RawData(Split(images, np.arange(32) % 2), "image", "binary", ["a", "b"])
    cropped = pixels(bundle(raw, augment={"crop": 2}, validation_split=0, test_split=0).train)
    assert cropped.shape == (32, 8, 8, 3)
    assert set(np.unique(cropped)) <= {0.0, 200.0}
    # Zero rows and columns come from the padding; their count is each image's own offset.
    blank_rows = [(image[..., 0] == 0).all(axis=1).sum() for image in cropped]
    blank_columns = [(image[..., 0] == 0).all(axis=0).sum() for image in cropped]
    assert max(blank_rows) <= 2 and max(blank_columns) <= 2
    assert len({(row, column) for row, column in zip(blank_rows, blank_columns,
                                                     strict=True)}) > 2


@pytest.mark.parametrize("augment", [{"rotation": 0.1}, {"zoom": 0.2}, {"translation": 0.2},
                                     {"contrast": 0.5}])
def test_each_keras_augmentation_keeps_shape_and_changes_pixels(augment):
    raw = gradient_images()
    augmented = pixels(bundle(raw, augment=augment, validation_split=0, test_split=0).train)
    assert augmented.shape == (32, 8, 8, 2)
    original = np.sort(raw.train.x.astype(np.float32).reshape(32, -1), axis=0)
    assert not np.allclose(np.sort(augmented.reshape(32, -1), axis=0), original)


def test_augmenting_text_is_a_config_error():
    raw = RawData(Split(np.array(["a b", "c d"] * 5, dtype=object), np.arange(10) % 2), "text",
                  "binary", ["x", "y"])
    with pytest.raises(ConfigError, match="data.augment changes images, but this data is text"):
        bundle(raw, augment={"flip": "horizontal"})


def test_deterministic_order_and_option():
    raw = gradient_images()
    raw.train.x = raw.train.x + np.arange(32, dtype=np.uint8)[:, None, None, None]
    first = pixels(bundle(raw, test_split=0).train)
    assert np.array_equal(first, pixels(bundle(raw, test_split=0).train))
    fast = bundle(raw, deterministic=False, test_split=0)
    assert fast.train.options().deterministic is False
    assert bundle(raw).train.options().deterministic is True


def test_cache_settings():
    def folder(cache):  # the cache of decoded images: an image_folder setting
        return DataConfig(source="image_folder", path="photos", cache=cache).cache

    assert folder(True) == "memory"  # the old boolean still works
    assert folder(False) is False
    assert folder("/tmp/cache/photos") == "/tmp/cache/photos"
