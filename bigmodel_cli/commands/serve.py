"""serve: a run or an export behind TensorFlow Serving's REST API."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .common import Debug, Unsafe, Verbose, app, stderr

LOOPBACK = ("127.0.0.1", "localhost", "::1")


@app.command(epilog="""bigmodel serve runs/quickstart
                         bigmodel serve runs/quickstart/export --port 9000 --workers 2""")
def serve(source: Annotated[Path, typer.Argument(
              metavar="RUN_OR_EXPORT",
              help="A run directory, or a folder written by 'bigmodel export'.",
              show_default=False)],
          host: Annotated[str, typer.Option(
              help="Address to listen on; anything but loopback is reachable from other "
                   "machines, with no authentication.")] = "127.0.0.1",
          port: Annotated[int, typer.Option(min=0, max=65535)] = 8501,
          name: Annotated[str | None, typer.Option(
              help="The model name in URLs (default: the run's name).",
              show_default=False)] = None,
          max_batch: Annotated[int, typer.Option(
              min=1, metavar="B", help="Examples per model call; 1 turns batching off.")] = 32,
          batch_timeout_ms: Annotated[float, typer.Option(
              min=0, metavar="T", help="The longest a request waits for others to batch with.")
          ] = 5.0,
          batch_idle_ms: Annotated[float, typer.Option(
              min=0, metavar="I",
              help="A batch also closes when no request has come for this long (0: wait the "
                   "whole timeout).")] = 1.0,
          max_body_mb: Annotated[float, typer.Option(
              min=0.001, metavar="M", help="Largest request body; larger ones get a 413.")
          ] = 4.0,
          max_instances: Annotated[int, typer.Option(
              min=1, metavar="N", help="Most instances in one request.")] = 1024,
          workers: Annotated[int, typer.Option(
              min=1, metavar="N",
              help="Processes sharing the port, each with its own copy of the model and its "
                   "own batches; each counts only its own requests in /metrics.")] = 1,
          unsafe: Unsafe = False, debug: Debug = False, verbose: Verbose = False) -> None:
    """Serve a run or an export over HTTP, as TensorFlow Serving does.

    POST /v1/models/NAME:predict takes a JSON object with "instances", a list of what
    'bigmodel predict' reads (numbers, nested lists of pixels, base64 image bytes as "b64"
    objects, strings, objects of CSV columns), and answers with predict's rows as
    "predictions". GET /v1/models/NAME and .../metadata give its status and signature,
    /healthz and /metrics (Prometheus) the server's. Concurrent requests are batched into one
    model call. With --workers N, N processes each load the model and answer their share
    of the requests. README "Deploying" has curl examples.
    """
    from ..predict import serve as server
    from ..predict import serve_model

    if host not in LOOPBACK:
        stderr.print(f"warning: listening on {host}: reachable from other machines, and "
                     "bigmodel serve has no authentication", style="yellow")
    limits = server.Limits(max_batch, batch_timeout_ms / 1000, int(max_body_mb * 1024 * 1024),
                           max_instances, batch_idle_ms / 1000)

    def echo(line: str) -> None:
        stderr.print(line)

    if workers > 1:
        from ..predict import serve_workers

        serve_workers.run(source, name, verbose, unsafe, debug, host, port, limits, workers,
                          echo)
        return
    server.run(serve_model.load(source, name, verbose, unsafe), host, port, limits, echo)
