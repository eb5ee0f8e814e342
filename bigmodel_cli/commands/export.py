"""export: a trained run as SavedModel, ONNX and LiteRT files, each checked against Keras."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from ..cli_help import choices
from .common import Debug, RunPath, Unsafe, Verbose, app, stderr, stdout


class ExportFormat(StrEnum):
    saved_model = "saved_model"
    onnx = "onnx"
    litert = "litert"
    all = "all"


class Checkpoint(StrEnum):
    best = "best"
    last = "last"


class Quantize(StrEnum):
    none = "none"
    dynamic = "dynamic"
    float16 = "float16"


@app.command(epilog="""bigmodel export runs/quickstart --format all
                         bigmodel export runs/smoke_cnn --format litert --quantize float16 \\
                             --output exports/cnn""")
def export(run_dir: RunPath,
           export_format: Annotated[list[ExportFormat] | None, typer.Option(
               "--format", metavar=choices(ExportFormat),
               help="Formats to write (repeatable; default all).",
               show_default=False)] = None,
           output: Annotated[Path | None, typer.Option(
               metavar="DIR", help="Where to write (default RUN/export); an earlier export "
                                   "there is replaced.")] = None,
           checkpoint: Annotated[Checkpoint, typer.Option(
               metavar=choices(Checkpoint), help="Which checkpoint to export.")
           ] = Checkpoint.best,
           quantize: Annotated[Quantize, typer.Option(
               metavar=choices(Quantize),
               help="LiteRT weights: float32 (none), int8 (dynamic) or float16.")
           ] = Quantize.none,
           unsafe: Unsafe = False, debug: Debug = False, verbose: Verbose = False) -> None:
    """Export a run to SavedModel, ONNX and LiteRT, each one checked.

    Each artifact is run in its own runtime on examples of the run's validation split and
    compared with the Keras model; beyond the tolerance the export fails and writes nothing.
    SavedModel takes what 'bigmodel predict' takes (preprocessing inside). ONNX and LiteRT
    cannot run string preprocessing: for text and CSV models with text or category columns
    they take token ids, and signature.json with assets/ says how to make them.
    """
    from ..predict import export as exporter

    wanted = [item.value for item in export_format or [ExportFormat.all]]
    formats = list(exporter.FORMATS) if "all" in wanted else list(dict.fromkeys(wanted))
    summary = exporter.export(run_dir, formats, output, checkpoint.value, quantize.value,
                              verbose, unsafe, echo=stdout.print)
    stderr.print(f"wrote {', '.join(summary['formats'])} to {summary['output']}")
