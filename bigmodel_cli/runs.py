"""The run directory: everything one training run leaves behind, at fixed names.

runs/<name>/
  config.yaml        the resolved config (every default written out)
  spec.json          input and target description, class names: what predict needs
  tokenizer.json     a BPE tokenizer's definition (tokenizers' JSON), named in spec.json
  versions.json      bigmodel, TensorFlow, Keras and Python versions
  checkpoints/       best.keras (by checkpoint.monitor) and last.keras, Keras format
  backup/            BackupAndRestore state: running train again resumes from here
  metrics.jsonl      one JSON line per epoch; metrics.csv holds the same table
  logs/              TensorBoard event files
  cache/             decoded examples on disk (data.cache: auto or disk), filled while loading
                     the data and deleted when the run finishes
  results.json       test metrics and run facts; written last, so it marks a finished run
  process.json       the process training it now (train/liveness.py); failed.json: its error
  plots/             curves.png, confusion_matrix.png, roc.png, examples.png; report.html

bigmodel deletes only what it wrote there (the names below), never a file it does not know.
"""

from __future__ import annotations

import contextlib
import fnmatch
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from . import atomic
from .errors import RunError, UsageError

# Every file bigmodel writes in a run directory, as globs: --restart removes these only.
OWN_FILES = (
    "config.yaml", "spec.json", "tokenizer.json", "versions.json", "results.json",
    "metrics.jsonl", "metrics.csv",
    "checkpoints/epoch-*.keras", "checkpoints/best.keras", "checkpoints/last.keras",
    "checkpoints/best.json", "backup/state-*.json", "backup/state-*.weights.h5",
    "logs/train/events.out.tfevents.*", "logs/validation/events.out.tfevents.*",
    "cache/*-*.u8", "cache/*-*.json",
    "process.json", "failed.json", "plots/*.png", "report.html",
    "explanations/explanations.html", "explanations/explanations.json",
    "explanations/[0-9][0-9][0-9]*-*.png", "explanations/grid.png",
)
# Its folders, deepest first: removed once nothing else is left in them.
OWN_FOLDERS = ("logs/train", "logs/validation", "logs", "checkpoints", "backup", "cache",
               "plots", "explanations")
# Folders `bigmodel export` writes whole (a SavedModel's tree): removed whole by --restart,
# since they hold the old model, but only when their marker file says they are an export.
OWN_TREES = {"export": "export.json"}
# Any of these marks a folder as a bigmodel run; a config.yaml alone could be the user's own.
# cache/ is filled before the other files are written: an attempt stopped in between (a
# config mistake found later) leaves it, and the next attempt reuses it.
MARKERS = ("spec.json", "versions.json", "results.json", "backup", "cache")

# Files directly in a run directory: given one of them, the run directory is its folder.
RUN_FILES = tuple(name for name in OWN_FILES if "/" not in name)


