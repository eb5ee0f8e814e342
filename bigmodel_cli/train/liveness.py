"""Who is training a run directory now, and how its last attempt ended.

`process.json` (pid, host, start time) exists while a process trains the run and is removed
when it stops, however it stops; one left behind names a process that was killed (kill -9,
a lost machine). `failed.json` records an error that ended training (not a signal: that is
an interruption with a backup to resume from); a later attempt that starts removes it.
`bigmodel runs` reads both (report/runinfo.py) to tell running, interrupted and failed apart.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time

from ..runs import RunDir, read_json, write_json


def hold(run: RunDir) -> None:
    """Mark the run as trained by this process; clear the failure of an earlier attempt."""
    run.failed.unlink(missing_ok=True)
    write_json(run.process, {"pid": os.getpid(), "host": socket.gethostname(),
                             "started": time.time()})


def holder(run: RunDir) -> dict | None:
    """process.json's record, or None."""
    if not run.process.is_file():
        return None
    with contextlib.suppress(Exception):
        return read_json(run.process)
    return None


def held_by_me(run: RunDir) -> bool:
    record = holder(run)
    return bool(record) and record.get("pid") == os.getpid() and \
        record.get("host") == socket.gethostname()


def release(run: RunDir, error: BaseException | None = None) -> None:
    """Training stopped: drop process.json; record an error that is not an interruption."""
    if not held_by_me(run):
        return
    with contextlib.suppress(OSError):
        from .callbacks import Interrupted

        if error is not None and not isinstance(error, Interrupted | KeyboardInterrupt):
            message = str(error).splitlines()[0] if str(error) else type(error).__name__
            write_json(run.failed, {"error": message, "type": type(error).__name__,
                                    "time": time.time()})
        run.process.unlink(missing_ok=True)
