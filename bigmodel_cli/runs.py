"""The run directory: everything one training run leaves behind, at fixed names.

runs/<name>/
  config.yaml        the resolved config (every default written out)
  spec.json          input and target description, class names: what predict needs
  versions.json      bigmodel, TensorFlow, Keras and Python versions
  checkpoints/       best.keras (by checkpoint.monitor) and last.keras, Keras format
  backup/            BackupAndRestore state: running train again resumes from here
  metrics.jsonl      one JSON line per epoch; metrics.csv holds the same table
  logs/              TensorBoard event files
  results.json       test metrics and run facts; written last, so it marks a finished run
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from . import atomic
from .errors import UsageError


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
    results = property(lambda self: self.path / "results.json")

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
        if not self.path.is_dir():
            raise UsageError(f"run directory not found: {self.path}; "
                             "pass the folder 'bigmodel train' wrote (default runs/<name>)")
        if not self.config.exists() or not self.spec.exists():
            raise UsageError(f"{self.path} is not a bigmodel run directory (no config.yaml "
                             "or spec.json); pass the folder 'bigmodel train' wrote")
        return self


def json_text(data) -> str:
    return json.dumps(data, indent=2) + "\n"


def write_json(path: Path, data) -> None:
    atomic.write_text(path, json_text(data))


def read_json(path: Path):
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise UsageError(f"cannot read {path}: {error}") from None
