"""Read what `bigmodel predict` is given into one batch the saved model accepts.

Each argument is a file (.npy/.npz arrays, images, or text with one example per line), a folder
(its files of the model's input kind, sorted) or, for models that take text, a raw string.
Models trained on CSV rows take CSV files with the training columns (the label column, if
present, is ignored). Each example keeps a label naming where it came from, with the path as
the user wrote it: two img.png in different folders stay apart, relative paths stay relative.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..data.spec import CATEGORICAL, IMAGE, NUMERIC, TABLE, TEXT, TOKENS, VECTOR, InputSpec
from ..data.tables import input_name
from ..errors import DataError, UsageError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif"}
TEXT_SUFFIXES = {".txt", ".csv", ".tsv", ".text"}
ARRAY_SUFFIXES = {".npy", ".npz"}
# The files a folder given to predict stands for, by the model's input kind.
FOLDER_SUFFIXES = {IMAGE: IMAGE_SUFFIXES, VECTOR: ARRAY_SUFFIXES | TEXT_SUFFIXES,
                   TOKENS: ARRAY_SUFFIXES, TEXT: TEXT_SUFFIXES, TABLE: {".csv", ".tsv", ".txt"}}


def read_inputs(arguments: list[str], spec: InputSpec) -> tuple[list[str], np.ndarray | dict]:
    """(one label per example, the batch): an array, or for a table {input name: column}."""
    if spec.kind == TABLE:
        return _read_tables(arguments, spec)
    labels: list[str] = []
    examples: list[np.ndarray] = []
    for argument, path in _expand(arguments, spec):
        if path is not None:
            found = _read_file(path, argument, spec)
        elif spec.kind == TEXT and not Path(argument).exists():
            found = [(_short(argument), np.asarray(argument, dtype=object))]
        else:
            raise _not_an_input(argument, spec)
        for label, example in found:
            labels.append(label)
            examples.append(example)
    if not examples:
        raise UsageError(f"no examples in {' '.join(arguments)}; this model takes {_wanted(spec)}")
    return labels, stack_examples(examples, spec)


def stack_examples(examples: list[np.ndarray], spec: InputSpec) -> np.ndarray:
    """One batch of examples of a non-table model, in the dtype its input takes."""
    return np.stack(examples).astype(object if spec.kind == TEXT else spec.dtype)


def _expand(arguments: list[str], spec: InputSpec) -> list[tuple[str, Path | None]]:
    """(label, file) for each input file; a folder gives its files of the model's kind, sorted
    by their path inside it; (argument, None) for what is neither, e.g. a raw string."""
    expanded = []
    for argument in arguments:
        path = Path(argument)
        if path.is_dir():
            found = sorted(_folder_files(path, FOLDER_SUFFIXES[spec.kind]))
            if not found:
                raise UsageError(f"{argument}: a folder without files of the kinds this model "
                                 f"reads ({', '.join(sorted(FOLDER_SUFFIXES[spec.kind]))}); "
                                 f"it takes {_wanted(spec)}")
            # Joined as strings, not Paths, so that "./photos/" keeps its spelling.
            expanded += [(os.path.join(argument, *inside.parts), path / inside)
                         for inside in found]
        else:
            expanded.append((argument, path if path.is_file() else None))
    return expanded


def _folder_files(folder: Path, suffixes: set[str]) -> list[Path]:
    """Paths inside `folder` (sub-folders too) with these suffixes; hidden ones left out."""
    return [path.relative_to(folder) for path in folder.rglob("*")
            if path.is_file() and path.suffix.lower() in suffixes
            and not any(part.startswith(".") for part in path.relative_to(folder).parts)]


def _read_file(path: Path, label: str, spec: InputSpec) -> list[tuple[str, np.ndarray]]:
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return _split_array(label, _load_array(path), spec)
    if suffix == ".npz":
        return [item for key, array in _open_npz(path).items()
                for item in _split_array(f"{label}:{key}", array, spec)]
    if suffix in IMAGE_SUFFIXES:
        if spec.kind != IMAGE:
            raise UsageError(f"{path}: an image, but this model takes {_wanted(spec)}")
        return [(label, _read_image(path, spec))]
    return _read_lines(path, label, spec)


def _load_array(path: Path) -> np.ndarray:
    from ..data.messages import one_line
    from ..data.npz_source import NPY_MAGIC, ZIP_MAGICS, describe_start

    with open(path, "rb") as file:
        start = file.read(len(NPY_MAGIC))
    if start.startswith(ZIP_MAGICS):
        raise UsageError(f"{path}: an .npz archive (np.savez), not a .npy array; rename it "
                         "to .npz")
    if not start.startswith(NPY_MAGIC):
        raise UsageError(f"{path}: not a .npy array ({describe_start(start)}; np.save "
                         "writes .npy files)")
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise UsageError(f"{path}: a damaged .npy array ({one_line(error)}); it may be cut "
                         "short: save it again") from None
    _require_finite(array, f"{path}")
    return array


def _open_npz(path: Path) -> dict[str, np.ndarray]:
    """The inputs of an .npz file: its array `x`, else every array in it."""
    from ..data.npz_source import read_archive

    try:
        arrays = read_archive(path)
    except DataError as error:
        raise UsageError(str(error)) from None
    if "x" in arrays:
        arrays = {"x": arrays["x"]}
    for key, array in arrays.items():
        _require_finite(array, f"{path}: array '{key}'")
    return arrays


def _require_finite(array: np.ndarray, what: str) -> None:
    from ..data.checks import require_finite

    try:
        require_finite(array, what, "a model cannot predict from it; fill in those values")
    except DataError as error:
        raise UsageError(str(error)) from None


def _split_array(name: str, array: np.ndarray, spec: InputSpec) -> list[tuple[str, np.ndarray]]:
    """Accept one example of the model's shape, or a batch of them."""
    shape = tuple(spec.shape)
    if array.shape == shape:
        return [(name, array)]
    if array.shape[1:] == shape:
        return [(f"{name}[{index}]", example) for index, example in enumerate(array)]
    raise UsageError(f"{name}: array of shape {array.shape} does not fit the model's input "
                     f"{shape}; pass one example of shape {shape} or a batch (N, "
                     f"{', '.join(map(str, shape))})")


