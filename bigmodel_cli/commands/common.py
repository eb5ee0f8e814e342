"""What every command shares: the app and its groups, the consoles, the options used by
several commands. Command modules import from here; `bigmodel_cli.commands` imports them in
the order `bigmodel --help` lists them."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from .. import __version__
from ..cli_help import Commands

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
