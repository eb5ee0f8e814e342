"""bigmodel serve: TensorFlow Serving's REST API in front of a run or an export, on starlette.

  POST /v1/models/NAME[/versions/1]:predict   {"instances": [...]} -> {"predictions": [...]}
                                              {"inputs": ...}      -> {"outputs": [...]}
  GET  /v1/models/NAME[/versions/1]           the version's status
  GET  /v1/models/NAME[/versions/1]/metadata  the signature: input names, shapes, dtypes
  GET  /healthz                               {"status": "ok"}
  GET  /metrics                               Prometheus text: requests, errors, latency, batches

Instances are what `bigmodel predict` reads, as JSON (predict/instances.py), and each
prediction is predict's row for it. Every bad request is answered with {"error": one line}
and a 400, 404 or 413; the server never stops for one.
"""

from __future__ import annotations

import json
import os
import signal
import time
from dataclasses import dataclass

from ..errors import BigModelError, UsageError
from .serve_batching import Batcher
from .serve_metrics import Metrics
from .serve_model import ServedModel

DEFAULT_TOP_K = 3  # as bigmodel predict


@dataclass
class Limits:
    max_batch: int = 32  # examples per model call (1: no batching)
    batch_timeout: float = 0.005  # seconds the first request of a batch waits for company
    max_body: int = 4 * 1024 * 1024  # bytes
    max_instances: int = 1024  # per request
    batch_idle: float = 0.001  # seconds without a new request that close a batch (0: never)


class HTTPError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def create_app(model: ServedModel, limits: Limits, workers: int = 1):
    """The ASGI app; its lifespan starts and stops the batcher. Every answer names the process
    that gave it (header x-bigmodel-worker): with --workers N, which of them did."""
    import contextlib

    from starlette.applications import Starlette
    from starlette.responses import JSONResponse, PlainTextResponse
    from starlette.routing import Route

    metrics = Metrics(model.name, workers)
    state = {}
    worker = {"x-bigmodel-worker": str(os.getpid())}

    @contextlib.asynccontextmanager
    async def lifespan(app):
        state["batcher"] = Batcher(model.predict, limits.max_batch, limits.batch_timeout,
                                   metrics.batch, limits.batch_idle)
        state["batcher"].start()
        yield
        await state["batcher"].stop()

    async def health(request):
        metrics.request("/healthz", 200)
        return JSONResponse({"status": "ok"}, headers=worker)

    async def metrics_text(request):
        return PlainTextResponse(metrics.text(), media_type="text/plain; version=0.0.4",
                                 headers=worker)

    async def models(request):
        started = time.perf_counter()
        path = request.path_params["rest"]
        action, route = "status", "/v1/models"
        try:
            name, version, action = _parse(path, request.method)
            route = f"/v1/models:{action}"
            _check_model(model, name, version)
            if action == "predict":
                body = await _read_body(request, limits.max_body)
                answer = await _predict(model, state["batcher"], body, limits)
            elif action == "metadata":
                answer = _metadata(model)
            else:
                answer = _status(model)
            status = 200
        except HTTPError as error:
            answer, status = {"error": str(error)}, error.status
        except BigModelError as error:
            answer, status = {"error": str(error)}, 400
        except Exception as error:  # noqa: BLE001 - a request never takes the server down
            answer, status = {"error": _model_error(error)}, _model_status(error)
        metrics.request(route, status, time.perf_counter() - started
                        if action == "predict" else None)
        return JSONResponse(answer, status_code=status, headers=worker)

    routes = [Route("/healthz", health), Route("/metrics", metrics_text),
              Route("/v1/models/{rest:path}", models, methods=["GET", "POST"])]
    return Starlette(routes=routes, lifespan=lifespan)


def _parse(path: str, method: str) -> tuple[str, str | None, str]:
    """(model name, version or None, 'predict' | 'metadata' | 'status') of a /v1/models path."""
    action = "status"
    if path.endswith(":predict"):
        path, action = path[: -len(":predict")], "predict"
    parts = path.split("/")
    if action != "predict" and parts[-1] == "metadata":
        parts, action = parts[:-1], "metadata"
    if len(parts) == 1:
        name, version = parts[0], None
    elif len(parts) == 3 and parts[1] == "versions":
        name, version = parts[0], parts[2]
    else:
        raise HTTPError(404, f"no such path /v1/models/{path}; use /v1/models/NAME"
                             "[/versions/V][:predict|/metadata]")
    if (action == "predict") != (method == "POST"):
        raise HTTPError(405 if action == "predict" else 404,
                        f"{method} /v1/models/{path}{':predict' if action == 'predict' else ''}"
                        ": predict is POST .../NAME:predict; status and metadata are GET")
    return name, version, action


