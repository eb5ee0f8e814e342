"""Image files -> pixels, the same way for training and for `bigmodel predict`.

Every image is decoded (PNG, JPEG, BMP, GIF's first frame, WebP), given the configured number
of channels, resized to the configured size and rounded back to bytes. Training and predict both
call `decode_image`, so a file gives the model the same pixels in both. TensorFlow is imported
inside the functions: importing this module stays cheap.
"""

from __future__ import annotations

import re

import numpy as np

CHANNELS = {"grayscale": 1, "rgb": 3, "rgba": 4}
SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
SCAN_BATCH = 256  # images per step when checking or loading a folder


def decode_image(contents, height: int, width: int, channels: int):
    """Encoded bytes (a string tensor) -> uint8 tensor of shape (height, width, channels)."""
    import tensorflow as tf

    image = tf.io.decode_image(contents, channels=channels, expand_animations=False)

    def resize():
        # Antialiasing keeps shrunk photos smooth; rounding keeps bytes (a quarter of float32).
        resized = tf.image.resize(tf.cast(image, tf.float32), (height, width), antialias=True)
        return tf.cast(tf.round(tf.clip_by_value(resized, 0, 255)), tf.uint8)

    same_size = tf.reduce_all(tf.equal(tf.shape(image)[:2], [height, width]))
    image = tf.cond(same_size, lambda: tf.identity(image), resize)
    image.set_shape((height, width, channels))
    return image


def read_image_file(path, height: int, width: int, channels: int):
    """A file path (a string tensor) -> uint8 pixels, for tf.data."""
    import tensorflow as tf

    return decode_image(tf.io.read_file(path), height, width, channels)


def scan(paths: list[str], shape: tuple[int, int, int], *, keep_pixels: bool,
         deterministic: bool = True) -> tuple[np.ndarray | None, list[int]]:
    """Decode every file once, in parallel: (pixels or None, indices of unreadable files).

    tf.data cannot say which element failed, so each element carries its index and the failed
    ones are the indices missing from the output of `ignore_errors`.
    """
    import tensorflow as tf

    height, width, channels = shape
    pixels = np.empty((len(paths), *shape), np.uint8) if keep_pixels else None

    def read(index, path):
        contents = tf.io.read_file(path)
        if keep_pixels:
            return index, decode_image(contents, height, width, channels)
        # Checking only: a full decode (a truncated file fails only there), without resizing.
        image = tf.io.decode_image(contents, channels=channels, expand_animations=False)
        return index, tf.size(image)

    dataset = tf.data.Dataset.from_tensor_slices((np.arange(len(paths)), np.asarray(paths)))
    dataset = dataset.map(read, num_parallel_calls=tf.data.AUTOTUNE,
                          deterministic=deterministic).ignore_errors().batch(SCAN_BATCH)
    read_ok = np.zeros(len(paths), bool)
    for indices, images in dataset.as_numpy_iterator():
        read_ok[indices] = True
        if keep_pixels:
            pixels[indices] = images
    return pixels, np.flatnonzero(~read_ok).tolist()


def why_unreadable(path: str, channels: int) -> str:
    """TensorFlow's reason for one file, on one short line."""
    import tensorflow as tf

    try:
        tf.io.decode_image(tf.io.read_file(path), channels=channels, expand_animations=False)
    except (tf.errors.OpError, OSError) as error:
        return tensorflow_reason(error)
    return "unreadable"


def tensorflow_reason(error: BaseException) -> str:
    """The human part of a TensorFlow op error ('Invalid PNG data, size 3809')."""
    text = getattr(error, "message", None) or str(error)
    text = re.sub(r"\{\{[^}]*\}\}", "", text)  # {{function_node ...}}
    text = re.sub(r"\[Op:\w+\].*", "", text)
    return " ".join(text.split()) or type(error).__name__
