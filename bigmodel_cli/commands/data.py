"""The data group: a dataset as a config reads it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .common import ConfigPath, Debug, Overrides, Verbose, data_app, stdout


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
    from .. import config as config_module
    from ..data import inspect as inspection
    from ..runs import json_text

    report = inspection.inspect(config_module.load(config, overrides or []), output, examples,
                                verbose)
    if json_output:
        print(json_text(report), end="")
    else:
        inspection.render(report, stdout)