def _check_model(model: ServedModel, name: str, version: str | None) -> None:
    if name != model.name:
        raise HTTPError(404, f"no model '{name}'; this server serves '{model.name}'")
    if version is not None and version != str(model.version):
        raise HTTPError(404, f"model '{name}' has no version {version}; it has version "
                             f"{model.version}")


async def _read_body(request, limit: int) -> dict:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HTTPError(413, _too_large(int(declared), limit))
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPError(413, _too_large(size, limit))
        chunks.append(chunk)
    try:
        return json.loads(b"".join(chunks))
    except (ValueError, UnicodeDecodeError) as error:
        raise HTTPError(400, f"malformed JSON body ({error})") from None
    except RecursionError:
        raise HTTPError(400, "malformed JSON body (nested too deeply)") from None


def _too_large(size: int, limit: int) -> str:
    return (f"the body is {size:,} bytes or more, over the limit of {limit:,} "
            "(bigmodel serve --max-body-mb)")


async def _predict(model: ServedModel, batcher: Batcher, body, limits: Limits) -> dict:
    from .instances import request_instances, to_batch

    instances, columnar = request_instances(body, model.spec, limits.max_instances)
    top_k = body.get("top_k", DEFAULT_TOP_K)
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
        raise UsageError(f'"top_k" must be a whole number >= 1, not {top_k!r}')
    signature = body.get("signature_name", "serving_default")
    if signature != "serving_default":
        raise UsageError(f"no signature {signature!r}; the one signature is serving_default")
    batch = to_batch(instances, model.spec)
    outputs = await batcher.predict(batch, len(instances))
    return {"outputs" if columnar else "predictions": model.rows(outputs, top_k)}


def _metadata(model: ServedModel) -> dict:
    return {"model_spec": {"name": model.name, "signature_name": "",
                           "version": str(model.version)},
            "metadata": {"signature_def": {"serving_default": model.signature},
                         "source": model.source, "kind": model.kind, "task": model.task.name,
                         "input_kind": model.spec.kind, "class_names": model.target.class_names}}


def _status(model: ServedModel) -> dict:
    return {"model_version_status": [{"version": str(model.version), "state": "AVAILABLE",
                                      "status": {"error_code": "OK", "error_message": ""}}]}


def _model_error(error: Exception) -> str:
    text = " ".join((getattr(error, "message", None) or str(error)).split())
    return f"{type(error).__name__}: {text[:300]}"


def _model_status(error: Exception) -> int:
    # TensorFlow's InvalidArgumentError: the input reached the model and did not fit it.
    return 400 if type(error).__name__ == "InvalidArgumentError" else 500


def startup_line(name: str, kind: str, source: str, host: str, port: int, limits: Limits,
                 workers: int) -> str:
    address = f"[{host}]" if ":" in host else host
    processes = "1 process" if workers == 1 else \
        f"{workers} worker processes, each with its own copy of the model and its own batches"
    return (f"serving {name} ({kind} {source}) on http://{address}:{port}/v1/models/{name}"
            f":predict; {processes}; batches of up to {limits.max_batch} "
            f"(waiting up to {limits.batch_timeout * 1000:g} ms"
            + (f", or {limits.batch_idle * 1000:g} ms without a new request)"
               if limits.batch_idle else ")"))


def run(model: ServedModel, host: str, port: int, limits: Limits, echo) -> None:
    """Serve until SIGINT or SIGTERM; uvicorn then stops accepting, finishes the requests in
    flight (up to 30 s), and the lifespan drains the batcher."""
    from ..extras import require

    uvicorn = require("uvicorn", "bigmodel serve")
    require("starlette", "bigmodel serve")
    server = uvicorn.Server(uvicorn.Config(
        create_app(model, limits), host=host, port=port, log_level="warning", access_log=False,
        timeout_graceful_shutdown=30, lifespan="on"))
    echo(startup_line(model.name, model.kind, model.source, host, port, limits, 1))
    # uvicorn stops gracefully on SIGINT/SIGTERM, restores the handlers it found, then sends
    # the signal again: these handlers receive it, so that a requested stop exits with 0.
    received = []
    previous = {number: signal.signal(number, lambda number, frame: received.append(number))
                for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        server.run()
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    if received:
        echo(f"stopped on {signal.Signals(received[0]).name}, after the requests in flight")
