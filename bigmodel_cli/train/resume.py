"""Deciding how a run starts: fresh, resumed, extended or already done, and tidy-ups.

A resumed run continues from a backup of the same model, data and optimizer. Changing those
would silently train something else, so such changes are refused with the diff; settings
that only say how long or how visibly to train are allowed and listed. A finished run is
trained on (`--extend`) from its last checkpoint, which holds the optimizer's state too.
Deciding reads the run directory only; nothing in it changes until training really starts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..errors import ConfigError, RunError, UsageError
from ..runs import RunDir, read_json
from . import checkpoints
from .checkpoints import TrainingState

# Dotted-key prefixes a resume may change; anything else changes what is being trained.
SAFE_TO_CHANGE = (
    "name", "training.epochs", "training.early_stopping", "training.tensorboard",
    "training.steps_per_execution", "training.jit_compile", "training.deterministic",
    "training.peak_flops", "checkpoint.keep_last", "checkpoint.backup_every_steps",
    "distribute",
    "data.cache",  # where decoded examples are kept: the batches are the same
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


@dataclass
class Start:
    """How `train` starts: `fresh`, `resume` (from a backup), `extend` or `done`."""

    kind: str
    weights: Path | None = None  # a backup's weights, or the finished run's last checkpoint
    state: TrainingState | None = None  # where training stands in `weights`
    best: dict | None = None  # an extended run's best.json: its best value so far


def plan(run: RunDir, new: dict, *, restart: bool, force: bool, extend: bool, warn) -> Start:
    """How to start `run` with the config `new`, or an error saying why not and what to do."""
    if restart:
        if extend:
            raise UsageError("--restart trains from scratch and --extend trains a finished "
                             "run on; pass one of them")
        return Start("fresh")
    backup = checkpoints.latest_backup(run.backup, warn)
    if backup is None and checkpoints.has_backups(run.backup):
        raise RunError(f"{run.backup}: no intact backup to resume from (see the warnings "
                       "above); use --restart to start over, or another --run-dir")
    results = read_json(run.results) if run.finished else None
    # A backup past the finished steps is an extension that was interrupted: resume it.
    if results is not None and not (backup and backup[1].global_step > results["steps"]):
        return _finished(run, results, new, force, extend, warn)
    if backup:
        if run.config.exists():
            check_config_change(run, new, force, warn)
        return Start("resume", *backup)
    if extend:
        raise UsageError(f"--extend: {run.path} holds no finished run to train on; "
                         "leave --extend out to start this run")
    return Start("fresh")


def _finished(run: RunDir, results: dict, new: dict, force: bool, extend: bool,
              warn) -> Start:
    """A finished run: done if nothing differs, else an extension or an error saying what.

    Its backups are spent, so an extension starts from `last.keras` (weights and optimizer
    state; with training.ema, the averaged weights) and from the epoch that file holds.
    """
    trained, epochs = results["epochs"], new["training"]["epochs"]
    safe, breaking = config_changes(_stored_config(run), new)
    if not extend:
        if not safe and not breaking:
            return Start("done")
        how = (f"--extend to train it on from its last checkpoint (epoch {trained}; "
               f"training.epochs must be above {trained}), " if not breaking else "")
        raise ConfigError(
            f"{run.path} holds a finished run ({trained} epochs) whose config differs: "
            f"{'; '.join(breaking + safe)}. Use {how}--restart to train it again from "
            "scratch, or another --run-dir")
    if breaking and not force:
        raise ConfigError(
            f"--extend: {run.path} would train something else: {'; '.join(breaking)}. "
            "Extending keeps the model, data and optimizer; use --restart, another "
            "--run-dir, or --force to extend anyway")
    if epochs <= trained:
        raise ConfigError(f"--extend: training.epochs is {epochs} and the run in {run.path} "
                          f"has trained {trained}; ask for more, e.g. --set "
                          f"training.epochs={trained * 2}")
    if not run.last.exists():
        raise RunError(f"--extend: {run.last} is missing, so the run cannot go on; use "
                       "--restart to train it again")
    for line in safe:
        warn(f"config change on extend: {line}")
    for line in breaking:
        warn(f"config change forced on extend: {line}")
    epoch = _checkpoint_epoch(run) or trained
    steps_per_epoch = results["steps"] // trained
    state = TrainingState(global_step=epoch * steps_per_epoch, epoch=epoch, step_in_epoch=0)
    best = run.checkpoints / "best.json"
    return Start("extend", run.last, state, read_json(best) if best.exists() else None)


def trained_precision(run: RunDir, start: Start) -> str | None:
    """The dtype policy a resumed or extended run trained under so far, where it is known."""
    if start.state is not None and start.state.precision:
        return start.state.precision
    if start.kind == "extend" and run.results.exists():
        return (read_json(run.results).get("distribute") or {}).get("precision")
    return None


def check_steps_per_epoch(start: Start, steps_per_epoch: int) -> None:
    """An extended run must count steps as the finished one did (same data, same batch)."""
    if start.kind == "extend" and start.state.global_step != start.state.epoch * steps_per_epoch:
        raise ConfigError(f"--extend: the run took {start.state.global_step // start.state.epoch}"
                          f" steps per epoch and this config takes {steps_per_epoch}; use "
                          "--restart or another --run-dir")


def _checkpoint_epoch(run: RunDir) -> int | None:
    """The epoch `last.keras` holds: the epoch file it is a second name of."""
    for path in run.checkpoints.glob("epoch-*.keras"):
        if path.samefile(run.last):
            return int(re.sub(r"\D", "", path.stem))
    return None


def _stored_config(run: RunDir) -> dict:
    """The run's config as today's schema writes it, so that keys an older bigmodel wrote out
    at their defaults (every data key, before `data` was keyed on `source`) are no change."""
    if not run.config.exists():
        return {}
    from .. import config as config_module

    try:
        return config_module.load_saved(run.config).model_dump(mode="json")
    except ConfigError:  # not valid today: compare what the file says
        return yaml.safe_load(run.config.read_text(encoding="utf-8")) or {}


def weights_do_not_fit(weights: Path, error: Exception) -> UsageError:
    """One line for weights that do not load into this model: the first mismatch, no values."""
    text = str(error)
    found = re.search(r"variable\.shape=(\(.*?\)), Received: value\.shape=(\(.*?\))."
                      r"*?Target variable: <Variable path=([^,]+)", text, re.DOTALL)
    detail = (f"{found.group(3)} is {found.group(1)} here and {found.group(2)} there"
              if found else text.splitlines()[0][:200])
    return UsageError(f"{weights}: its weights do not fit this model ({detail}); the run "
                      "directory is unchanged. Use --restart to train this config from "
                      "scratch, or another --run-dir")


def restart(run: RunDir) -> list[str]:
    """Delete the previous run's files (bigmodel's only); lines saying what went, what stayed."""
    removed, kept = run.remove_own()
    lines = [f"--restart: removed from {run.path}: {', '.join(removed)}"] if removed else []
    if kept:
        lines.append(f"--restart: kept what bigmodel did not write: {', '.join(kept)}")
    return lines


def check_config_change(run: RunDir, new: dict, force: bool, report) -> None:
    """Refuse a resume whose config changes what is trained, unless forced."""
    old = _stored_config(run)
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
