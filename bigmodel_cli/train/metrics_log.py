"""The per-epoch metrics of a run in two files: metrics.jsonl and metrics.csv, the same table.

Each epoch is one row in both: epoch (counted from 1), global step, seconds, learning rate,
then every metric in name order; LF line endings. The JSON lines are the log; the CSV is the
same rows for spreadsheets. Kept free of Keras: a resume trims the files before training.

Safety: the first epoch a process logs rewrites both files whole (temp name + rename) from the
complete JSON lines of epochs before it, so a line cut short by a kill or a full disk, an epoch
that a resumed run trains again, or a CSV that missed its last row never survives. Later
epochs are appended, one whole line per write, and fsync'ed.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

from .. import atomic

FIRST_COLUMNS = ("epoch", "step", "seconds", "learning_rate")


class MetricsFiles:
    """Adds one epoch's record to both files."""

    def __init__(self, jsonl: Path, csv_path: Path):
        self.jsonl, self.csv = Path(jsonl), Path(csv_path)
        self.records: list[dict] | None = None  # read at the first epoch this process logs
        self.columns: list[str] = []

    def add(self, record: dict) -> None:
        if self.records is None:
            self.records = [earlier for earlier in read_records(self.jsonl)
                            if earlier["epoch"] < record["epoch"]]
            self.records.append(record)
            self.columns = rewrite(self.jsonl, self.csv, self.records)
            return
        self.records.append(record)
        append_line(self.jsonl, json.dumps(record))
        if set(record) <= set(self.columns):
            append_line(self.csv, csv_text([record], self.columns, header=False).rstrip("\n"))
        else:  # a metric that earlier epochs did not have: a new header
            self.columns = columns_of(self.records)
            atomic.write_text(self.csv, csv_text(self.records, self.columns))


def read_records(path: Path) -> list[dict]:
    """The complete records of a JSON-lines log, in order; a line cut short is left out."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    records = []
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue  # the end of a write interrupted by a kill or a full disk
        if isinstance(record, dict) and isinstance(record.get("epoch"), int):
            records.append(record)
    return records


def trim(jsonl: Path, csv_path: Path, completed_epochs: int) -> None:
    """Keep epochs 1 to `completed_epochs` in both files (a resume from a backup taken then)."""
    if not (Path(jsonl).exists() or Path(csv_path).exists()):
        return
    kept = [record for record in read_records(jsonl) if record["epoch"] <= completed_epochs]
    rewrite(jsonl, csv_path, kept)


def rewrite(jsonl: Path, csv_path: Path, records: list[dict]) -> list[str]:
    """Write both files whole from `records`; returns the CSV's columns."""
    atomic.write_text(jsonl, "".join(json.dumps(record) + "\n" for record in records))
    columns = columns_of(records)
    atomic.write_text(csv_path, csv_text(records, columns))
    return columns


def columns_of(records: list[dict]) -> list[str]:
    others = sorted({key for record in records for key in record} - set(FIRST_COLUMNS))
    return [*FIRST_COLUMNS, *others]


def csv_text(records: list[dict], columns: list[str], header: bool = True) -> str:
    """CSV rows with LF endings (the csv module's default is CRLF); a missing value is empty."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, columns, restval="", lineterminator="\n")
    if header:
        writer.writeheader()
    writer.writerows(records)
    return buffer.getvalue()


def append_line(path: Path, line: str) -> None:
    """Append one line in one write and fsync it, so a reader never waits on a buffer."""
    with open(path, "a", encoding="utf-8", newline="\n") as file:
        file.write(line + "\n")
        file.flush()
        os.fsync(file.fileno())
