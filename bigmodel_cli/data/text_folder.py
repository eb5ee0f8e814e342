"""Text files sorted by class: `path/<class>/*.txt` (see `folders`; aclImdb works as is).

Each file is one example, read as UTF-8 (a byte-order mark is dropped). A file that is not
UTF-8 is named (data.on_bad_file: fail) or left out and counted (skip).
"""

from __future__ import annotations

import os

import numpy as np

from ..errors import DataError
from ..tasks.names import classification_task
from . import folders
from .spec import TEXT, RawData, Split

SUFFIXES = (".txt",)


def load(data_config, seed: int) -> RawData:
    class_names, found = folders.index(data_config, SUFFIXES, "text")
    splits, skipped = {}, []
    for role, (files, labels) in found.items():
        texts, kept = [], []
        for index, path in enumerate(files):
            text = read_text(path, data_config.on_bad_file)
            if text is None:
                skipped.append(folders.short_name(path, data_config.path))
                continue
            texts.append(text)
            kept.append(index)
        if not texts:
            raise DataError(f"no readable text files for the {role} split in {data_config.path}")
        require_words(texts, labels[kept], class_names, files, role)
        splits[role] = Split(x=np.asarray(texts, dtype=object), y=labels[kept])
    return RawData(
        train=splits["train"], validation=splits.get("validation"), test=splits.get("test"),
        input_kind=TEXT, task=classification_task(len(class_names)),
        class_names=class_names, skipped=skipped)


def require_words(texts: list[str], labels: np.ndarray, class_names: list[str],
                  files: list[str], role: str) -> None:
    """Refuse a split whose files, or one class's files, are all empty: a model would learn
    from nothing (and an empty vocabulary fails later with no file named)."""
    blank = np.array([not text.strip() for text in texts])
    folder = os.path.commonpath([os.path.dirname(path) for path in files])
    if blank.all():
        raise DataError(f"{folder}: all {len(texts)} text files of the {role} split are empty; "
                        "fill them, or point data.path at the folder that holds the texts")
    for label, name in enumerate(class_names):
        mine = labels == label
        if mine.any() and blank[mine].all():
            raise DataError(f"{os.path.join(folder, name)}: all {int(mine.sum())} text files "
                            f"of class '{name}' ({role} split) are empty; fill them, or remove "
                            "the class")


def read_text(path: str, on_bad_file: str) -> str | None:
    """The file's text; None when it is unreadable and data.on_bad_file says skip."""
    try:
        with open(path, "rb") as file:
            return file.read().decode("utf-8-sig")
    except UnicodeDecodeError as error:
        reason = f"not UTF-8 text (byte {error.start} is 0x{error.object[error.start]:02x})"
        fix = "re-save it as UTF-8"
    except OSError as error:
        reason, fix = f"cannot read it ({error.strerror or error})", "fix its permissions"
    if on_bad_file == "skip":
        return None
    raise DataError(f"{path}: {reason}; {fix}, remove it, or set data.on_bad_file: skip to "
                    "leave unreadable files out")
