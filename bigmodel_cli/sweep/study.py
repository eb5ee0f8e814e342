"""Run a sweep as an Optuna study: each trial an ordinary run directory under
runs/<sweep>/trial-NNN, the study in SQLite in the sweep folder (or any storage URL), so that
a killed sweep, run again, first finishes its interrupted trial from the trial's backup, then
asks for new ones until `trials` exist. Several processes given the same storage share the
work (a distributed sweep); each resumes only trials whose process is gone.

runs/<sweep>/
  sweep.yaml       the sweep file as given        study.db      the Optuna study (SQLite)
  trial-NNN/       one run directory per trial    logs/         each trial's training log
  best.yaml        the best trial's config        plots/sweep.png  metric per trial
"""

from __future__ import annotations

import math
import os
import socket
import time
from pathlib import Path

from rich.console import Console

from .. import atomic, extras
from ..errors import BigModelError, UsageError
from ..runs import RunDir, read_json
from ..train.metrics_log import read_records
from . import spec as sweep_spec
from .spec import trial_dir

TEST_PREFIX = "test_"


def storage_url(sweep: sweep_spec.Sweep, folder: Path) -> str:
    return sweep.storage or f"sqlite:///{(folder / 'study.db').resolve()}"


def open_study(sweep: sweep_spec.Sweep, folder: Path):
    optuna = extras.require("optuna", "bigmodel sweep")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if sweep.sampler == "grid":
        sampler = optuna.samplers.GridSampler(sweep.grid_space(), seed=sweep.seed)
    elif sweep.sampler == "random":
        sampler = optuna.samplers.RandomSampler(seed=sweep.seed)
    else:
        sampler = optuna.samplers.TPESampler(seed=sweep.seed, n_startup_trials=min(
            10, max(2, sweep.trial_count() // 3)))
    pruner = (optuna.pruners.MedianPruner(n_startup_trials=2,
                                          n_warmup_steps=sweep.pruner_warmup_epochs)
              if sweep.pruner == "median" else optuna.pruners.NopPruner())
    return optuna.create_study(study_name=sweep.name, storage=storage_url(sweep, folder),
                               sampler=sampler, pruner=pruner, direction=sweep.direction,
                               load_if_exists=True)


def trial_config(sweep, base: Path, params: dict, number: int):
    """The config of one trial: the base, the sweep's fixed `set`, then the trial's values."""
    from .. import config as config_module
    from ..config.yamlio import flow

    values = {**sweep.set, **params}
    overrides = [f"name={sweep.name}-trial-{number:03d}"]
    overrides += [f"{key}={flow(value)}" for key, value in values.items()]
    return config_module.load(base, overrides)


def objective_value(sweep, run: RunDir) -> float:
    """The trial's metric: the best epoch's value of a logged metric, or test_NAME from
    results.json."""
    if sweep.metric.startswith(TEST_PREFIX) and run.finished:
        test = read_json(run.results).get("test") or {}
        name = sweep.metric[len(TEST_PREFIX):]
        if name in test:
            return float(test[name])
    values = [record[sweep.metric] for record in read_records(run.metrics_jsonl)
              if isinstance(record.get(sweep.metric), int | float)]
    if not values:
        raise UsageError(f"metric {sweep.metric!r} is not in {run.metrics_jsonl}; use a "
                         "logged metric (val_loss, val_accuracy, ...) or test_NAME")
    return max(values) if sweep.direction == "maximize" else min(values)


def pruning_callback(trial, metric: str, pruned: list):
    """Reports the metric after each epoch; stops training when the pruner says so."""
    import keras

    class ReportToStudy(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            value = (logs or {}).get(metric)
            if value is None or not math.isfinite(value):
                return
            trial.report(float(value), epoch + 1)
            if trial.should_prune():
                pruned.append(epoch + 1)
                self.model.stop_training = True

    return ReportToStudy()


def run_trial(sweep, base: Path, folder: Path, study, trial, console: Console,
              verbose: bool) -> dict:
    """Train one trial (fresh, or resumed from its backup) and tell the study how it went."""
    import optuna

    from ..runtime.tfenv import import_tensorflow

    import_tensorflow(verbose)  # quietly, before Keras is imported by what follows
    from ..train import runner
    from ..train.callbacks import Interrupted
    number = trial.number
    run = RunDir(trial_dir(folder, number))
    params = {key: sweep_spec.from_category(value, sweep.space[key].choice or [])
              for key, value in trial.params.items()}
    log = folder / "logs" / f"trial-{number:03d}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    pruned: list = []
    started = time.perf_counter()
    state, value, error = "complete", None, None
    with open(log, "a", encoding="utf-8") as handle:
        quiet = Console(file=handle, highlight=False, soft_wrap=True, markup=False, emoji=False)
        try:  # values the schema refuses (a batch too large...) fail this trial only
            config = trial_config(sweep, base, params, number)
            runner.train(config, run.path, quiet, verbose,
                         callbacks=[pruning_callback(trial, sweep.metric, pruned)]
                         if sweep.pruner == "median" else [])
        except Interrupted:
            raise  # a signal: the trial stays running, and resumes from its backup
        except BigModelError as failure:
            state, error = "failed", str(failure).splitlines()[0]
            handle.write(f"error: {failure}\n")
    if state == "failed":
        study.tell(number, state=optuna.trial.TrialState.FAIL)
        return _outcome(number, state, None, params, started, error, pruned)
    try:
        value = objective_value(sweep, run)
    except UsageError:  # a metric the runs do not log: every trial would fail the same way
        study.tell(number, state=optuna.trial.TrialState.FAIL)
        raise
    if pruned:
        state = "pruned"
        study.tell(number, state=optuna.trial.TrialState.PRUNED)
    else:
        study.tell(number, value)
    return _outcome(number, state, value, params, started, error, pruned)


def _outcome(number, state, value, params, started, error, pruned) -> dict:
    return {"trial": number, "state": state, "value": value, "params": params,
            "seconds": time.perf_counter() - started, "error": error,
            "pruned_at": pruned[0] if pruned else None}


def interrupted_trials(study, folder: Path) -> list:
    """Running trials whose process is gone: to resume from their run directory's backup."""
    import optuna

    from ..report import runinfo

    stale = []
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        owner = trial.user_attrs.get("owner", {})
        run = RunDir(trial_dir(folder, trial.number))
        if owner.get("host") == socket.gethostname() and owner.get("pid") == os.getpid():
            continue
        mine = owner.get("host") == socket.gethostname()
        if (mine and not atomic.process_alive(int(owner.get("pid", -1)))) or \
                (run.path.exists() and runinfo.state(run)[0] == runinfo.INTERRUPTED):
            stale.append(trial)
    return stale


def counted(study) -> int:
    """Trials that count towards `trials`: every one asked for, whatever its state."""
    return len(study.get_trials(deepcopy=False))


def run(sweep_path: Path, runs_root: Path, console: Console, verbose: bool = False,
        storage: str | None = None) -> dict:
    """Run (or resume) the sweep; returns the best trial's number, value and params."""
    import optuna

    from . import results as sweep_results

    sweep, base = sweep_spec.load(sweep_path)
    if storage:
        sweep = sweep.model_copy(update={"storage": storage})
    folder = Path(runs_root) / sweep.name
    folder.mkdir(parents=True, exist_ok=True)
    trial_config(sweep, base, {}, 0)  # the base and `set` are a valid config before trial 0
    atomic.write_text(folder / "sweep.yaml", Path(sweep_path).read_text(encoding="utf-8"))
    study = open_study(sweep, folder)
    total = sweep.trial_count()
    console.print(f"sweep {sweep.name}: {total} trials, {sweep.direction} {sweep.metric}, "
                  f"sampler {sweep.sampler}, pruner {sweep.pruner}; study "
                  f"{storage_url(sweep, folder)}", highlight=False)
    table = sweep_results.LiveTable(console, sweep)
    for trial in interrupted_trials(study, folder):
        trial = optuna.trial.Trial(study, trial._trial_id)
        trial.set_user_attr("owner", {"host": socket.gethostname(), "pid": os.getpid()})
        console.print(f"trial {trial.number}: resuming from {trial_dir(folder, trial.number)}",
                      highlight=False)
        table.row(run_trial(sweep, base, folder, study, trial, console, verbose), study)
    while counted(study) < total:
        trial = study.ask()
        trial.set_user_attr("owner", {"host": socket.gethostname(), "pid": os.getpid()})
        for key, dimension in sweep.space.items():
            dimension.suggest(trial, key)
        table.row(run_trial(sweep, base, folder, study, trial, console, verbose), study)
    return sweep_results.finish(sweep, folder, study, console)

