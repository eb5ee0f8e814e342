"""Facts of one run directory read from its files, without TensorFlow: its state, epochs,
best checkpoint, test metrics, timing, and which checkpoint a model file is.

States: finished (results.json), running (process.json names a live process here and the
backup, if any, is fresh), interrupted (stopped with a backup or killed: process.json names a
process that is gone), failed (failed.json: an error ended training), new (nothing trained).
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from pathlib import Path

from .. import atomic
from ..runs import RunDir, read_json
from ..train import liveness
from ..train.metrics_log import read_records

FINISHED, RUNNING, INTERRUPTED, FAILED, NEW = "finished", "running", "interrupted", "failed", "new"


def read_config(run: RunDir) -> dict:
    """config.yaml as a plain dict (the resolved config: every key written out)."""
    import yaml

    try:
        return yaml.safe_load(run.config.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return {}


def _json(path: Path) -> dict:
    with contextlib.suppress(Exception):
        return read_json(path) if path.is_file() else {}
    return {}


def state(run: RunDir) -> tuple[str, str]:
    """(state, a few words of why)."""
    if run.finished:
        return FINISHED, ""
    record = liveness.holder(run)
    if record and record.get("host") == socket.gethostname():
        if _alive(int(record.get("pid", -1))):
            return RUNNING, f"pid {record['pid']}, backup {_backup_age(run)}"
        return INTERRUPTED, f"its process {record.get('pid')} is gone (killed)"
    if record:  # another machine's process: trust a backup written lately
        age = _backup_seconds(run)
        if age is not None and age < 3600:
            return RUNNING, f"on {record.get('host')}, backup {_backup_age(run)}"
    failure = _json(run.failed)
    if failure:
        return FAILED, failure.get("error", "")
    if any(run.backup.glob("state-*.json")) or run.metrics_jsonl.exists() or record:
        return INTERRUPTED, f"backup {_backup_age(run)}; run train again to resume"
    return NEW, ""


def _alive(pid: int) -> bool:
    """A live process of this id that is bigmodel (a reused pid of another program is not)."""
    if pid <= 0 or not atomic.process_alive(pid):
        return False
    cmdline = Path(f"/proc/{pid}/cmdline")
    with contextlib.suppress(OSError):
        return b"bigmodel" in cmdline.read_bytes()
    return True  # no /proc: the pid is all there is


def _backup_seconds(run: RunDir) -> float | None:
    ages = [time.time() - path.stat().st_mtime for path in run.backup.glob("state-*.json")]
    return min(ages) if ages else None


def _backup_age(run: RunDir) -> str:
    age = _backup_seconds(run)
    return "none yet" if age is None else f"{_duration(age)} old"


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds / 3600:.1f} h"


def checkpoint_facts(run: RunDir, model_file: Path) -> dict:
    """Which checkpoint a file is: best or last, its epoch and step, the monitored value."""
    records = read_records(run.metrics_jsonl)
    best = _json(run.best.with_suffix(".json"))
    same_as_best = run.best.exists() and _same(model_file, run.best)
    facts = {"file": str(Path(model_file).relative_to(run.path)) if
             Path(model_file).is_relative_to(run.path) else str(model_file)}
    if same_as_best and best:
        facts.update(which="best", epoch=best.get("epoch"), step=best.get("step"),
                     monitor=best.get("monitor"), value=best.get("value"))
        if run.last.exists() and _same(run.best, run.last):
            facts["also_last"] = True
        return facts
    facts["which"] = "last" if run.last.exists() and _same(model_file, run.last) else "file"
    for epoch_file in sorted(run.checkpoints.glob("epoch-*.keras")):
        if _same(epoch_file, model_file):
            epoch = int(epoch_file.stem.split("-")[1])
            step = next((r.get("step") for r in records if r["epoch"] == epoch), None)
            facts.update(epoch=epoch, step=step)
    return facts


def _same(first: Path, second: Path) -> bool:
    with contextlib.suppress(OSError):
        return os.path.samefile(first, second)
    return False


def summary(run: RunDir) -> dict:
    """One row of `bigmodel runs`: the run's name, state and numbers."""
    config = read_config(run)
    results = _json(run.results)
    records = read_records(run.metrics_jsonl)
    best = _json(run.best.with_suffix(".json"))
    what, why = state(run)
    data = config.get("data", {})
    test = results.get("test") or {}
    metric = next((name for name in ("accuracy", "mae", "perplexity") if name in test),
                  next(iter(test), None))
    wall = results.get("total_seconds")
    if wall is None and records:
        wall = sum(record.get("seconds", 0) for record in records)
    return {
        "name": str(run.path),
        "state": what,
        "why": why,
        "family": config.get("model", {}).get("family"),
        "data": "/".join(str(part) for part in (data.get("source"),
                                                data.get("name") or data.get("path")) if part),
        "epochs_done": records[-1]["epoch"] if records else 0,
        "epochs_planned": config.get("training", {}).get("epochs"),
        "monitor": best.get("monitor"),
        "best": best.get("value"),
        "test_metric": metric,
        "test": test.get(metric) if metric else None,
        "wall_seconds": wall,
        "parameters": results.get("parameters"),
        "modified": max((path.stat().st_mtime for path in (run.metrics_jsonl, run.config)
                         if path.exists()), default=None),
    }


def find_runs(folder: Path) -> list[RunDir]:
    """Run directories in `folder` (itself, or any depth below: runs/<sweep>/trial-NNN)."""
    folder = Path(folder)
    candidates = {path.parent for name in ("config.yaml", "process.json")
                  for path in folder.rglob(name)}
    return [RunDir(path) for path in sorted(candidates)
            if any((path / name).exists() for name in ("spec.json", "backup", "results.json",
                                                       "process.json"))]