@dataclass(frozen=True)
class RunDir:
    path: Path

    config = property(lambda self: self.path / "config.yaml")
    spec = property(lambda self: self.path / "spec.json")
    versions = property(lambda self: self.path / "versions.json")
    checkpoints = property(lambda self: self.path / "checkpoints")
    best = property(lambda self: self.path / "checkpoints" / "best.keras")
    last = property(lambda self: self.path / "checkpoints" / "last.keras")
    backup = property(lambda self: self.path / "backup")
    metrics_jsonl = property(lambda self: self.path / "metrics.jsonl")
    metrics_csv = property(lambda self: self.path / "metrics.csv")
    logs = property(lambda self: self.path / "logs")
    cache = property(lambda self: self.path / "cache")
    results = property(lambda self: self.path / "results.json")
    process = property(lambda self: self.path / "process.json")
    failed = property(lambda self: self.path / "failed.json")
    plots = property(lambda self: self.path / "plots")
    report = property(lambda self: self.path / "report.html")

    @property
    def finished(self) -> bool:
        return self.results.exists()

    def model_file(self) -> Path:
        """The checkpoint predict and evaluate use: the best one, else the last one."""
        return self.model_files()[0]

    def model_files(self) -> list[Path]:
        """Checkpoints to try in order: best, then last (if the best one is unreadable)."""
        found = [candidate for candidate in (self.best, self.last) if candidate.exists()]
        if found:
            return found
        raise UsageError(f"{self.path}: no checkpoint in {self.checkpoints}; "
                         "train first with 'bigmodel train CONFIG --run-dir "
                         f"{self.path}'")

    def require(self) -> RunDir:
        """Fail with a clear message unless this looks like a run directory."""
        if self.path.is_file():
            raise UsageError(f"{self.path} is a file, not a run directory; {self._file_hint()}")
        if self.path.exists() and not self.path.is_dir():
            raise UsageError(f"{self.path} is not a folder (a device, socket or pipe); pass "
                             "the run directory 'bigmodel train' wrote (default runs/<name>)")
        if not self.path.is_dir():
            raise UsageError(f"run directory not found: {self.path}; "
                             "pass the folder 'bigmodel train' wrote (default runs/<name>)")
        if not self.config.exists() or not self.spec.exists():
            runs = self._runs_inside()
            if runs:
                raise UsageError(f"{self.path} is a folder of run directories, not one; pass "
                                 f"one of them, e.g. {self.path / runs[0]} (it holds "
                                 f"{', '.join(runs[:5])}{', ...' if len(runs) > 5 else ''})")
            raise UsageError(f"{self.path} is a folder, but it is not a bigmodel run "
                             "directory (no config.yaml or spec.json); pass the folder "
                             "'bigmodel train' wrote")
        self.remove_abandoned_temporaries()
        return self

    def is_run(self) -> bool:
        """Whether this folder holds a bigmodel run (finished or not), even a half-written one."""
        if any((self.path / marker).exists() for marker in MARKERS):
            return True
        names = {name.split("/")[0] for name in OWN_FILES} | set(OWN_TREES)
        return self.config.exists() and all(entry.name in names or self._own_temporary(entry)
                                            for entry in self.path.iterdir())

    def claim(self) -> None:
        """Check, before anything is trained, that `train` may write here; tidy up.

        A folder that exists, is not empty and holds no bigmodel run belongs to someone else:
        refused, so that nothing of it is overwritten or deleted.
        """
        existing = next(parent for parent in (self.path, *self.path.parents)
                        if os.path.lexists(parent))
        if not existing.is_dir():
            what = "" if existing == self.path else f": {existing}"
            raise RunError(f"--run-dir {self.path}{what} is a file, not a folder; pass a new "
                           "folder or a run directory of bigmodel's")
        if existing != self.path:
            if not os.access(existing, os.W_OK | os.X_OK):
                raise RunError(f"cannot create run directory {self.path}: {existing} is not "
                               "writable; choose a folder you can write to")
            return
        entries = [entry for entry in self.path.iterdir() if not self._own_temporary(entry)]
        if entries and not self.is_run():
            shown = ", ".join(sorted(entry.name for entry in entries)[:3])
            raise UsageError(
                f"--run-dir {self.path} is not empty ({shown}{', ...' if len(entries) > 3 else ''}"
                ") and holds no bigmodel run (none of spec.json, versions.json, results.json, "
                "backup/, cache/), so bigmodel writes nothing there; pass a new or empty folder")
        self.remove_abandoned_temporaries()

    def remove_abandoned_temporaries(self) -> list[Path]:
        """Delete half-written files of bigmodel's whose writer is gone (kill -9, full disk)."""
        removed = []
        for folder in ("", "checkpoints", "backup", "plots"):
            for temporary in atomic.temporaries(self.path / folder):
                if self._own_temporary(temporary) and atomic.abandoned(temporary):
                    with contextlib.suppress(OSError):  # a run others may read, not change
                        temporary.unlink(missing_ok=True)
                        removed.append(temporary)
        return removed

    def remove_own(self) -> tuple[list[str], list[str]]:
        """Delete what bigmodel wrote here: (what was removed, what was kept as not ours)."""
        removed = [path for pattern in OWN_FILES for path in self.path.glob(pattern)
                   if path.is_file() or path.is_symlink()]
        removed += [temporary for folder in ("", "checkpoints", "backup", "plots")
                    for temporary in atomic.temporaries(self.path / folder)
                    if self._own_temporary(temporary)]
        for path in removed:
            path.unlink(missing_ok=True)
        listing = _summary([path.relative_to(self.path) for path in removed])
        for folder, marker in OWN_TREES.items():
            tree = self.path / folder
            if (tree / marker).is_file() and not tree.is_symlink():
                shutil.rmtree(tree)
                listing.append(f"{folder}/")
        for folder in OWN_FOLDERS:
            path = self.path / folder
            if path.is_dir() and not path.is_symlink() and not any(path.iterdir()):
                path.rmdir()
                if "/" not in folder and not any(item.startswith(f"{folder}/")
                                                 for item in listing):
                    listing.append(f"{folder}/")
        kept = [path.relative_to(self.path) for path in sorted(self.path.rglob("*"))
                if not path.is_dir()]
        return listing, _summary(kept)

    def _own_temporary(self, path: Path) -> bool:
        """Whether `path` is a temporary file atomic.py made for one of bigmodel's files."""
        if not atomic.is_temporary(path) or not path.is_file():
            return False
        relative = atomic.final_name(path).relative_to(self.path).as_posix()
        return any(fnmatch.fnmatchcase(relative, pattern) for pattern in OWN_FILES)

    def _runs_inside(self) -> list[str]:
        """Names of the run directories directly inside this folder (runs/ given for one)."""
        try:
            return sorted(folder.name for folder in self.path.iterdir()
                          if (folder / "spec.json").is_file())
        except OSError:
            return []

    def _file_hint(self) -> str:
        if self.path.name in RUN_FILES:
            return f"pass the folder that holds it: {self.path.parent}"
        if self.path.suffix in (".yaml", ".yml"):
            return (f"a config is trained with 'bigmodel train {self.path}', which writes the "
                    "run directory to pass here (default runs/<name>)")
        return "pass the folder 'bigmodel train' wrote (default runs/<name>)"


def _summary(paths: list[Path]) -> list[str]:
    """Top-level names: a file as itself, a folder as `name/ (N files)`."""
    files = [str(path) for path in paths if len(path.parts) == 1]
    folders: dict[str, int] = {}
    for path in paths:
        if len(path.parts) > 1:
            folders[path.parts[0]] = folders.get(path.parts[0], 0) + 1
    return files + [f"{name}/ ({count} file{'s' if count > 1 else ''})"
                    for name, count in folders.items()]


def json_text(data) -> str:
    return json.dumps(data, indent=2) + "\n"


def write_json(path: Path, data) -> None:
    atomic.write_text(path, json_text(data))


def read_json(path: Path):
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise UsageError(f"cannot read {path}: {error}") from None
