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

# Files a run directory holds: given one of them, the run directory is its folder.
RUN_FILES = ("config.yaml", "spec.json", "versions.json", "results.json", "metrics.jsonl",
             "metrics.csv")


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
        return self

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


def json_text(data) -> str:
    return json.dumps(data, indent=2) + "\n"


def write_json(path: Path, data) -> None:
    atomic.write_text(path, json_text(data))


def read_json(path: Path):
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise UsageError(f"cannot read {path}: {error}") from None