def _read_image(path: Path, spec: InputSpec) -> np.ndarray:
    import tensorflow as tf

    from ..data.images import decode_file, tensorflow_reason

    try:
        # The same decoding and resizing as training on an image folder: the same pixels.
        image, damage = decode_file(path, tuple(spec.shape))
    except (tf.errors.OpError, OSError) as error:
        raise UsageError(f"{path}: cannot read the image ({tensorflow_reason(error)})") from None
    if damage:  # training leaves such files out too (or names them): no guess from gray pixels
        raise UsageError(f"{path}: the image is damaged (the decoder reports: {damage}); "
                         "replace it")
    # Pixels stay in [0, 255]: the model rescales them itself, as in training.
    return image.astype(np.float32)


def _read_lines(path: Path, name: str, spec: InputSpec) -> list[tuple[str, np.ndarray]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise UsageError(f"{path}: not UTF-8 text; this model takes {_wanted(spec)}") from None
    found = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        label = f"{name}:{number}"
        if spec.kind == TEXT:
            found.append((label, np.asarray(line, dtype=object)))
        elif spec.kind in (VECTOR, TOKENS):
            found.append((label, _parse_numbers(line, label, spec)))
        else:
            raise UsageError(f"{path}: a text file, but this model takes {_wanted(spec)}")
    return found


def _parse_numbers(line: str, label: str, spec: InputSpec) -> np.ndarray:
    try:
        values = np.array([float(v) for v in line.replace(",", " ").split()], dtype="float32")
    except ValueError:
        raise UsageError(f"{label}: expected numbers separated by commas or spaces") from None
    if values.size != int(np.prod(spec.shape)):
        raise UsageError(f"{label}: {values.size} values, but the model takes "
                         f"{int(np.prod(spec.shape))} per example")
    return values.reshape(spec.shape)


def _read_tables(arguments: list[str], spec: InputSpec) -> tuple[list[str], dict]:
    labels: list[str] = []
    columns: dict[str, list] = {column.name: [] for column in spec.columns}
    for argument, path in _expand(arguments, spec):
        if path is None:
            raise _not_an_input(argument, spec)
        for label, row in _read_csv_rows(path, argument, spec):
            labels.append(label)
            for name, value in row.items():
                columns[name].append(value)
    if not labels:
        raise UsageError(f"no rows in {' '.join(arguments)}; this model takes {_wanted(spec)}")
    return labels, table_batch(columns, spec)


def table_batch(columns: dict[str, list], spec: InputSpec) -> dict[str, np.ndarray]:
    """{column name: values} -> {model input name: array}, as a table model takes them."""
    batch = {}
    for column in spec.columns:
        values = columns[column.name]
        batch[input_name(column.name)] = np.asarray(values, dtype=np.float32) \
            if column.type == NUMERIC else np.asarray(values, dtype=object)
    return batch


def _read_csv_rows(path: Path, name: str, spec: InputSpec):
    """(file:line, {column: value}) for each row, with the columns the model was trained on."""
    from ..data.csv_source import read_records

    try:
        records = [(line, fields) for line, fields in read_records(str(path), spec.delimiter)
                   if fields]
    except DataError as error:
        raise UsageError(str(error)) from None
    header = spec.column_names
    if header is None:  # the training files had a header row, so these must too
        if not records:
            return
        header = [name.strip() for name in records.pop(0)[1]]
    missing = [column.name for column in spec.columns if column.name not in header]
    if missing:
        raise UsageError(f"{path}: no column {', '.join(repr(name) for name in missing)}; "
                         f"this model takes {_wanted(spec)}")
    for line, fields in records:
        where = f"{name}:{line}"
        if len(fields) != len(header):
            raise UsageError(f"{path}:{line}: {len(fields)} fields, but the header has "
                             f"{len(header)}")
        yield where, {column.name: column_value(column, fields[header.index(column.name)],
                                                f"{path}:{line}") for column in spec.columns}


def column_value(column, value: str, where: str):
    """One field of a CSV row as the model's input for its column takes it."""
    from ..data.csv_source import is_number

    if column.type == NUMERIC:
        if not is_number(value):
            raise UsageError(f"{where}: column '{column.name}' holds {value!r}, not a number")
        return float(value)
    if column.type == CATEGORICAL:
        return value.strip()
    return value


def _not_an_input(argument: str, spec: InputSpec) -> UsageError:
    """The error for an argument that is no input: say what it is when it exists."""
    if Path(argument).exists():  # folders are read by _expand: this is a device, socket, pipe
        return UsageError(f"{argument} is not a regular file (a device, socket or pipe); this "
                          f"model takes {_wanted(spec)}")
    return UsageError(f"input not found: {argument}; this model takes {_wanted(spec)}")


def _wanted(spec: InputSpec) -> str:
    if spec.kind == TABLE:
        if spec.column_names:
            return f"CSV files without a header, columns in order: {', '.join(spec.column_names)}"
        return ("CSV files with a header row and the columns "
                f"{', '.join(column.name for column in spec.columns)}"
                + (f" ('{spec.label_column}' may be present; it is ignored)"
                   if spec.label_column else ""))
    shape = tuple(spec.shape)
    return {
        IMAGE: f"images (.png, .jpg, ...) or .npy arrays of shape {shape}",
        VECTOR: f".npy/.npz arrays of shape {shape}, or text files of numbers, one per line",
        TOKENS: f".npy/.npz arrays of token ids of shape {shape}",
        TEXT: "raw strings, or text files with one example per line",
    }[spec.kind]


def _short(text: str, width: int = 40) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
