"""Folders of examples sorted by class: `path/<class>/<files>`, or split sub-folders first.

Two layouts, as people keep their data:
  path/<class>/*                 one pool; validation and test are cut from it
  path/train/<class>/*           split folders named by data.splits (aclImdb works as is:
  path/test/<class>/*            train/ and test/, with data.classes [neg, pos] to leave unsup/)
Files directly inside `path` or a split folder are not examples (aclImdb keeps notes there), and
files with other suffixes are ignored, as Keras' *_dataset_from_directory do. Class names are the
folder names, sorted, unless data.classes lists them. Reading the files is the sources' part.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import ConfigError, DataError

ROLES = ("train", "validation", "test")


def index(data_config, suffixes: tuple[str, ...], what: str):
    """(class names, {role: (files, labels)}) for the roles the folder provides."""
    root = Path(data_config.path).expanduser()
    if root.is_file():
        raise ConfigError(f"data.path: {root} is a file; point it at the folder that holds one "
                          f"sub-folder of {what} files per class")
    if not root.is_dir():
        raise ConfigError(f"data.path: no folder {root}; point it at a folder with one "
                          f"sub-folder of {what} files per class")
    folders = split_folders(root, data_config.splits)
    class_names = choose_classes(folders["train"], data_config.classes)
    found = {}
    for role, folder in folders.items():
        files, labels = list_examples(folder, class_names, suffixes, what,
                                      every_class=role == "train",
                                      strict=data_config.classes is None)
        found[role] = (files, np.asarray(labels, np.int32))
    return class_names, found


def split_folders(root: Path, splits) -> dict[str, Path]:
    """{role: folder}: the split sub-folders when `root/<splits.train>` exists, else root."""
    train = root / splits.train
    if not train.is_dir():
        return {"train": root}
    named = {role: getattr(splits, role) for role in ROLES if getattr(splits, role)}
    unnamed = sorted(folder.name for folder in subfolders(root)
                     if folder.name not in named.values())
    if unnamed:
        raise DataError(
            f"{root} has a {splits.train}/ folder, so its sub-folders are splits, but "
            f"{', '.join(name + '/' for name in unnamed)} is not one of data.splits; name it "
            f"(e.g. data.splits.validation: {unnamed[0]}) or move it out")
    folders = {}
    for role, name in named.items():
        folder = root / name
        if not folder.is_dir():
            raise DataError(f"no folder {folder} for the {role} split; create it, or set "
                            f"data.splits.{role}: null to cut {role} from {splits.train}/")
        folders[role] = folder
    return folders


def choose_classes(train: Path, classes: list[str] | None) -> list[str]:
    present = [folder.name for folder in subfolders(train)]
    if classes is not None:
        missing = [name for name in classes if name not in present]
        if missing:
            raise DataError(f"data.classes names {', '.join(missing)}, but {train} has no such "
                            f"folder; its class folders: {', '.join(present) or 'none'}")
        if len(set(classes)) != len(classes):
            raise ConfigError("data.classes lists a class twice")
        present = list(classes)
    if not present:
        raise DataError(f"{train} has no class folders; put the examples in "
                        f"{train}/<class name>/, one folder per class")
    if len(present) == 1:
        raise DataError(f"{train} has one class folder ({present[0]}/); a classifier needs "
                        "at least two: add a folder for every other class")
    return present


def list_examples(folder: Path, class_names: list[str], suffixes, what: str, *,
                  every_class: bool, strict: bool) -> tuple[list[str], list[int]]:
    """Files and label ids under `folder/<class>/`, recursively, in a stable order."""
    present = {sub.name for sub in subfolders(folder)}
    unknown = sorted(present - set(class_names))
    if unknown and strict:
        raise DataError(f"{folder} has class folder(s) {', '.join(unknown)} that training "
                        f"does not have ({', '.join(class_names)}); add them to the training "
                        "folder, or list the classes to use in data.classes")
    files, labels = [], []
    for label, name in enumerate(class_names):
        class_folder = folder / name
        found = sorted(str(path) for path in class_folder.rglob("*")
                       if path.suffix.lower() in suffixes and path.is_file()
                       and not path.name.startswith(".")) if class_folder.is_dir() else []
        if not found and every_class:
            raise DataError(f"{class_folder}: no {what} files ({', '.join(suffixes)}); every "
                            "class needs examples")
        files += found
        labels += [label] * len(found)
    return files, labels


def paths_array(files: list[str]) -> np.ndarray:
    """File paths as an array the splits can be cut from: of Python strings, not fixed-width
    unicode (4 bytes a character, times the longest path)."""
    array = np.empty(len(files), dtype=object)
    array[:] = files
    return array


def subfolders(folder: Path) -> list[Path]:
    return sorted(path for path in folder.iterdir()
                  if path.is_dir() and not path.name.startswith("."))


def short_name(path: str, root: str) -> str:
    """A file's path relative to data.path, for messages and logs."""
    try:
        return str(Path(path).relative_to(Path(root).expanduser()))
    except ValueError:
        return path
