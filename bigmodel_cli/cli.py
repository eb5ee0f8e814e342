"""The `bigmodel` command: thin commands that parse, load the config and call the library.

Heavy imports (TensorFlow, the data and model code) happen inside the commands, so that
`bigmodel --help` and config checks answer at once.
"""

from __future__ import annotations

import atexit
import os
import sys
import traceback
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from . import __version__
from .cli_help import ClickException, Commands, choices, error_line
from .errors import BigModelError
from .names import DATA_SOURCES, MODEL_FAMILIES, one_of

app = Commands(add_completion=False, pretty_exceptions_enable=False,
               help="Train Keras models from YAML configs, on CPU, GPU or TPU.",
               epilog="""bigmodel train configs/quickstart.yaml
                         bigmodel evaluate runs/quickstart""")
config_app = Commands(help="Inspect and check configs.",
                      epilog="bigmodel config validate configs/*.yaml")
app.add_typer(config_app, name="config")
data_app = Commands(help="Look at a dataset as a config reads it.",
                    epilog="bigmodel data inspect configs/cnn_cifar10.yaml")
app.add_typer(data_app, name="data")

# Neither reads markup or emoji codes: paths, keys, class names and messages hold user text
# (a file my:fire:config.yaml, a class [b]), so every print shows it as it is. Colour comes
# from style= arguments only.
stdout = Console(highlight=False, soft_wrap=True, markup=False, emoji=False)
stderr = Console(stderr=True, highlight=False, soft_wrap=True, markup=False, emoji=False)


class Split(StrEnum):
    """The splits `evaluate` takes (inference.SPLITS, in the same order)."""

    train = "train"
    validation = "validation"
    test = "test"


class OutputFormat(StrEnum):
    table = "table"
    jsonl = "jsonl"
    csv = "csv"


# Options shared by several commands, declared once.
Debug = Annotated[bool, typer.Option("--debug", help="Show the full traceback of an error.")]
Verbose = Annotated[bool, typer.Option("--verbose", "-v", help="Show TensorFlow's own log.")]
Unsafe = Annotated[bool, typer.Option(
    "--unsafe", help="Load checkpoints that hold Python code (Lambda layers); only if trusted.")]
Overrides = Annotated[list[str] | None, typer.Option(
    "--set", "-s", metavar="KEY=VALUE",
    help="Override a config value, e.g. --set optimizer.learning_rate=3e-4 (repeatable).")]
ConfigPath = Annotated[Path, typer.Argument(help="A YAML config, e.g. configs/quickstart.yaml.",
                                            show_default=False)]
RunPath = Annotated[Path, typer.Argument(help="A run directory written by 'bigmodel train'.",
                                         show_default=False)]


def _show_version(value: bool) -> None:
    if value:
        stdout.print(f"bigmodel {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: Annotated[bool, typer.Option(
        "--version", callback=_show_version, is_eager=True, help="Print the version.")] = False):
    """Train Keras models from YAML configs, on CPU, GPU or TPU.

    One command trains a recipe; its run directory then serves evaluate and predict.
    """


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
    from . import config as config_module
    from .train import runner

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
    """Evaluate a trained run on a split of its data."""
    from .predict import inference
    from .runs import json_text

    metrics = inference.evaluate(run_dir, split.value, verbose, unsafe)
    if json_output:
        print(json_text(metrics), end="")
        return
    from rich.table import Table

    table = Table(title=f"{run_dir} · {split} ({metrics.pop('examples'):,} examples)")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in metrics.items():
        if name != "split":
            table.add_row(name, f"{value:.4f}")
    stdout.print(table)


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
    from . import atomic
    from .predict import inference

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


@config_app.command("show", epilog="""bigmodel config show configs/quickstart.yaml --origin
                         bigmodel config show configs/quickstart.yaml --set seed=1""")
def config_show(config: ConfigPath, overrides: Overrides = None,
                origin: Annotated[bool, typer.Option(
                    "--origin", help="Note after each value the file:line or --set that set it, "
                                     "or 'default'.")] = False,
                debug: Debug = False) -> None:
    """Print a config fully resolved, as YAML.

    Bases are merged and every default is written out.
    """
    from . import config as config_module

    raw, origins = config_module.resolve(config, overrides or [])
    loaded = config_module.validate(raw, origins, str(config))
    if origin:
        print(config_module.dump_with_origins(loaded, raw, origins), end="")
    else:
        print(config_module.dump(loaded), end="")


@config_app.command("validate", epilog="""bigmodel config validate configs/*.yaml
                         bigmodel config validate configs/quickstart.yaml --dry-run""")
