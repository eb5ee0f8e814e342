"""CSV files: one example per row, a label column, and feature columns that are numeric,
categorical or text.

data.path is a file, a folder of *.csv files or a glob pattern; every file has the same
columns. Without data.columns every other column is a feature: numeric when all its values are
numbers, categorical otherwise. A bad row (a wrong number of fields, text in a numeric column,
an empty label) is named by file, line and column, or left out and counted with
data.on_bad_file: skip. The rows become a numpy structured array, one field per feature.
Label values holding '|' ("comedy|drama") make a multilabel target: several labels per row,
carried as multi-hot rows.
"""

from __future__ import annotations

import csv
import glob
import io
import math
from pathlib import Path

import numpy as np

from ..errors import ConfigError, DataError, did_you_mean
from ..tasks.names import classification_task
from .spec import (
    CATEGORICAL,
    MULTILABEL,
    NUMERIC,
    REGRESSION,
    TABLE,
    ColumnSpec,
    RawData,
    Split,
)

MOSTLY_NUMBERS = 0.9  # an inferred column this numeric is a numeric column with typos
LABEL_SEPARATOR = "|"  # between the labels of a multilabel row


class BadRow(Exception):
    """One row that cannot be used; the message names the line and the column."""


def load(data_config, seed: int) -> RawData:
    files = csv_files(data_config.path)
    header, rows = read_rows(files, data_config)
    label = data_config.label_column
    if label not in header:
        raise DataError(f"{files[0]}: no column '{label}' (data.label_column)"
                        f"{did_you_mean(label, header)}; its columns: {', '.join(header)}")
    columns = feature_columns(data_config, header, rows)
    if not columns:
        raise DataError(f"{files[0]}: no feature columns besides the label '{label}'; "
                        "a model needs at least one input column")
    positions = {name: header.index(name) for name in header}
    skipped, parsed, wheres = [], [], []
    for where, fields in rows:
        try:
            parsed.append(parse_row(where, fields, header, columns, positions, label))
            wheres.append(where)
        except BadRow as bad:
            refuse_unless_skipping(data_config, bad)
            skipped.append(where)
    for index in reversed(non_finite_labels(data_config, parsed, wheres)):
        skipped.append(wheres[index])
        del parsed[index]
    if not parsed:
        raise DataError(f"{data_config.path}: no usable rows")
    task, class_names, y = read_labels(data_config, [target for _, target in parsed])
    dtype = [(column.name, np.float32 if column.type == NUMERIC else object)
             for column in columns]
    x = np.array([tuple(values) for values, _ in parsed], dtype=dtype)
    return RawData(
        train=Split(x=x, y=y), input_kind=TABLE, task=task, class_names=class_names,
        columns=columns, skipped=skipped,
        table_format={"delimiter": data_config.delimiter, "label_column": label,
                      "column_names": None if data_config.header else list(header)})


def refuse_unless_skipping(data_config, bad: BadRow) -> None:
    if data_config.on_bad_file != "skip":
        raise DataError(f"{bad}; or set data.on_bad_file: skip to leave bad rows out") from None


def non_finite_labels(data_config, parsed: list, wheres: list[str]) -> list[int]:
    """Rows whose label is 'nan' or 'inf' among numeric labels: bad rows, not a class named
    'nan' (which would silently turn a regression into a classification)."""
    texts = [target for _, target in parsed]
    if data_config.label_type == "categorical" or not all(map(parses_as_float, texts)):
        return []
    found = [index for index, text in enumerate(texts) if not is_number(text)]
    for index in found:
        refuse_unless_skipping(data_config, BadRow(
            f"{wheres[index]}: column '{data_config.label_column}' (the label) holds "
            f"{texts[index]!r}, not a finite number; fill it in or remove the row"))
    return found


def csv_files(path: str) -> list[str]:
    location = Path(path).expanduser()
    if location.is_dir():
        files = sorted(str(file) for file in location.glob("*.csv"))
    else:
        files = sorted(glob.glob(str(location))) or []
    if not files and location.is_dir():
        raise ConfigError(f"data.path: {path} is a folder with no .csv file in it; give a "
                          "file, a folder of .csv files or a pattern like data/*.txt")
    if not files:
        raise ConfigError(f"data.path: no CSV file at {path}; give a file, a folder of .csv "
                          "files or a pattern like data/*.csv")
    return files


def read_rows(files: list[str], data_config) -> tuple[list[str], list[tuple[str, list[str]]]]:
    """(column names, [(file:line, fields)]) over all files; blank lines are not rows."""
    header, rows = data_config.column_names, []
    for path in files:
        records = [(line, fields) for line, fields in read_records(path, data_config.delimiter)
                   if fields]
        if data_config.header:
            if not records:
                raise DataError(f"{path}: empty; a CSV file with data.header true starts with "
                                "a row of column names")
            _, names = records.pop(0)
            names = [name.strip() for name in names]
            if header is not None and names != header:
                raise DataError(f"{path}: its columns ({', '.join(names)}) differ from "
                                f"{files[0]}'s ({', '.join(header)}); give files of one table")
            header = names
        rows += [(f"{path}:{line}", fields) for line, fields in records]
    duplicates = sorted({name for name in header if header.count(name) > 1})
    if duplicates:
        raise DataError(f"{files[0]}: column name(s) {', '.join(duplicates)} appear twice")
    return header, rows


