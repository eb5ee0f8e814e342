"""Image files -> pixels, the same way for training and for `bigmodel predict`.

Every image is decoded (PNG, JPEG, BMP, GIF's first frame, WebP), given the configured number
of channels, resized to the configured size and rounded back to bytes. Training and predict both
call `decode_image`, so a file gives the model the same pixels in both. TensorFlow is imported
inside the functions: importing this module stays cheap.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

import numpy as np

from ..runtime.tfenv import native_stderr

CHANNELS = {"grayscale": 1, "rgb": 3, "rgba": 4}
SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
SCAN_BATCH = 256  # images per step when checking or loading a folder
SCAN_CHUNK = 4096  # images per pass: decoder messages are traced to their files within one
ONE_BY_ONE = 16  # groups this small are decoded file by file when tracing decoder messages
# "E0000 00:00:1796112703.920356    5426 jpeg_mem.cc:331] ...": TensorFlow's C++ log format.
TENSORFLOW_LOG_LINE = re.compile(r"^[IWEF]\d{4} \d\d:\d\d:\d\d\.\d+\s+\d+ \S+:\d+\]")


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


@dataclass
class ScanResult:
    pixels: np.ndarray | None  # (files, height, width, channels) uint8 when asked to keep them
    failed: list[int]  # indices of files TensorFlow could not decode
    damaged: dict[int, str]  # decoded, but the decoder reported damage: index -> its message

    @property
    def bad(self) -> list[int]:
        return sorted([*self.failed, *self.damaged])


def scan(paths: list[str], shape: tuple[int, int, int], *, keep_pixels: bool,
         deterministic: bool = True, into: np.ndarray | None = None,
         advance=None) -> ScanResult:
    """Decode every file once, in parallel, and find the unreadable and the damaged ones.

    tf.data cannot say which element failed, so each element carries its index and the failed
    ones are the indices missing from the output of `ignore_errors`. libjpeg writes its
    complaints ("Corrupt JPEG data: premature end of data segment") straight to file descriptor
    2 while still returning an image; they are caught here (shown only with --verbose) and
    traced back to their files, so that bigmodel names them itself. `into`: the array (in
    memory or a np.memmap) to keep the pixels in; `advance(count)` follows the progress.
    """
    pixels = None
    if keep_pixels:
        pixels = into if into is not None else np.empty((len(paths), *shape), np.uint8)
    failed, damaged = [], {}
    # In chunks, each with its own capture: a message is then traced within its chunk only.
    for first in range(0, len(paths), SCAN_CHUNK):
        chunk = paths[first:first + SCAN_CHUNK]
        with native_stderr() as captured:
            chunk_pixels, read_ok = _decode(chunk, shape, keep_pixels, deterministic)
        if keep_pixels:
            pixels[first:first + len(chunk)] = chunk_pixels
        if advance is not None:
            advance(len(chunk))
        chunk_failed = np.flatnonzero(~read_ok).tolist()
        failed += [first + index for index in chunk_failed]
        messages = decoder_messages(captured.lines)
        if not messages:
            continue
        # The failed files are named anyway; only messages they do not explain mean damage.
        explained = Counter(_messages_of([chunk[index] for index in chunk_failed], shape))
        if Counter(messages) - explained:
            readable = np.flatnonzero(read_ok).tolist()
            found = _noisy_files(readable, chunk, shape, known_noisy=not chunk_failed)
            damaged.update({first + index: message for index, message in found.items()})
    return ScanResult(pixels, failed, damaged)


def _decode(paths, shape, keep_pixels: bool, deterministic: bool = True):
    """(pixels or None, which files decoded) for `paths`, decoded in parallel."""
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

    dataset = tf.data.Dataset.from_tensor_slices(
        (np.arange(len(paths)), np.asarray(paths, dtype=str)))
    dataset = dataset.map(read, num_parallel_calls=tf.data.AUTOTUNE,
                          deterministic=deterministic).ignore_errors().batch(SCAN_BATCH)
    read_ok = np.zeros(len(paths), bool)
    for indices, images in dataset.as_numpy_iterator():
        read_ok[indices] = True
        if keep_pixels:
            pixels[indices] = images
    return pixels, read_ok


def _messages_of(paths: list[str], shape) -> list[str]:
    """The decoder messages that decoding `paths` writes (none: an empty list)."""
    if not paths:
        return []
    with native_stderr(show=False) as captured:
        if len(paths) <= ONE_BY_ONE:  # a tf.data pipeline costs more to set up than these
            for path in paths:
                _decodes(path, shape[2])
        else:
            _decode(paths, shape, keep_pixels=False)
    return decoder_messages(captured.lines)


def _decodes(path: str, channels: int) -> bool:
    import tensorflow as tf

    try:
        tf.io.decode_image(tf.io.read_file(path), channels=channels, expand_animations=False)
        return True
    except (tf.errors.OpError, OSError):
        return False


def _noisy_files(indices: list[int], paths, shape, known_noisy: bool) -> dict[int, str]:
    """{index: message} of the files among `indices` whose decoding writes messages.

    Halving: a group that decodes in silence holds none of them, so with a few damaged files
    among many this costs a few passes over the folder, not one decode per file.
    """
    if not indices:
        return {}
    if len(indices) <= ONE_BY_ONE:
        found = {index: _messages_of([paths[index]], shape) for index in indices}
        return {index: "; ".join(dict.fromkeys(messages))
                for index, messages in found.items() if messages}
    if not known_noisy and not _messages_of([paths[index] for index in indices], shape):
        return {}
    half = len(indices) // 2
    first = _noisy_files(indices[:half], paths, shape, known_noisy=False)
    # When the whole group is known to be noisy and its first half is quiet, the second half
    # must hold the noise: no need to decode it once more to know.
    return {**first, **_noisy_files(indices[half:], paths, shape,
                                    known_noisy=known_noisy and not first)}


def decoder_messages(lines: list[str]) -> list[str]:
    """Lines written by the native decoders, without TensorFlow's own log lines (those follow
    TF_CPP_MIN_LOG_LEVEL, and name no file either)."""
    return [line for line in lines if not TENSORFLOW_LOG_LINE.match(line)]


def decode_file(path, shape: tuple[int, int, int]) -> tuple[np.ndarray, str | None]:
    """(uint8 pixels, the decoder's damage report or None) of one file, for predict; raises
    TensorFlow's error for a file it cannot decode."""
    import tensorflow as tf

    return decode_bytes(lambda: tf.io.read_file(str(path)), shape)


def decode_bytes(contents, shape: tuple[int, int, int]) -> tuple[np.ndarray, str | None]:
    """decode_file for encoded bytes (or a function that reads them), e.g. a served image."""
    height, width, channels = shape
    with native_stderr() as captured:
        import tensorflow as tf

        contents = contents() if callable(contents) else tf.constant(contents, tf.string)
        image = decode_image(contents, height, width, channels).numpy()
    messages = decoder_messages(captured.lines)
    return image, "; ".join(dict.fromkeys(messages)) or None


def why_unreadable(path: str, channels: int) -> str:
    """TensorFlow's reason for one file, on one short line (with the decoder's own words)."""
    import tensorflow as tf

    with native_stderr(show=False) as captured:
        try:
            tf.io.decode_image(tf.io.read_file(path), channels=channels, expand_animations=False)
            reason = "unreadable"
        except (tf.errors.OpError, OSError) as error:
            reason = tensorflow_reason(error)
    messages = decoder_messages(captured.lines)
    return f"{reason}; {'; '.join(dict.fromkeys(messages))}" if messages else reason


def tensorflow_reason(error: BaseException) -> str:
    """The human part of a TensorFlow op error ('Invalid PNG data, size 3809')."""
    text = getattr(error, "message", None) or str(error)
    text = re.sub(r"\{\{[^}]*\}\}", "", text)  # {{function_node ...}}
    text = re.sub(r"\[Op:\w+\].*", "", text)
    return " ".join(text.split()) or type(error).__name__
