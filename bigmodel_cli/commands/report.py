"""report: one self-contained HTML page of a run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..cli_help import choices
from .common import Debug, RunPath, Split, Unsafe, Verbose, app, stdout


@app.command(epilog="""bigmodel report runs/quickstart
                         bigmodel report runs/quickstart --split validation --output q.html""")
def report(run_dir: RunPath,
           split: Annotated[Split, typer.Option(
               metavar=choices(Split), help="The split of the run's data to report on.")
           ] = Split.test,
           output: Annotated[Path | None, typer.Option(
               metavar="FILE", help="Where to write the page (default RUN_DIR/report.html).")
           ] = None,
           unsafe: Unsafe = False, debug: Debug = False, verbose: Verbose = False) -> None:
    """Write a run's report.html: its tables and pictures in one file.

    The page holds the config, versions, curves, per-class tables and pictures, images
    embedded as base64, so it opens in any browser with nothing beside it.

    Evaluates the run on the split first (as 'bigmodel evaluate' does, writing its
    pictures into RUN_DIR/plots/).
    """
    from ..predict import inference
    from ..report import html
    from ..runs import RunDir

    result = inference.evaluate(run_dir, split.value, verbose, unsafe)
    path = html.write(RunDir(run_dir), result, output)
    stdout.print(f"wrote {path}")
