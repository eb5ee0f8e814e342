"""Text files sorted by class: `path/<class>/*.txt` (see `folders`; aclImdb works as is).

Each file is one example, read as UTF-8 (a byte-order mark is dropped). The files are listed
here and read by the pipeline (data.cache: auto keeps the texts in memory when they fit the
budget, else reads them every epoch). A file that is not UTF-8 is named
(data.on_bad_file: fail) or left out and counted (skip).
"""

from __future__ import annotations

import os

import numpy as np

from ..errors import DataError
from ..tasks.names import classification_task
from . import folders
from .spec import TEXT, FileExamples, RawData, Split

SUFFIXES = (".txt",)
BYTE_ORDER_MARK = "\ufeff"
# Files this small are read to see whether they are blank; a larger file is taken to hold
# words (reading every file here would read the whole corpus before the first step).
BLANK_CHECK_BYTES = 16


def load(data_config, seed: int) -> RawData:
    class_names, found = folders.index(data_config, SUFFIXES, "text")
    for role, (files, labels) in found.items():
        require_words([is_blank(path) for path in files], labels, class_names, files, role)
    splits = {role: Split(x=folders.paths_array(files), y=labels)
              for role, (files, labels) in found.items()}
    return RawData(
        train=splits["train"], validation=splits.get("validation"), test=splits.get("test"),
        input_kind=TEXT, task=classification_task(len(class_names)),
        class_names=class_names,
        files=FileExamples(kind=TEXT, root=data_config.path, on_bad_file=data_config.on_bad_file,
                           refuse=refuse))


def read_in_pipeline(path):
    """A file path (a string tensor) -> its text; an error (dropped or reported by the
    pipeline) when it is not UTF-8."""
    import tensorflow as tf

    contents = tf.io.read_file(path)
    checked = tf.strings.unicode_transcode(contents, "UTF-8", "UTF-8", errors="strict")
    return tf.strings.regex_replace(checked, "^" + BYTE_ORDER_MARK, "")


def refuse(paths: list[str], damaged: dict[str, str]) -> None:
    """The one-line error for the first of these unreadable files (its reason read again)."""
    read_text(paths[0], "fail")


def is_blank(path: str) -> bool:
    try:
        if os.stat(path).st_size > BLANK_CHECK_BYTES:
            return False
        with open(path, "rb") as file:
            return not file.read().decode("utf-8-sig", "replace").strip()
    except OSError:
        return False  # unreadable: named when it is read


def require_words(blank: list[bool], labels: np.ndarray, class_names: list[str],
                  files: list[str], role: str) -> None:
    """Refuse a split whose files, or one class's files, are all empty: a model would learn
    from nothing (and an empty vocabulary fails later with no file named)."""
    blank = np.array(blank)
    folder = os.path.commonpath([os.path.dirname(path) for path in files])
    if blank.all():
        raise DataError(f"{folder}: all {len(files)} text files of the {role} split are empty; "
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
