"""A numpy .npz archive: arrays `x` and `y`, or `x_train`/`y_train` with optional
`x_test`/`y_test` and `x_val`/`y_val` (the layout of keras' mnist.npz), or keys named by
data.x_key and data.y_key. An optional `class_names` array names the classes.

The input kind follows the array: strings are text, (examples, height, width[, channels]) are
images, (examples, features) are vectors. Labels with fractions mean regression; any other
labels are classes.
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

import numpy as np

from ..errors import ConfigError, DataError
from ..tasks.names import classification_task
from .checks import require_finite
from .messages import one_line
from .spec import IMAGE, REGRESSION, TEXT, VECTOR, RawData, Split

VALIDATION_SUFFIXES = ("_val", "_valid", "_validation")
NPY_MAGIC = b"\x93NUMPY"
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")  # a zip with members, an empty zip


def load(data_config, seed: int) -> RawData:
    path = Path(data_config.path).expanduser()
    if path.is_dir():
        raise ConfigError(f"data.path: {path} is a folder; give the .npz file itself")
    if not path.is_file():
        raise ConfigError(f"data.path: no file {path}; give a .npz archive")
    arrays = read_archive(path)
    x_key, y_key = array_keys(path, arrays, data_config)
    splits = {"train": split(path, arrays, x_key, y_key)}
    if x_key.endswith("_train") and y_key.endswith("_train"):
        x_base, y_base = x_key[:-len("_train")], y_key[:-len("_train")]
        for role, suffixes in (("test", ("_test",)), ("validation", VALIDATION_SUFFIXES)):
            for suffix in suffixes:
                if x_base + suffix in arrays and y_base + suffix in arrays:
                    splits[role] = split(path, arrays, x_base + suffix, y_base + suffix)
                    break
    kind = input_kind(path, splits["train"].x)
    task, class_names = describe_labels(path, arrays, splits)
    if kind == TEXT:
        for role, part in splits.items():
            splits[role] = Split(np.asarray(part.x, dtype=object), part.y)
    return RawData(train=splits["train"], validation=splits.get("validation"),
                   test=splits.get("test"), input_kind=kind, task=task, class_names=class_names)


def read_archive(path: Path) -> dict[str, np.ndarray]:
    """Every array of an .npz file; DataError saying what the file is when it is not one."""
    with open(path, "rb") as file:
        start = file.read(len(NPY_MAGIC))
    if start.startswith(NPY_MAGIC):
        raise DataError(f"{path}: a single .npy array (np.save), not an .npz archive; save "
                        "the inputs and labels together with np.savez(path, x=..., y=...)")
    if not start.startswith(ZIP_MAGICS):
        raise DataError(f"{path}: not an npz archive ({describe_start(start)}; np.savez writes "
                        "a zip of .npy arrays); give the file np.savez wrote")
    key = None
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {}
            for key in archive.files:
                arrays[key] = archive[key]
            return arrays
    except ValueError as error:
        if "pickle" not in str(error):
            raise DataError(f"{path}: array '{key}' is unreadable ({one_line(error)})") from None
        raise DataError(f"{path}: array '{key}' holds Python objects, which only pickle "
                        "(unsafe) can read; save strings as a unicode array (np.str_)") from None
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error) as error:
        if not zipfile.is_zipfile(path):  # a zip's directory is at its end
            problem = f"cut short ({path.stat().st_size:,} bytes, no zip directory at the end)"
        else:
            problem = (f"array '{key}' is unreadable" if key else "unreadable") + \
                f" ({one_line(error)})"
        raise DataError(f"{path}: a damaged npz archive: {problem}; write it again with "
                        "np.savez") from None


def describe_start(start: bytes) -> str:
    if not start:
        return "the file is empty"
    return f"the file starts with {start!r}"


def array_keys(path: Path, arrays: dict, data_config) -> tuple[str, str]:
    keys = list(arrays)
    x_key = data_config.x_key or next((key for key in ("x", "x_train") if key in arrays), None)
    y_key = data_config.y_key or next((key for key in ("y", "y_train") if key in arrays), None)
    for setting, key in (("x_key", x_key), ("y_key", y_key)):
        if key not in arrays:
            raise DataError(f"{path}: no array '{key or setting[0]}' (data.{setting}); its "
                            f"arrays: {', '.join(keys)}; set data.{setting} to one of them")
    return x_key, y_key


def split(path: Path, arrays: dict, x_key: str, y_key: str) -> Split:
    x, y = arrays[x_key], np.asarray(arrays[y_key]).reshape(-1)
    if len(x) != len(y):
        raise DataError(f"{path}: '{x_key}' has {len(x)} examples but '{y_key}' has {len(y)} "
                        "labels; they must match")
    for key, values in ((x_key, x), (y_key, arrays[y_key])):
        require_finite(values, f"{path}: array '{key}'",
                       "fill in or drop those examples (np.isfinite finds them)")
    return Split(x=x, y=y)


def input_kind(path: Path, x: np.ndarray) -> str:
    if x.dtype.kind in "US":
        if x.ndim != 1:
            raise DataError(f"{path}: text must be one string per example, got shape {x.shape}")
        return TEXT
    if x.dtype.kind not in "biuf":
        raise DataError(f"{path}: inputs of dtype {x.dtype} are neither numbers nor text")
    if x.ndim in (3, 4):
        return IMAGE
    if x.ndim == 2:
        return VECTOR
    raise DataError(f"{path}: inputs of shape {x.shape}; expected (examples, features), "
                    "(examples, height, width[, channels]) or one string per example")


def describe_labels(path: Path, arrays: dict, splits: dict) -> tuple[str, list[str]]:
    """(task, class names); class labels are rewritten in place as ids 0..classes-1."""
    every = np.concatenate([part.y for part in splits.values()])
    if every.dtype.kind == "f" and not np.all(np.mod(every, 1) == 0):
        return REGRESSION, []
    if "class_names" in arrays:
        class_names = [str(name) for name in arrays["class_names"]]
        if every.dtype.kind not in "biuf" or every.min() < 0 or every.max() >= len(class_names):
            raise DataError(f"{path}: labels must be ids 0..{len(class_names) - 1} to match "
                            "its class_names array")
        values = np.arange(len(class_names))
    else:
        values = np.unique(every)
        class_names = [str(value.item() if hasattr(value, "item") else value)
                       for value in (values.astype(np.int64) if every.dtype.kind == "f"
                                     else values)]
    if len(class_names) < 2:
        raise DataError(f"{path}: the labels hold one class ({class_names[0]}); a classifier "
                        "needs at least two")
    for role, part in splits.items():
        splits[role] = Split(part.x, np.searchsorted(values, part.y).astype(np.int32))
    return classification_task(len(class_names)), class_names