def config_validate(
        configs: Annotated[list[Path], typer.Argument(
            metavar="CONFIG", help="YAML configs, e.g. configs/*.yaml.", show_default=False)],
        overrides: Overrides = None,
        dry_run: Annotated[bool, typer.Option(
            "--dry-run", help="Also build the model in its strategy and take one training "
                              "step on a random batch (imports TensorFlow; downloads "
                              "nothing).")] = False,
        debug: Debug = False, verbose: Verbose = False) -> None:
    """Check configs without training.

    Prints every mistake of every file, and an OK line for each valid one; exits with 2 if any
    is invalid. --dry-run also builds the model and takes one step.
    """
    from .config.validate import validate_files

    code = validate_files(configs, overrides or [], dry_run, stdout, stderr, verbose, debug)
    if code:
        raise typer.Exit(code)


@config_app.command("schema", epilog="bigmodel config schema > configs/schema.json")
def config_schema() -> None:
    """Print the JSON Schema of a config file, for editors.

    configs/schema.json holds a copy.
    """
    import json

    from . import config as config_module

    print(json.dumps(config_module.json_schema(), indent=2))


@data_app.command("inspect", epilog="""bigmodel data inspect configs/cnn_cifar10.yaml
                         bigmodel data inspect configs/quickstart.yaml --json""")
def data_inspect(config: ConfigPath, overrides: Overrides = None,
                 output: Annotated[Path, typer.Option(
                     metavar="FILE", help="Where to save the grid of example images (PNG).")
                 ] = Path("inspect.png"),
                 examples: Annotated[int, typer.Option(
                     min=1, metavar="N", help="Examples to show.")] = 16,
                 json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
                 debug: Debug = False, verbose: Verbose = False) -> None:
    """Show what a config's data looks like.

    Splits, class balance, input spec, a few examples and the input pipeline's speed.
    """
    from . import config as config_module
    from .data import inspect as inspection
    from .runs import json_text

    report = inspection.inspect(config_module.load(config, overrides or []), output, examples,
                                verbose)
    if json_output:
        print(json_text(report), end="")
    else:
        inspection.render(report, stdout)


@app.command(epilog="""bigmodel init > my_config.yaml
                         bigmodel init --family rnn --dataset imdb > my_config.yaml""")
def init(family: Annotated[str | None, typer.Option(
             help=f"{one_of(MODEL_FAMILIES)} (default: cnn; mlp for tables, vectors, npz).",
             show_default=False)] = None,
         dataset: Annotated[str | None, typer.Option(
             help="e.g. digits, iris, mnist, cifar10, imdb, or any tfds name.",
             show_default=False)] = None,
         source: Annotated[str | None, typer.Option(
             help=f"{one_of(DATA_SOURCES)} (default: from the dataset).",
             show_default=False)] = None,
         debug: Debug = False) -> None:
    """Print a commented starter config."""
    from .config.starter import starter_config

    print(starter_config(family, dataset, source), end="")


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; errors become one red line and an exit code (2 usage, 1 runtime)."""
    argv = sys.argv[1:] if argv is None else argv
    debug = "--debug" in argv
    try:
        # Not typer's standalone mode: click's own usage errors (a bad option, a missing
        # argument) are printed below in the same one-line style as bigmodel's.
        code = app(args=argv, prog_name="bigmodel", standalone_mode=False)
    except KeyboardInterrupt:
        stderr.print("interrupted", style="red")
        sys.exit(130)
    except ClickException as error:
        stderr.print(f"error: {error_line(error)}", style="red")
        sys.exit(error.exit_code)
    except BigModelError as error:
        if debug:
            traceback.print_exc()
        if getattr(error, "signal_number", None):  # a clean stop on a signal, not a failure
            stderr.print(str(error), style="yellow")
            sys.exit(error.exit_code)
        for line in str(error).splitlines():
            stderr.print(f"error: {line}", style="red")
        sys.exit(error.exit_code)
    except Exception as error:  # noqa: BLE001 - the last line of defence for the user
        if debug:
            raise
        stderr.print(f"error: unexpected {type(error).__name__}: {error} "
                     "(rerun with --debug for the traceback)", style="red")
        sys.exit(1)
    if code:  # typer.Exit(code) from a command, e.g. config validate finding a mistake
        sys.exit(code)


def entry() -> None:
    """The `bigmodel` console command: `main`, then, after a successful command that loaded
    TensorFlow, an exit that skips tearing the interpreter down.

    Python's teardown then spends about a second destroying TensorFlow's objects (measured
    after a small Transformer run on 2 CPU cores), while every file of the run is already
    written and closed. Exit handlers and the output streams still run and flush first.
    """
    try:
        main()
    except SystemExit as stop:
        if stop.code not in (None, 0) or "tensorflow" not in sys.modules:
            raise
    if "tensorflow" in sys.modules:
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
