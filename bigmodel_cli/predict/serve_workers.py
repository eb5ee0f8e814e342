"""bigmodel serve --workers N: N processes on one listening socket, each with its own model.

The parent checks the source from its files (no TensorFlow), binds the socket and hands it to
uvicorn's process supervisor, which starts N fresh Python processes (spawn). Each builds its
app with `worker_app` from the settings the parent left in one environment variable, as JSON:
the processes share no memory, so each loads its own copy of the model, batches only the
requests it accepted and keeps its own /metrics. SIGTERM or SIGINT to the parent goes on to
every worker, which finishes its requests in flight and drains its batcher; the parent waits
for all of them and exits 0. A worker that cannot load the model says why in one line and
exits with uvicorn's start-up failure code, which stops the parent (any other exit would make
the supervisor start the worker again, forever).
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import sys
from pathlib import Path

from ..errors import BigModelError, RunError
from . import serve, serve_model

SETTINGS = "BIGMODEL_SERVE_WORKER"  # the environment variable the workers read


def run(source: Path, name: str | None, verbose: bool, unsafe: bool, debug: bool, host: str,
        port: int, limits: serve.Limits, workers: int, echo) -> None:
    from ..extras import require

    uvicorn = require("uvicorn", "bigmodel serve --workers")
    require("starlette", "bigmodel serve --workers")
    from uvicorn.config import STARTUP_FAILURE
    from uvicorn.supervisors import Multiprocess

    model_name, kind = serve_model.describe(source, name)
    listening = _listen(host, port)
    port = listening.getsockname()[1]  # the one the system chose for --port 0
    config = uvicorn.Config(
        f"{__name__}:worker_app", factory=True, host=host, port=port, workers=workers,
        log_level="warning", access_log=False, timeout_graceful_shutdown=30, lifespan="on",
        # A worker importing TensorFlow on a busy machine can be slow to answer the
        # supervisor's pings; the default 5 s would kill and restart it in a loop.
        timeout_worker_healthcheck=60)

    class Supervisor(Multiprocess):
        received: str | None = None

        def handle_int(self) -> None:
            self.received = self.received or "SIGINT"
            super().handle_int()

        def handle_term(self) -> None:
            self.received = self.received or "SIGTERM"
            super().handle_term()

    os.environ[SETTINGS] = json.dumps({
        "source": str(source), "name": model_name, "verbose": verbose, "unsafe": unsafe,
        "debug": debug, "limits": dataclasses.asdict(limits), "workers": workers})
    echo(serve.startup_line(model_name, kind, str(source), host, port, limits, workers))
    supervisor = Supervisor(config, sockets=[listening])
    try:
        supervisor.run()  # returns once every worker has stopped
    finally:
        os.environ.pop(SETTINGS, None)
        listening.close()
    if supervisor.received:
        echo(f"stopped on {supervisor.received}, after each worker's requests in flight")
    elif any(process.exitcode == STARTUP_FAILURE for process in supervisor.processes):
        raise RunError("a worker process could not load the model (its error is above); "
                       "bigmodel serve stopped")


def _listen(host: str, port: int) -> socket.socket:
    """The socket every worker accepts on; they call listen() on it themselves."""
    listening = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listening.bind((host, port))
    except OSError as error:
        listening.close()
        raise RunError(f"cannot listen on {host}:{port} ({error.strerror}); pick another "
                       "--port, or stop what holds this one") from None
    listening.set_inheritable(True)
    return listening


def worker_app():
    """The app of one worker process (uvicorn's factory): its own model, batcher, metrics."""
    from uvicorn.config import STARTUP_FAILURE

    settings = json.loads(os.environ[SETTINGS])
    try:
        model = serve_model.load(Path(settings["source"]), settings["name"],
                                 settings["verbose"], settings["unsafe"])
    except Exception as error:  # noqa: BLE001 - one line, then a stop the supervisor honours
        if settings["debug"]:
            import traceback

            traceback.print_exc()
        message = str(error) if isinstance(error, BigModelError) else \
            f"unexpected {type(error).__name__}: {error} (rerun with --debug for the traceback)"
        print(f"error: worker {os.getpid()}: {message}", file=sys.stderr, flush=True)
        # At once: a worker tearing TensorFlow down leaves the supervisor's health ping
        # unanswered until it times out, which would delay the stop by that long.
        os._exit(STARTUP_FAILURE)
    print(f"worker {os.getpid()}: model loaded, answering requests", file=sys.stderr,
          flush=True)
    return serve.create_app(model, serve.Limits(**settings["limits"]), settings["workers"])
