"""`bigmodel config validate`: check many configs, report every mistake of every file.

Without --dry-run nothing here imports TensorFlow, so checking a folder of configs takes a
fraction of a second per file.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

from ..errors import BigModelError, RunError
from . import loading as config_module


def validate_files(paths: Sequence[Path], overrides: Sequence[str], dry_run: bool,
                   stdout: Console, stderr: Console, verbose: bool = False,
                   debug: bool = False) -> int:
    """Print an OK line per valid file and the errors of the others; return the exit code."""
    exit_codes = []
    strategies: dict = {}  # shared by the dry runs of this command
    for path in paths:
        try:
            loaded = config_module.load(path, overrides)
            report = _dry_run(loaded, verbose, debug, strategies) if dry_run else None
        except BigModelError as error:
            exit_codes.append(error.exit_code)
            for line in str(error).splitlines():
                stderr.print(f"error: {_in_file(line, path)}", style="red")
            continue
        stdout.print(f"OK {path}", style="green")
        if report is not None:
            for line in describe(report):
                stdout.print(f"  {line}")
    # A config mistake (2) outranks a failure while running (1).
    return max(exit_codes, default=0)


def _dry_run(loaded, verbose: bool, debug: bool, strategies: dict) -> dict:
    from ..train import dryrun

    try:
        return dryrun.dry_run(loaded, verbose, strategies)
    except BigModelError:
        raise
    except Exception as error:
        if debug:
            raise
        # Keras or TensorFlow refused the model or the step: still one line per file.
        message = " ".join(str(error).split())
        raise RunError(f"dry run failed: {type(error).__name__}: {message[:500]} "
                       "(rerun with --debug for the traceback)") from error


def _frozen(report: dict) -> str:
    frozen = report["parameters"] - report["trainable_parameters"]
    return f", {frozen:,} frozen" if frozen else ""


def _in_file(line: str, path: Path) -> str:
    """Every line starts with the file it is about; a line about a --set or about a base
    file gets the file in front."""
    return line if line.startswith(f"{path}:") else f"{path}: {line}"


def describe(report: dict) -> list[str]:
    memory = report["memory"]
    per_replica = report["batch_size"] // report["replicas"]
    return [
        f"strategy    {report['strategy']}, {report['replicas']} replica(s), global batch "
        f"{report['batch_size']}, {report['precision']}"
        + (f" (auto: {report['precision_reason']})" if report.get("precision_reason") else ""),
        f"input       {report['input']}, task {report['task']}",
        f"parameters  {report['parameters']:,} ({report['trainable_parameters']:,} trainable"
        f"{_frozen(report)})",
        f"FLOPs       {_count(report['forward_flops'])} per example forward, "
        f"{_count(report['training_flops'])} forward+backward"
        + (f" ({_count(report['training_flops_per_token'])} per token)"
           if report.get("training_flops_per_token") else ""),
        f"memory      ~{_size(memory['total'])} per replica: parameters "
        f"{_size(memory['parameters'])}, gradients {_size(memory['gradients'])}, optimizer "
        f"{_size(memory['optimizer'])}, activations {_size(memory['activations'])} "
        f"({per_replica} examples)",
        f"one step    loss {report['loss']:.4f} on a random batch",
    ]


def _count(value: float) -> str:
    for unit in ("", "k", "M", "G", "T"):
        if abs(value) < 1000:
            return f"{value:.3g} {unit}FLOPs"
        value /= 1000
    return f"{value:.3g} PFLOPs"


def _size(value: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1000:  # 1000-1023 read better as 0.98 of the next unit than as 1e+03
            return f"{value:.3g} {unit}"
        value /= 1024
    return f"{value:.3g} TiB"
