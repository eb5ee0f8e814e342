"""train, evaluate and predict: a config in, a run directory out, and back."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..cli_help import choices
from .common import (
    ConfigPath,
    Debug,
    OutputFormat,
    Overrides,
    RunPath,
    Split,
    Unsafe,
    Verbose,
    app,
    stderr,
    stdout,
)


@app.command(epilog="""bigmodel train configs/quickstart.yaml
                         bigmodel train configs/cnn_cifar10.yaml --set training.epochs=2 \\
                             --run-dir runs/short""")
def train(config: ConfigPath, overrides: Overrides = None,
          run_dir: Annotated[Path | None, typer.Option(
              help="Where to write the run (default runs/<name>).")] = None,
          restart: Annotated[bool, typer.Option(
              help="Delete the run in --run-dir and start over.")] = False,
          force: Annotated[bool, typer.Option(
              help="Resume even though the config changed what is trained.")] = False,
          extend: Annotated[bool, typer.Option(
              help="Train a finished run on to a larger training.epochs.")] = False,
          init_from: Annotated[Path | None, typer.Option(
              metavar="PATH",
              help="Start from the weights of a run directory or .keras file (fine-tuning).",
              show_default=False)] = None,
          debug: Debug = False, verbose: Verbose = False) -> None:
    """Train the model a config describes.

    Running it again on the same run directory resumes where it stopped.
    """
    from .. import config as config_module
    from ..train import runner

    loaded = config_module.load(config, overrides or [])
    runner.train(loaded, run_dir or Path("runs") / loaded.name, stdout, verbose,
                 restart=restart, force=force, extend=extend, init_from=init_from)


@app.command(epilog="""bigmodel evaluate runs/quickstart
                         bigmodel evaluate runs/quickstart --split validation --json""")
def evaluate(run_dir: RunPath,
             split: Annotated[Split, typer.Option(
                 metavar=choices(Split), help="The split of the run's data to evaluate on.")
             ] = Split.test,
             json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
             unsafe: Unsafe = False, debug: Debug = False, verbose: Verbose = False) -> None:
    """Evaluate a trained run on a split of its data.

    Prints which checkpoint was used and whether the run finished, the metrics, and what the
    task reports (classification: per-class precision, recall, F1, the confusion matrix,
    top-k accuracy, ROC and PR AUC for two classes, calibration error; regression: MAE, RMSE,
    R²). Writes the split's pictures into RUN_DIR/plots/.
    """
    from ..predict import inference
    from ..report import evaluation
    from ..report.tables import evaluation_tables
    from ..runs import json_text

    result = inference.evaluate(run_dir, split.value, verbose, unsafe)
    if json_output:
        print(json_text(result), end="")
        return
    stdout.print(evaluation.header(run_dir, split.value, result["examples"], result["run"]),
                 style="bold")
    for table in evaluation_tables(result):
        stdout.print(table)
    if result.get("plots"):
        stdout.print(f"pictures: {', '.join(str(run_dir / path) for path in result['plots'])}")


@app.command(epilog="""bigmodel predict runs/cnn_cifar10 cat.png photos/ --top-k 3
                         bigmodel predict runs/rnn_imdb "a wonderful film" --format jsonl""")
def predict(run_dir: RunPath,
            inputs: Annotated[list[str], typer.Argument(
                metavar="INPUT", help="A file, a folder, or (for text models) a raw string.",
                show_default=False)],
            top_k: Annotated[int, typer.Option(
                min=1, metavar="K", help="Classes to show per input.")] = 3,
            output_format: Annotated[OutputFormat, typer.Option(
                "--format", metavar=choices(OutputFormat),
                help="Output format. With --output, the default follows the file's suffix: "
                     "csv for .csv, else jsonl.")] = OutputFormat.table,
            output: Annotated[Path | None, typer.Option(
                metavar="FILE", help="Write to this file instead of the terminal.")] = None,
            unsafe: Unsafe = False, debug: Debug = False, verbose: Verbose = False) -> None:
    """Predict with a trained run on raw inputs.

    Each INPUT is one of the kinds the run's model reads:

    \b
      images       .png .jpg .jpeg .bmp .gif
      arrays       .npy (one example or a batch), .npz (array 'x', else each array)
      text files   one example per line: text, or numbers split by commas or spaces
      CSV files    rows with the training columns (models trained on CSV rows)
      raw strings  the text itself (text models)
      folders      their files of the model's input kind, sorted (sub-folders too)

    Each prediction is labelled with the input as given (a folder's files as FOLDER/NAME).
    """
    from .. import atomic
    from ..predict import inference

    if output is not None and output_format == OutputFormat.table:
        output_format = OutputFormat.csv if output.suffix == ".csv" else OutputFormat.jsonl
    rows = inference.predict(run_dir, inputs, top_k, verbose, unsafe)
    if output is not None:
        atomic.write_text(output, inference.format_rows(rows, output_format))
        stderr.print(f"wrote {len(rows)} predictions to {output}")
    elif output_format == "table":
        stdout.print(_prediction_table(rows, top_k))
    else:
        print(inference.format_rows(rows, output_format), end="")


def _prediction_table(rows: list[dict], top_k: int):
    from rich.table import Table

    table = Table()
    table.add_column("input")
    if rows and "value" in rows[0]:
        table.add_column("value", justify="right")
        for row in rows:
            table.add_row(row["input"], f"{row['value']:.4f}")
        return table
    for rank in range(1, min(top_k, len(rows[0]["top"])) + 1 if rows else 1):
        table.add_column(f"#{rank}")
    for row in rows:
        table.add_row(row["input"], *(f"{guess['class']} {guess['probability']:.3f}"
                                      for guess in row["top"]))
    return table
