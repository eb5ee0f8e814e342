"""Images sorted by class: `path/<class>/*.png|jpg|jpeg|bmp|gif|webp` (see `folders`).

Every file is decoded once while loading, in parallel: an unreadable or damaged file (one the
JPEG decoder complains about while still returning pixels) is named at once (data.on_bad_file:
fail) or left out and counted (skip), never found mid-training. With
data.cache: memory (the default) that pass keeps the resized pixels, so training never decodes
again; otherwise the pipeline reads and decodes the files each epoch (or from a cache file).
"""

from __future__ import annotations

import numpy as np

from ..errors import DataError
from ..tasks.names import classification_task
from . import folders, images
from .spec import IMAGE, RawData, Split


def load(data_config, seed: int) -> RawData:
    class_names, found = folders.index(data_config, images.SUFFIXES, "image")
    height, width = data_config.image_size
    shape = (height, width, images.CHANNELS[data_config.color_mode])
    in_memory = data_config.cache == "memory"
    splits, skipped = {}, []
    for role, (files, labels) in found.items():
        scanned = images.scan(files, shape, keep_pixels=in_memory,
                              deterministic=data_config.deterministic)
        if scanned.bad:
            refuse_unless_skipping(data_config, files, scanned, shape[2])
            skipped += [folders.short_name(files[index], data_config.path)
                        for index in scanned.bad]
        readable = np.ones(len(files), bool)
        readable[scanned.bad] = False
        if not readable.any():
            raise DataError(f"no readable images for the {role} split in {data_config.path}")
        x = scanned.pixels[readable] if in_memory else np.asarray(files)[readable]
        splits[role] = Split(x=x, y=labels[readable])
    return RawData(
        train=splits["train"], validation=splits.get("validation"), test=splits.get("test"),
        input_kind=IMAGE, task=classification_task(len(class_names)),
        class_names=class_names, image_files=None if in_memory else shape, skipped=skipped)


def refuse_unless_skipping(data_config, files: list[str], scanned: images.ScanResult,
                           channels: int) -> None:
    if data_config.on_bad_file == "skip":
        return
    index = scanned.bad[0]
    first = files[index]
    if index in scanned.damaged:
        problem = f"the image is damaged (the decoder reports: {scanned.damaged[index]})"
    else:
        problem = f"cannot read the image ({images.why_unreadable(first, channels)})"
    others = f" ({len(scanned.bad) - 1} more unreadable)" if len(scanned.bad) > 1 else ""
    raise DataError(f"{first}: {problem}{others}; replace or remove it, or set "
                    "data.on_bad_file: skip to leave unreadable files out")
