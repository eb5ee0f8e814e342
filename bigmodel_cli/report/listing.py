"""`bigmodel runs`: the run directories of a folder, one row each (runinfo.summary)."""

from __future__ import annotations

import fnmatch
from pathlib import Path

from rich.table import Table

from ..errors import UsageError
from . import runinfo

# sort key -> the row field it sorts by
SORT_FIELDS = {"name": "name", "state": "state", "family": "family", "data": "data",
               "epochs": "epochs_done", "best": "best", "test": "test",
               "wall": "wall_seconds", "parameters": "parameters", "modified": "modified"}


def rows(folder: Path, sort: str = "name", name_filter: str | None = None) -> list[dict]:
    folder = Path(folder)
    if not folder.is_dir():
        raise UsageError(f"no folder {folder}; pass the folder your runs are in "
                         "(default runs/, where 'bigmodel train' writes)")
    key = sort.removeprefix("-")
    if key not in SORT_FIELDS:
        from ..errors import lookup

        lookup(SORT_FIELDS, "--sort key", key, UsageError)  # raises, naming the closest key
    found = []
    for run in runinfo.find_runs(folder):
        row = runinfo.summary(run)
        row["name"] = str(run.path.relative_to(folder)) if run.path != folder else run.path.name
        if name_filter is None or fnmatch.fnmatchcase(row["name"], name_filter):
            found.append(row)
    field = SORT_FIELDS[key]
    present = [row for row in found if row[field] is not None]
    missing = [row for row in found if row[field] is None]  # always last
    present.sort(key=lambda row: row[field], reverse=sort.startswith("-"))
    return present + missing


def table(found: list[dict], folder: Path) -> Table:
    result = Table(title=f"{len(found)} run{'s' if len(found) != 1 else ''} in {folder}")
    for heading in ("name", "state", "family", "data", "epochs", "best", "test", "wall",
                    "parameters"):
        result.add_column(heading, justify="left" if heading in ("name", "state", "family",
                                                                   "data") else "right")
    for row in found:
        best = f"{row['monitor']} {row['best']:.4f}" if row["best"] is not None else ""
        test = f"{row['test_metric']} {row['test']:.4f}" if row["test"] is not None else ""
        wall = f"{row['wall_seconds']:.1f} s" if row["wall_seconds"] is not None else ""
        state = row["state"] + (f" ({row['why']})" if row["why"] and row["state"] in (
            runinfo.FAILED, runinfo.RUNNING, runinfo.INTERRUPTED) else "")
        result.add_row(row["name"], state, row["family"] or "", row["data"],
                       f"{row['epochs_done']}/{row['epochs_planned']}", best, test, wall,
                       f"{row['parameters']:,}" if row["parameters"] else "")
    return result
