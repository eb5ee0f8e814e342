"""runs and compare: the run directories of a folder as a table, and runs side by side."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .common import Debug, app, stdout

SORT_KEYS = ("name", "state", "family", "data", "epochs", "best", "test", "wall", "parameters",
             "modified")


@app.command(name="runs", epilog="""bigmodel runs
                         bigmodel runs runs/lr_sweep --sort test --json
                         bigmodel runs --filter 'smoke_*'""")
def runs_command(
        folder: Annotated[Path, typer.Argument(
            help="A folder of run directories (searched at any depth).")] = Path("runs"),
        json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
        sort: Annotated[str, typer.Option(
            metavar="KEY", help=f"Sort by one of: {', '.join(SORT_KEYS)}; "
                                "prefix - for descending (-test).")] = "name",
        name_filter: Annotated[str | None, typer.Option(
            "--filter", metavar="GLOB", help="Only runs whose name (path under FOLDER) "
                                             "matches, e.g. 'cnn_*'.")] = None,
        debug: Debug = False) -> None:
    """List the runs in a folder: state, family, data, epochs, best and test metric, time.

    States: finished; running (a live process trains it: process.json); interrupted (a
    backup to resume from, or its process was killed); failed (failed.json holds the error).
    """
    from ..report import listing
    from ..runs import json_text

    rows = listing.rows(folder, sort, name_filter)
    if json_output:
        print(json_text(rows), end="")
        return
    stdout.print(listing.table(rows, folder))


@app.command(epilog="""bigmodel compare runs/a runs/b
                         bigmodel compare runs/sweep/trial-* --output sweep-curves.png""")
def compare(run_dirs: Annotated[list[Path], typer.Argument(
                metavar="RUN_DIR...", help="Two or more run directories.", show_default=False)],
            output: Annotated[Path, typer.Option(
                metavar="FILE", help="Where to write the overlaid curves.")] = Path(
                "compare.png"),
            json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
            debug: Debug = False) -> None:
    """Compare runs: the config keys that differ, best and final metrics side by side, and
    their curves overlaid in one picture (--output, default ./compare.png)."""
    from ..errors import UsageError
    from ..report import compare as comparing
    from ..runs import json_text

    if len(run_dirs) < 2:
        raise UsageError("compare needs two or more run directories, e.g. "
                         "'bigmodel compare runs/a runs/b'")
    comparison = comparing.compare(run_dirs)
    comparison["plot"] = str(comparing.plot(comparison, output))
    if json_output:
        print(json_text(comparison), end="")
        return
    for table in comparing.tables_of(comparison):
        stdout.print(table)
    stdout.print(f"curves: {comparison['plot']}")
