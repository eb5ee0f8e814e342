"""sweep: a hyperparameter search over a config, each trial an ordinary run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .common import Debug, Verbose, app, stdout


@app.command(epilog="""bigmodel sweep configs/sweeps/quickstart_lr.yaml
                         bigmodel sweep my_sweep.yaml --storage sqlite:////shared/study.db""")
def sweep(sweep_file: Annotated[Path, typer.Argument(
              metavar="SWEEP_FILE", help="A sweep file (base config, space, trials, metric).",
              show_default=False)],
          runs_root: Annotated[Path, typer.Option(
              "--runs", metavar="DIR", help="Where the sweep folder goes: DIR/<sweep name>.")
          ] = Path("runs"),
          storage: Annotated[str | None, typer.Option(
              metavar="URL", help="An Optuna storage URL shared by several sweep processes "
                                  "(default: SQLite in the sweep folder).")] = None,
          debug: Debug = False, verbose: Verbose = False) -> None:
    """Search hyperparameters with Optuna, one run per trial.

    Each trial trains an ordinary run directory, DIR/<sweep>/trial-NNN.

    The study lives in DIR/<sweep>/study.db: run the same command again after a kill and
    the interrupted trial resumes from its backup, then the sweep goes on. At the end,
    DIR/<sweep>/best.yaml holds the best trial's config and plots/sweep.png each trial's
    metric. Several processes given the same --storage share the trials.
    """
    from ..sweep import study

    study.run(sweep_file, runs_root, stdout, verbose, storage)