def read_records(path: str, delimiter: str):
    """(line number, fields) of each record; an encoding error names its line."""
    content = Path(path).read_bytes()
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = content[:error.start].count(b"\n") + 1
        raise DataError(f"{path}:{line}: not UTF-8 text (byte 0x{content[error.start]:02x}); "
                        "re-save the file as UTF-8") from None
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        for fields in reader:
            yield reader.line_num, fields
    except csv.Error as error:
        raise DataError(f"{path}:{reader.line_num}: {error}; check the quoting") from None


def feature_columns(data_config, header: list[str], rows) -> list[ColumnSpec]:
    label = data_config.label_column
    if data_config.columns is None:
        return [ColumnSpec(name=name, type=infer_type(name, header.index(name), rows))
                for name in header if name != label]
    if label in data_config.columns:
        raise ConfigError(f"data.columns.{label}: the label column cannot be a feature too")
    for name in data_config.columns:
        if name not in header:
            raise DataError(f"data.columns names '{name}', which the CSV does not have"
                            f"{did_you_mean(name, header)}; its columns: {', '.join(header)}")
    return [ColumnSpec(name=name, type=kind) for name, kind in data_config.columns.items()]


def infer_type(name: str, position: int, rows) -> str:
    """numeric when (nearly) every value is a number; the rest is caught row by row ('nan' and
    'inf' count as numbers here, so that they are reported as bad values, not read as
    categories)."""
    values = [fields[position] for _, fields in rows if position < len(fields)]
    numbers = sum(parses_as_float(value) for value in values)
    return NUMERIC if values and numbers >= MOSTLY_NUMBERS * len(values) else CATEGORICAL


def is_number(value: str) -> bool:
    """A finite number: what a numeric column or label may hold."""
    return parses_as_float(value) and math.isfinite(float(value))


def parses_as_float(value: str) -> bool:
    try:
        float(value)
        return True
    except ValueError:
        return False


def parse_row(where, fields, header, columns, positions, label):
    """([feature values], label text) of one row, or BadRow."""
    if len(fields) != len(header):
        raise BadRow(f"{where}: {len(fields)} fields, but the header has {len(header)}; "
                     "fix the row (a missing or extra delimiter?)")
    values = []
    for column in columns:
        value = fields[positions[column.name]]
        if column.type == NUMERIC:
            value = number(value, where, column.name)
        elif column.type == CATEGORICAL:
            value = value.strip()  # 'a, b' files: the same category with or without the space
        values.append(value)
    target = fields[positions[label]].strip()
    if not target:
        raise BadRow(f"{where}: column '{label}' (the label) is empty; fill it in")
    return values, target


def number(value: str, where: str, column: str) -> float:
    if is_number(value):
        return float(value)
    if parses_as_float(value):  # nan, inf: a number, but one no model can learn from
        raise BadRow(f"{where}: column '{column}' holds {value.strip()!r}, not a finite "
                     "number; fill in the value or remove the row")
    shown = repr(value) if value.strip() else "nothing"
    raise BadRow(f"{where}: column '{column}' holds {shown}, not a number; fix the row, or "
                 f"declare the column categorical (data.columns: {{{column}: categorical}})")


def read_labels(data_config, texts: list[str]) -> tuple[str, list[str], np.ndarray]:
    """(task, class names, y) from the label texts."""
    if data_config.label_type == "multilabel" or (
            data_config.label_type == "auto" and any(LABEL_SEPARATOR in text for text in texts)):
        return multilabel_labels(data_config, texts)
    numbers = [float(text) if is_number(text) else None for text in texts]
    all_numbers = all(value is not None for value in numbers)
    regression = data_config.label_type == "numeric" or (
        data_config.label_type == "auto" and all_numbers
        and any(value != int(value) for value in numbers))
    if regression:
        if not all_numbers:
            bad = texts[numbers.index(None)]
            raise DataError(f"label '{bad}' in column '{data_config.label_column}' is not a "
                            "number, but data.label_type is numeric")
        return REGRESSION, [], np.asarray(numbers, np.float32)
    if all_numbers and all(value == int(value) for value in numbers):
        # Class ids written as numbers: ordered by value, named without a trailing '.0'.
        texts = [str(int(value)) for value in numbers]
        class_names = sorted(set(texts), key=int)
    else:
        class_names = sorted(set(texts))
    if len(class_names) < 2:
        raise DataError(f"column '{data_config.label_column}' has one class "
                        f"({class_names[0]!r}); a classifier needs at least two")
    ids = {name: index for index, name in enumerate(class_names)}
    task = classification_task(len(class_names))
    return task, class_names, np.asarray([ids[text] for text in texts], np.int32)


def multilabel_labels(data_config, texts: list[str]) -> tuple[str, list[str], np.ndarray]:
    """(multilabel, label names, multi-hot y) from texts like 'comedy|drama'."""
    rows = [{label.strip() for label in text.split(LABEL_SEPARATOR)} - {""} for text in texts]
    names = sorted(set().union(*rows))
    if len(names) < 2:
        raise DataError(f"column '{data_config.label_column}' has {len(names)} distinct "
                        f"label(s) {names}; a multilabel target needs at least two")
    ids = {name: index for index, name in enumerate(names)}
    y = np.zeros((len(rows), len(names)), np.uint8)
    for row, labels in enumerate(rows):
        y[row, [ids[label] for label in labels]] = 1
    return MULTILABEL, names, y
