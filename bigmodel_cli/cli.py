"""The `bigmodel` command: the commands (bigmodel_cli/commands/) run with one-line errors and
exit codes (2 usage, 1 runtime), and a fast exit once TensorFlow was loaded.
"""

from __future__ import annotations

import atexit
import os
import sys
import traceback

from . import commands  # noqa: F401 - registers every command on the app
from .cli_help import ClickException, error_line
from .commands.common import OutputFormat, Split, app, stderr, stdout  # noqa: F401 - the API
from .errors import BigModelError


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
