"""Images sorted by class: `path/<class>/*.png|jpg|jpeg|bmp|gif|webp` (see `folders`).

The files are listed here (names, labels, splits: cheap); the pipeline decodes them in
parallel, into a cache before the first step (data.cache: auto, memory, disk or a path) or
every epoch (false). An unreadable file, or a damaged one (the JPEG decoder complains while
still returning pixels: found while filling a cache), is named (data.on_bad_file: fail) or left
out and counted (skip) wherever it is met. data.image_size: auto (the default) is the images'
own size, read from a sample of them.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from ..errors import DataError
from ..runtime.tfenv import native_stderr
from ..tasks.names import classification_task
from . import folders, images, stores
from .spec import IMAGE, FileExamples, RawData, Split
from .splits import random_generator

SIZE_SAMPLE = 200  # images whose size data.image_size: auto reads
SIZE_SAMPLE_STREAM = 3  # random stream of the sample (the split cut uses 0 and 1)


def load(data_config, seed: int) -> RawData:
    class_names, found = folders.index(data_config, images.SUFFIXES, "image")
    channels = images.CHANNELS[data_config.color_mode]
    (height, width), note = image_size(data_config, found, seed)

    def refuse(paths: list[str], damaged: dict[str, str]) -> None:
        refuse_unless_skipping(data_config, paths, damaged, channels)

    splits = {role: Split(x=folders.paths_array(files), y=labels)
              for role, (files, labels) in found.items()}
    return RawData(
        train=splits["train"], validation=splits.get("validation"), test=splits.get("test"),
        input_kind=IMAGE, task=classification_task(len(class_names)),
        class_names=class_names, notes=[note],
        files=FileExamples(kind=IMAGE, root=data_config.path, on_bad_file=data_config.on_bad_file,
                           shape=(height, width, channels), refuse=refuse))


def image_size(data_config, found: dict, seed: int) -> tuple[tuple[int, int], str]:
    """(height, width) and the log line saying where it comes from."""
    if data_config.image_size != "auto":
        height, width = data_config.image_size
        return (height, width), f"image size: {height}x{width} (data.image_size)"
    every = [path for files, _ in found.values() for path in files]
    sample = every
    if len(every) > SIZE_SAMPLE:
        chosen = random_generator(seed, SIZE_SAMPLE_STREAM).choice(len(every), SIZE_SAMPLE,
                                                                   replace=False)
        sample = [every[index] for index in np.sort(chosen)]
    counts = Counter(size for size in sizes_of(sample) if size is not None)
    if not counts:
        raise DataError(f"{data_config.path}: none of the {len(sample)} images sampled for "
                        "data.image_size: auto can be read; set data.image_size: [height, width]")
    (height, width), most = counts.most_common(1)[0]
    read = sum(counts.values())
    sampled = f"all {read} images" if read == len(every) else f"{read} sampled images"
    if most == read:
        return (height, width), f"image size: {height}x{width}, the size of {sampled} " \
                                "(data.image_size: auto)"
    return (height, width), (
        f"image size: {height}x{width}, the most common of {len(counts)} sizes: {read - most} of "
        f"{sampled} ({(read - most) / read:.0%}) are another size and are resized to it "
        "(data.image_size: auto; set [height, width] to choose)")


def sizes_of(paths: list[str]) -> list[tuple[int, int] | None]:
    """(height, width) of each image, None for an unreadable one. A JPEG's size is read from
    its header; other formats are decoded (a sample of them, once)."""
    import tensorflow as tf

    def size(path):
        contents = tf.io.read_file(path)
        return tf.cond(
            tf.io.is_jpeg(contents),
            lambda: tf.image.extract_jpeg_shape(contents)[:2],
            lambda: tf.shape(tf.io.decode_image(contents, expand_animations=False))[:2])

    found = np.full((len(paths), 2), -1, np.int64)

    def write(indices, sizes):
        found[indices] = sizes.numpy()

    with native_stderr():  # a damaged file's decoder messages: named when it is decoded
        stores.read_all(np.asarray(paths, dtype=str), size, write, lambda count: None)
    return [None if height < 0 else (int(height), int(width)) for height, width in found]


def refuse_unless_skipping(data_config, paths: list[str], damaged: dict[str, str],
                           channels: int) -> None:
    """The one-line error for the first of these bad files (`damaged`: {path: the decoder's
    report} of those it decoded while reporting damage)."""
    if data_config.on_bad_file == "skip":
        return
    first = paths[0]
    if first in damaged:
        problem = f"the image is damaged (the decoder reports: {damaged[first]})"
    else:
        problem = f"cannot read the image ({images.why_unreadable(first, channels)})"
    others = f" ({len(paths) - 1} more unreadable)" if len(paths) > 1 else ""
    raise DataError(f"{first}: {problem}{others}; replace or remove it, or set "
                    "data.on_bad_file: skip to leave unreadable files out")
