"""`bigmodel predict` against `bigmodel serve` on the same inputs: the second table of
benchmarks/serve.py (its docstring says what each row times)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from serve_client import ENVIRONMENT, MODES, REPO, _bodies, _drive, _instances, serving

ARRAY_DTYPES = {"image": np.uint8, "tokens": np.int32, "vector": np.float32}


def against_predict(runs: list[Path], arguments, scratch: Path) -> None:
    import httpx

    count, clients = arguments.predict_inputs, arguments.clients
    print(f"\n{'run':<20} {'way':<50} {'inputs':>6} {'seconds':>8} {'inputs/s':>9} "
          f"{'top-1 agrees':>12}")
    for run in runs:
        with serving(run, MODES["on"]) as (url, startup, _):
            kind, instances = _instances(httpx, url, count, arguments.seed)
            if kind not in (*ARRAY_DTYPES, "text"):
                print(f"{run.name:<20} skipped: {kind} inputs are not drawn by this benchmark")
                continue
            bodies = _bodies((kind, instances))
            asyncio.run(_drive(url, bodies[: clients * 2], clients))  # warm-up, not timed
            _, errors, seconds, answers = asyncio.run(_drive(url, bodies, clients))
        if errors:
            raise SystemExit(f"{run.name}: {errors} of {count} requests failed")
        served = [json.loads(answer)["predictions"][0] for answer in answers]
        predicted, predict_seconds = _predict(run, _write(scratch / run.name, kind, instances))
        _, one_seconds = _predict(run, _write(scratch / f"{run.name}_one", kind, instances[:1]))
        agree = np.mean([a["top"][0]["class"] == b["top"][0]["class"]
                         for a, b in zip(served, predicted, strict=True)])
        rows = [("bigmodel predict FILE, start to exit", count, predict_seconds, ""),
                ("bigmodel predict on 1 input (its start-up)", 1, one_seconds, ""),
                ("  predict beyond start-up (the difference)", count - 1,
                 predict_seconds - one_seconds, ""),
                ("bigmodel serve, start until /healthz answers", None, startup, ""),
                (f"bigmodel serve, {clients} clients, 1 input per request", count, seconds,
                 f"{agree:.1%}")]
        for way, inputs, took, note in rows:
            rate = f"{inputs / took:>9.0f}" if inputs and inputs > 1 and took > 0 else " " * 9
            print(f"{run.name:<20} {way:<50} {inputs or '':>6} {took:>8.2f} {rate} {note:>12}",
                  flush=True)


def _write(stem: Path, kind: str, instances: list) -> Path:
    """The instances as one file predict reads: an .npy batch, or text with one per line."""
    if kind == "text":
        path = stem.with_suffix(".txt")
        path.write_text("\n".join(instances) + "\n", encoding="utf-8")
    else:
        path = stem.with_suffix(".npy")
        np.save(path, np.asarray(instances, dtype=ARRAY_DTYPES[kind]))
    return path


def _predict(run: Path, inputs: Path) -> tuple[list[dict], float]:
    """predict's rows for the file, and the seconds `bigmodel predict` took, start to exit."""
    output = inputs.with_suffix(".jsonl")
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "bigmodel_cli", "predict", str(run), str(inputs),
                    "--format", "jsonl", "--output", str(output)], cwd=REPO, check=True,
                   capture_output=True, env=ENVIRONMENT)
    seconds = time.perf_counter() - started
    rows = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
    return rows, seconds
