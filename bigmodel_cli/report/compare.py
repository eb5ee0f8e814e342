"""`bigmodel compare`: what differs between runs' configs, their metrics side by side, and
their curves overlaid."""

from __future__ import annotations

from pathlib import Path

from rich.table import Table

from ..runs import RunDir, read_json
from ..train.metrics_log import read_records
from . import runinfo, tables

MISSING = "(none)"


def flatten(values, prefix: str = "") -> dict:
    """{dotted.key: value} of nested dicts; lists stay whole values (as --set reads them)."""
    if not isinstance(values, dict):
        return {prefix: values}
    flat = {}
    for key, value in values.items():
        flat.update(flatten(value, f"{prefix}{key}.") if isinstance(value, dict) and value
                    else {f"{prefix}{key}": value})
    return flat


def differing(configs: list[dict]) -> dict[str, list]:
    """Dotted keys whose values are not the same in every config (absent: MISSING)."""
    flat = [flatten(config) for config in configs]
    keys = sorted({key for config in flat for key in config})
    return {key: [config.get(key, MISSING) for config in flat] for key in keys
            if len({repr(config.get(key, MISSING)) for config in flat}) > 1}


def compare(run_dirs: list[Path]) -> dict:
    runs = [RunDir(Path(path)).require() for path in run_dirs]
    configs = [runinfo.read_config(run) for run in runs]
    entries = []
    for run in runs:
        records = read_records(run.metrics_jsonl)
        best_file = run.best.with_suffix(".json")
        results = read_json(run.results) if run.finished else {}
        entries.append({"run": str(run.path), "state": runinfo.state(run)[0],
                        "best": read_json(best_file) if best_file.exists() else None,
                        "final": {key: value for key, value in (records[-1] if records
                                                                 else {}).items()
                                  if key not in ("step", "seconds")},
                        "test": results.get("test"), "records": records})
    return {"runs": entries, "differences": differing(configs)}


def labels(comparison: dict) -> list[str]:
    """Each run's path below the folder they share (runs/a/trial-000 vs runs/b/trial-000)."""
    import os

    paths = [Path(entry["run"]).resolve() for entry in comparison["runs"]]
    common = Path(os.path.commonpath(paths)) if len(set(paths)) > 1 else paths[0].parent
    return [str(path.relative_to(common)) for path in paths]


def tables_of(comparison: dict) -> list[Table]:
    names = labels(comparison)
    differences = Table(title="config keys that differ")
    differences.add_column("key")
    for name in names:
        differences.add_column(name)
    for key, values in comparison["differences"].items():
        differences.add_row(key, *(str(value) for value in values))
    metrics = Table(title="metrics (final epoch, best checkpoint, test)")
    metrics.add_column("metric")
    for name in names:
        metrics.add_column(name, justify="right")
    for label, values in _metric_rows(comparison["runs"]).items():
        metrics.add_row(label, *(tables.number(value) if value is not None else ""
                                 for value in values))
    return [differences, metrics]


def _metric_rows(entries: list[dict]) -> dict[str, list]:
    rows = {"state": [entry["state"] for entry in entries]}
    final_keys = sorted({key for entry in entries for key in entry["final"]},
                        key=lambda key: (key != "epoch", key))
    for key in final_keys:
        rows[f"final {key}"] = [entry["final"].get(key) for entry in entries]
    rows["best epoch"] = [(entry["best"] or {}).get("epoch") for entry in entries]
    rows["best value"] = [(entry["best"] or {}).get("value") for entry in entries]
    test_keys = sorted({key for entry in entries for key in (entry["test"] or {})})
    for key in test_keys:
        rows[f"test {key}"] = [(entry["test"] or {}).get(key) for entry in entries]
    return rows


def plot(comparison: dict, output: Path) -> Path:
    """Every metric's validation (solid) and training (dashed) curve, one colour per run."""
    import math

    from . import plots

    plt = plots.pyplot()
    records = [entry["records"] for entry in comparison["runs"]]
    names = plots.metric_names([record for run in records for record in run])
    columns = min(3, max(1, len(names)))
    rows = max(1, math.ceil(len(names) / columns))
    figure, axes = plt.subplots(rows, columns, figsize=(4.5 * columns, 3.2 * rows),
                                squeeze=False)
    flat = list(axes.reshape(-1))
    for axis, name in zip(flat, names, strict=False):
        for index, (name_of_run, run) in enumerate(zip(labels(comparison), records,
                                                      strict=True)):
            colour = f"C{index % 10}"
            label = name_of_run  # on the run's first line only
            for key, style in ((f"val_{name}", "-"), (name, "--")):
                epochs, values = plots.series(run, key)
                if values:
                    axis.plot(epochs, values, style, color=colour, marker="o", markersize=2,
                              label=label)
                    label = None
        axis.set_title(f"{name} (solid: validation, dashed: train)", fontsize=9)
        plots.integer_epochs(axis)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=7)
    for axis in flat[len(names):]:
        axis.axis("off")
    return plots.save(figure, output)
