"""Server-side batching: requests that arrive together run as one model call.

Each request puts its batch on a queue and awaits a future. One worker task takes the first
waiting request, then gathers more until `max_batch` examples are waiting, `timeout` seconds
have passed since the first, or no request has come for `idle` seconds (IDLE_GAP unless
set; 0 waits for the whole timeout); it concatenates
them, runs the model once in a worker thread (the event loop keeps accepting requests
meanwhile) and hands each request its own rows back. A request larger than `max_batch` runs
alone. max_batch 1 turns batching off.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

# Requests that come together arrive within a fraction of a millisecond of each other. Without
# this gap, clients that each wait for their answer (16 of them, and max_batch 32) left every
# batch waiting out the whole timeout for requests that could not come: the smoke CNN served
# 1,195 requests/s with a 5 ms timeout and 1,836 with 1 ms (benchmarks/serve.py).
IDLE_GAP = 0.001


@dataclass
class _Pending:
    batch: object  # an array, or {input name: array}
    size: int
    future: asyncio.Future


class Batcher:
    def __init__(self, run: Callable[[object], np.ndarray], max_batch: int, timeout: float,
                 observe: Callable[[int], None] = lambda size: None, idle: float = IDLE_GAP):
        self.run, self.max_batch, self.timeout, self.observe = run, max_batch, timeout, observe
        self.idle = idle
        self.queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="model")
        self.worker: asyncio.Task | None = None
        self.held: _Pending | None = None  # taken off the queue, did not fit the last batch
        self.arrived = asyncio.Event()

    def start(self) -> None:
        self.worker = asyncio.get_running_loop().create_task(self._work())

    async def stop(self) -> None:
        """Finish what is queued (uvicorn has stopped taking requests), then stop."""
        while self.held is not None or not self.queue.empty():
            await asyncio.sleep(0.01)
        if self.worker is not None:
            self.worker.cancel()
        self.executor.shutdown(wait=True)

    async def predict(self, batch, size: int) -> np.ndarray:
        future = asyncio.get_running_loop().create_future()
        self.queue.put_nowait(_Pending(batch, size, future))
        self.arrived.set()
        return await future

    async def _work(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            group = [await self._next()]
            total = group[0].size
            deadline = loop.time() + self.timeout
            while total < self.max_batch:
                if self.queue.empty():
                    remaining = deadline - loop.time()
                    if remaining <= 0:
                        break
                    # Waiting on an event, not on queue.get(): a timed-out wait_for on get()
                    # can drop the item it was receiving (Python 3.11), and hang its request.
                    self.arrived.clear()
                    try:
                        await asyncio.wait_for(self.arrived.wait(),
                                               min(remaining, self.idle or remaining))
                    except TimeoutError:
                        break
                    continue
                item = self.queue.get_nowait()
                if total + item.size > self.max_batch:
                    self.held = item  # it starts the next group
                    break
                group.append(item)
                total += item.size
            await self._run(group, total, loop)

    async def _next(self) -> _Pending:
        if self.held is not None:
            item, self.held = self.held, None
            return item
        return await self.queue.get()

    async def _run(self, group: list[_Pending], total: int, loop) -> None:
        self.observe(total)
        try:  # concatenating too: an error must reach the waiting requests, not the worker
            batch = _concatenate([item.batch for item in group])
            outputs = await loop.run_in_executor(self.executor, self.run, batch)
        except Exception as error:  # noqa: BLE001 - every waiting request gets the error
            for item in group:
                if not item.future.done():
                    item.future.set_exception(error)
            return
        start = 0
        for item in group:
            if not item.future.done():  # a client that went away cancelled its future
                item.future.set_result(outputs[start:start + item.size])
            start += item.size


def _concatenate(batches: list):
    if len(batches) == 1:
        return batches[0]
    if isinstance(batches[0], dict):
        return {key: np.concatenate([batch[key] for batch in batches]) for key in batches[0]}
    return np.concatenate(batches)
