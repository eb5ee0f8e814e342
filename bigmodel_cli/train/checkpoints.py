"""Backups for exact resume, and the epoch checkpoints users keep.

A backup is two files in `backup/`: `state-<step>.weights.h5` (model and optimizer variables,
so the step counter and the learning-rate schedule position come back too) and
`state-<step>.json` (where training stood, the state of stateful callbacks, random-generator
states, and the sha256 of the weights file). The JSON is written last, through a temporary
name and a rename, so it marks a complete backup; a backup whose weights do not match their
checksum is skipped with a warning and the previous one is used.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .. import atomic

BACKUPS_KEPT = 2
_STATE_NAME = re.compile(r"^state-(\d+)\.json$")


@dataclass
class TrainingState:
    global_step: int  # optimizer steps taken since the start of the run
    epoch: int  # the epoch in progress (0-based)
    step_in_epoch: int  # steps of that epoch already taken
    callbacks: dict = field(default_factory=dict)  # name -> state of a stateful callback
    seed_states: dict = field(default_factory=dict)  # variable path -> random-generator state
    weights_sha256: str = ""
    precision: str = ""  # the dtype policy trained under ("": a backup from before this field)


def save_backup(model, backup_dir: Path, state: TrainingState) -> Path:
    backup_dir = Path(backup_dir)
    weights = backup_dir / f"state-{state.global_step:09d}.weights.h5"
    with atomic.atomic_path(weights) as temporary:
        model.save_weights(temporary)
    state.weights_sha256 = _sha256(weights)
    state.precision = model.dtype_policy.name
    state.seed_states = {variable.path: variable.numpy().tolist()
                         for variable in _seed_variables(model)}
    atomic.write_text(weights.with_name(f"state-{state.global_step:09d}.json"),
                      json.dumps(asdict(state)))
    _prune(backup_dir)
    return weights


def latest_backup(backup_dir: Path, warn: Callable[[str], None]
                  ) -> tuple[Path, TrainingState] | None:
    """The newest complete backup whose weights match their checksum, or None."""
    found = _state_files(Path(backup_dir))
    for index, state_file in enumerate(found):
        weights = state_file.with_name(state_file.stem + ".weights.h5")
        try:
            state = TrainingState(**json.loads(state_file.read_text(encoding="utf-8")))
            intact = weights.exists() and _sha256(weights) == state.weights_sha256
        except (OSError, ValueError, TypeError):
            intact = False
        if intact:
            return weights, state
        fallback = "using the one before it" if index + 1 < len(found) else "no older one is left"
        warn(f"backup {state_file.name} is incomplete or corrupt; {fallback}")
    return None


def has_backups(backup_dir: Path) -> bool:
    """Whether `backup_dir` holds any backup, intact or not."""
    return bool(_state_files(Path(backup_dir)))


def restore(model, weights: Path, state: TrainingState, trained=None) -> None:
    """Load `weights` (a backup, or a checkpoint of the whole model) into `model`.

    `trained` is the model `fit` trains when it is not `model` (text inputs): the optimizer is
    built on its variables, in the order they are trained, so its slots load into place.
    """
    trained = trained or model
    if model.optimizer is not None and not model.optimizer.built:
        model.optimizer.build(trained.trainable_variables)
    model.load_weights(weights)
    for variable in _seed_variables(model):
        if variable.path in state.seed_states:
            variable.assign(state.seed_states[variable.path])


def clear(backup_dir: Path) -> None:
    for path in Path(backup_dir).glob("state-*"):
        path.unlink(missing_ok=True)


def _seed_variables(model) -> list:
    # Dropout's random-generator states are not part of the saved weights; keep them so a
    # resumed run draws the same dropout masks as an uninterrupted one.
    return [variable for variable in model.variables if "seed_generator" in variable.path]


def _state_files(backup_dir: Path) -> list[Path]:
    found = [path for path in backup_dir.glob("state-*.json") if _STATE_NAME.match(path.name)]
    return sorted(found, key=lambda path: int(_STATE_NAME.match(path.name).group(1)),
                  reverse=True)


def _prune(backup_dir: Path) -> None:
    for old in _state_files(backup_dir)[BACKUPS_KEPT:]:
        old.unlink(missing_ok=True)
        old.with_name(old.stem + ".weights.h5").unlink(missing_ok=True)
    kept = {path.stem for path in _state_files(backup_dir)}
    for orphan in backup_dir.glob("state-*.weights.h5"):
        if orphan.name.removesuffix(".weights.h5") not in kept:
            orphan.unlink(missing_ok=True)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def save_epoch_checkpoint(model, checkpoints_dir: Path, epoch: int, keep_last: int) -> Path:
    """Save `epoch-NNNN.keras`, point `last.keras` at it, and keep the newest `keep_last`."""
    checkpoints_dir = Path(checkpoints_dir)
    path = checkpoints_dir / f"epoch-{epoch:04d}.keras"
    with atomic.atomic_path(path) as temporary:
        model.save(temporary)
    link(path, checkpoints_dir / "last.keras")
    for old in sorted(checkpoints_dir.glob("epoch-*.keras"))[:-keep_last]:
        old.unlink(missing_ok=True)
    return path


def link(existing: Path, name: Path) -> None:
    """Give `existing` a second name, atomically replacing what `name` was: no copy."""
    with atomic.atomic_path(name) as temporary:
        temporary.unlink(missing_ok=True)
        os.link(existing, temporary)


def load_checkpoint(candidates: list[Path], unsafe: bool, warn: Callable[[str], None]):
    """Load the first readable checkpoint of `candidates`, warning about each unreadable one.

    Keras' safe mode refuses checkpoints that would run arbitrary code (a Lambda layer's
    function); `unsafe` lifts that, for checkpoints whose source the user trusts.
    """
    import keras

    from .. import models  # noqa: F401  registers bigmodel's layers
    from ..errors import RunError, UsageError
    from . import optimizer  # noqa: F401  registers bigmodel's schedules

    problems = []
    for index, path in enumerate(candidates):
        # Keras calls a file that is not a zip archive "File not found": say what it is.
        problem = _not_an_archive(path)
        if problem is None:
            try:
                return keras.models.load_model(path, safe_mode=not unsafe)
            except ValueError as error:
                if "safe_mode" in str(error):
                    raise UsageError(
                        f"{path} holds Python code (e.g. a Lambda layer) that loading would "
                        "run; if you trust where it came from, pass --unsafe") from None
                problem = _damaged_member(path) or f"is unreadable ({_first_line(error)})"
            except (OSError, KeyError, EOFError, zipfile.BadZipFile, zlib.error) as error:
                problem = _damaged_member(path) or f"is unreadable ({_first_line(error)})"
        problems.append(f"{path} {problem}")
        if index + 1 < len(candidates):
            warn(f"{problems[-1]}; using {candidates[index + 1]}")
    raise RunError(f"no readable checkpoint: {'; '.join(problems)}; train again with --restart")


def _not_an_archive(path: Path) -> str | None:
    """What a checkpoint path is when it cannot be a .keras file (a zip archive), or None."""
    path = Path(path)
    if path.is_dir():
        return "is a folder, not a .keras file"
    if not path.exists():
        return "is missing"
    size = path.stat().st_size
    if not size:
        return "is damaged: the file is empty"
    if not zipfile.is_zipfile(path):
        return (f"is damaged: not a complete .keras archive ({size:,} bytes; cut short by a "
                "full disk or an interrupted copy?)")
    return None


def _damaged_member(path: Path) -> str | None:
    """Which part of a .keras archive fails its checksum, or None (checked after a failure:
    reading every byte again is not worth it for a checkpoint that loads)."""
    try:
        with zipfile.ZipFile(path) as archive:
            broken = archive.testzip()
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error) as error:
        return f"is damaged ({_first_line(error)})"
    return f"is damaged: {broken} inside it fails its checksum" if broken else None


def _first_line(error: BaseException) -> str:
    return str(error).splitlines()[0] if str(error) else type(error).__name__
