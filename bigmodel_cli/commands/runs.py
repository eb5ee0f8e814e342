"""runs and compare: the run directories of a folder as a table, and runs side by side."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .common import Debug, app, stdout

SORT_KEYS = ("name", "state", "family", "data", "epochs", "best", "test", "wall", "parameters",
             "modified")


@app.command(name="runs", epilog="""bigmodel runs
                         bigmodel runs runs/quickstart_lr --sort -test --filter 'trial-*'""")
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
    """List the runs in a folder, with their state and metrics.

    Columns: name, state, family, data, epochs done/planned, best monitored value, test
    metric, wall time, parameters.

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
                metavar="RUN_DIR", help="Two or more run directories.", show_default=False)],
            output: Annotated[Path, typer.Option(
                metavar="FILE", help="Where to write the overlaid curves.")] = Path(
                "compare.png"),
            json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
            debug: Debug = False) -> None:
    """Compare runs: config differences, metrics and curves.

    Prints the config keys that differ (only those), the final, best and test metrics side
    by side, and writes their curves overlaid in one picture (--output, default
    ./compare.png).
    """
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


@app.command(epilog="""bigmodel tensorboard
                         bigmodel tensorboard runs/quickstart_lr --port 6007""")
def tensorboard(folder: Annotated[Path, typer.Argument(
                    help="A run directory or a folder of them.")] = Path("runs"),
                port: Annotated[int, typer.Option(min=1, max=65535, help="The port to serve.")
                                ] = 6006,
                host: Annotated[str, typer.Option(
                    help="The address to listen on (0.0.0.0: every network).")] = "localhost",
                debug: Debug = False) -> None:
    """Start TensorBoard on a folder of runs.

    It serves the runs' logs/ folders until Ctrl-C.

    Each run's logs/ holds Keras' TensorBoard events (loss, metrics, learning rate per
    epoch) when training.tensorboard is true, the default.
    """
    import os
    import subprocess
    import sys

    from ..errors import UsageError

    if not folder.is_dir():
        raise UsageError(f"no folder {folder}; pass the folder your runs are in (default runs/)")
    if not any(folder.rglob("events.out.tfevents.*")):
        raise UsageError(f"no TensorBoard logs under {folder} (a run's logs/ folder); train "
                         "with training.tensorboard: true, the default")
    stdout.print(f"TensorBoard on {folder}: http://{host}:{port}/ (Ctrl-C to stop)")
    command = [sys.executable, "-m", "tensorboard.main", "--logdir", str(folder),
               "--port", str(port), "--host", host]
    try:
        # TensorFlow's C++ start-up noise stays off the terminal, as in bigmodel's commands.
        raise typer.Exit(subprocess.call(command, env={"TF_CPP_MIN_LOG_LEVEL": "3",
                                                       **os.environ}))
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
