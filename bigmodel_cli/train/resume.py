"""Deciding how a run starts again: which config changes a resume can take, and tidy-ups.

A resumed run continues from a backup of the same model, data and optimizer. Changing those
would silently train something else, so such changes are refused with the diff; settings
that only say how long or how visibly to train are allowed and listed.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from ..errors import ConfigError, UsageError
from ..runs import RunDir

# Dotted-key prefixes a resume may change; anything else changes what is being trained.
SAFE_TO_CHANGE = (
    "name", "training.epochs", "training.early_stopping", "training.tensorboard",
    "training.steps_per_execution", "training.jit_compile", "training.deterministic",
    "training.peak_flops", "checkpoint.keep_last", "checkpoint.backup_every_steps",
    "distribute",
)


def config_changes(old: dict, new: dict) -> tuple[list[str], list[str]]:
    """(safe, breaking) changes, each a line `key: old -> new`."""
    safe, breaking = [], []
    old_flat, new_flat = _flatten(old), _flatten(new)
    for key in sorted(set(old_flat) | set(new_flat)):
        before, after = old_flat.get(key, "(unset)"), new_flat.get(key, "(unset)")
        if before == after:
            continue
        line = f"{key}: {before!r} -> {after!r}"
        is_safe = any(key == prefix or key.startswith(prefix + ".") for prefix in SAFE_TO_CHANGE)
        (safe if is_safe else breaking).append(line)
    return safe, breaking


def check_config_change(run: RunDir, new: dict, force: bool, report) -> None:
    """Refuse a resume whose config changes what is trained, unless forced."""
    old = yaml.safe_load(run.config.read_text(encoding="utf-8")) or {}
    safe, breaking = config_changes(old, new)
    for line in safe:
        report(f"config change allowed on resume: {line}")
    if breaking and not force:
        raise ConfigError(
            f"{run.path} holds an unfinished run with a different config; resuming it would "
            f"train something else: {'; '.join(breaking)}. Use --restart to start over, "
            "another --run-dir, or --force to resume anyway")
    for line in breaking:
        report(f"config change forced on resume: {line}")


def restart(run: RunDir) -> None:
    """Remove a previous run in this directory; refuse to delete a folder that is not one."""
    if not run.path.exists():
        return
    if not run.config.exists() and any(run.path.iterdir()):
        raise UsageError(f"--restart: {run.path} is not a bigmodel run directory, so it is "
                         "not deleted; pass an empty or new --run-dir")
    shutil.rmtree(run.path)


def trim_metrics(run: RunDir, completed_epochs: int) -> None:
    """Drop logged epochs after the backup from both metrics files, in the same way, so a
    resumed run logs each epoch once (a line cut short by a kill goes too)."""
    from . import metrics_log

    metrics_log.trim(run.metrics_jsonl, run.metrics_csv, completed_epochs)


def _flatten(data, prefix: str = "") -> dict:
    if not isinstance(data, dict):
        return {prefix: data}
    flat = {}
    for key, value in data.items():
        flat.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return flat


def resolve_init_from(path: Path) -> Path:
    path = Path(path)
    if path.is_dir():
        return RunDir(path).model_file()
    if path.suffix != ".keras" or not path.is_file():
        raise UsageError(f"--init-from {path}: expected a run directory or a .keras checkpoint")
    return path
