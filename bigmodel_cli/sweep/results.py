"""What a sweep shows and leaves: a line per trial as it ends (the live table), then
best.yaml (the best trial's config, ready to train) and plots/sweep.png."""

from __future__ import annotations

import warnings
from pathlib import Path

from rich.console import Console

from .. import atomic
from ..runs import RunDir
from .spec import trial_dir


class LiveTable:
    """One aligned row per finished trial, printed as it ends, with the best so far."""

    def __init__(self, console: Console, sweep):
        self.console, self.sweep = console, sweep
        self.keys = list(sweep.space)
        heading = ["trial", "state", sweep.metric, "seconds",
                   *(key.split(".")[-1] for key in self.keys), "best so far"]
        self.widths = [6, 9, max(10, len(sweep.metric)), 8,
                       *(max(10, len(key.split(".")[-1])) for key in self.keys), 14]
        self.console.print(self._line(heading), style="bold", highlight=False)

    def _line(self, cells: list) -> str:
        return "  ".join(str(cell).rjust(width) if index else str(cell).ljust(width)
                         for index, (cell, width) in enumerate(zip(cells, self.widths,
                                                                   strict=True)))

    def row(self, outcome: dict, study) -> None:
        value = "" if outcome["value"] is None else f"{outcome['value']:.4f}"
        state = outcome["state"] + (f"@{outcome['pruned_at']}" if outcome["pruned_at"] else "")
        best = best_trial(study)
        best_text = f"#{best.number} {best.value:.4f}" if best else ""
        cells = [outcome["trial"], state, value, f"{outcome['seconds']:.1f}",
                 *(_short(outcome["params"].get(key)) for key in self.keys), best_text]
        self.console.print(self._line(cells), highlight=False, markup=False)
        if outcome["error"]:
            self.console.print(f"  trial {outcome['trial']} failed: {outcome['error']}",
                               style="red", highlight=False, markup=False)


def _short(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def best_trial(study):
    import optuna

    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if not complete:
        return None
    return (max if study.direction == optuna.study.StudyDirection.MAXIMIZE else min)(
        complete, key=lambda trial: trial.value)


def finish(sweep, folder: Path, study, console: Console) -> dict:
    """best.yaml and plots/sweep.png; the best trial's number, value, params and run."""
    best = best_trial(study)
    plot = sweep_plot(study, folder / "plots" / "sweep.png", sweep.metric)
    if best is None:
        console.print(f"sweep {sweep.name}: no trial completed; see {folder / 'logs'}",
                      style="red", highlight=False)
        return {"best": None, "plot": str(plot)}
    run = RunDir(trial_dir(folder, best.number))
    header = (f"# The best trial of sweep {sweep.name}: trial {best.number}, {sweep.metric} "
              f"{best.value:.6g} ({run.path}).\n# bigmodel train {folder / 'best.yaml'} "
              "trains it again (the trial's resolved config).\n")
    atomic.write_text(folder / "best.yaml", header + run.config.read_text(encoding="utf-8"))
    console.print(f"best: trial {best.number}, {sweep.metric} {best.value:.4f}, "
                  + ", ".join(f"{key} {_short(value)}" for key, value in best.params.items()),
                  style="bold", highlight=False)
    console.print(f"wrote {folder / 'best.yaml'} and {plot}", highlight=False)
    return {"best": {"trial": best.number, "value": best.value, "params": best.params,
                     "run": str(run.path)}, "best_yaml": str(folder / "best.yaml"),
            "plot": str(plot)}


def sweep_plot(study, path: Path, metric: str) -> Path:
    """The metric of each trial (pruned ones hollow, the best so far as a line), and the
    parameter importances when Optuna can compute them."""
    import optuna

    from ..report import plots

    plt = plots.pyplot()
    trials = [trial for trial in study.get_trials(deepcopy=False) if trial.value is not None
              or trial.intermediate_values]
    importances = {}
    try:
        with warnings.catch_warnings():  # "importances will be equal" on few trials
            warnings.simplefilter("ignore")
            importances = optuna.importance.get_param_importances(study)
    except (RuntimeError, ValueError, ZeroDivisionError, ImportError):
        pass  # fewer than two complete trials, or a space of one value
    figure, axes = plt.subplots(1, 2 if importances else 1, figsize=(10 if importances else 6, 4),
                                squeeze=False)
    axis = axes[0][0]
    maximize = study.direction == optuna.study.StudyDirection.MAXIMIZE
    best_line, best = [], None
    for trial in trials:
        value = trial.value if trial.value is not None else \
            list(trial.intermediate_values.values())[-1]
        pruned = trial.state != optuna.trial.TrialState.COMPLETE
        axis.scatter(trial.number, value, facecolors="none" if pruned else "tab:blue",
                     edgecolors="tab:blue", zorder=3, label=None)
        if not pruned:
            best = value if best is None else (max if maximize else min)(best, value)
        best_line.append((trial.number, best))
    points = [(number, value) for number, value in best_line if value is not None]
    if points:
        axis.step(*zip(*points, strict=True), where="post", color="tab:orange",
                  label="best so far")
        axis.legend(fontsize=8)
    axis.set(xlabel="trial", ylabel=metric, title=f"{metric} per trial (hollow: pruned/failed)")
    plots.integer_epochs(axis)
    axis.set_xlabel("trial")
    axis.grid(alpha=0.3)
    if importances:
        names = list(importances)[::-1]
        axes[0][1].barh(names, [importances[name] for name in names], color="tab:green")
        axes[0][1].set(title="parameter importance (Optuna)", xlabel="importance")
    return plots.save(figure, path)
