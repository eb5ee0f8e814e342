"""Where decoded examples are kept between epochs: in memory, in a file on disk, or nowhere.

Training visits every example in a new permutation each epoch, so the cache must be random
access: a numpy array in memory, or a np.memmap file (one numpy fancy-index gathers a batch).
data.cache: auto (the default) puts a split in memory when its decoded size fits in what is
left of the memory budget (a quarter of this machine's RAM, shared by the splits in the order
train, validation, test), else on disk under the run directory, else nowhere (no run
directory, e.g. `bigmodel evaluate`): then its files are read and decoded every epoch.
A store is filled in one parallel pass before the first step; bad files are found there.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import atomic

MEMORY_SHARE = 4  # the memory budget is RAM / MEMORY_SHARE
FILL_BATCH = 256  # examples per step of the filling pass
CGROUP_LIMITS = ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes")


def machine_memory() -> int:
    """Bytes of RAM this process may use: the machine's, or its container's limit if lower."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    for limit_file in CGROUP_LIMITS:
        with contextlib.suppress(OSError, ValueError):
            total = min(total, int(Path(limit_file).read_text().strip()))
    return total


class Budget:
    """What is left of the memory budget, taken by the splits one after the other."""

    def __init__(self, total: int | None = None):
        self.total = memory_budget() if total is None else total
        self.left = self.total

    def take(self, size: int) -> bool:
        if size > self.left:
            return False
        self.left -= size
        return True

    def describe(self) -> str:
        return (f"budget {human_bytes(self.total)}, a quarter of this machine's "
                f"{human_bytes(self.total * MEMORY_SHARE)} of RAM")


def memory_budget() -> int:
    return machine_memory() // MEMORY_SHARE


@dataclass
class Choice:
    where: str  # memory | disk | none
    why: str  # for the log: the setting, or the sizes that decided
    path: Path | None = None  # disk: the store's file (without the key and suffix)


def choose(cache, split: str, size: int, budget: Budget, run_dir: Path | None,
           disk: bool = True) -> Choice:
    """Where a split of `size` decoded bytes goes under data.cache = `cache`.

    `disk`: whether the examples can go to a memmap file (fixed-shape pixels can, text cannot:
    its files are already the cheapest store on disk)."""
    if cache is False:
        return Choice("none", "data.cache: false")
    if cache == "memory":
        budget.take(min(size, budget.left))
        return Choice("memory", "data.cache: memory")
    if cache == "auto" and budget.take(size):
        return Choice("memory", f"data.cache: auto, {human_bytes(size)} fits the "
                                f"{budget.describe()}")
    over = f"{human_bytes(size)} is over the {budget.describe()}"
    if cache not in ("auto", "disk"):  # a path: disk there
        return Choice("disk", f"data.cache: {cache}", Path(f"{Path(cache).expanduser()}.{split}"))
    if not disk:
        return Choice("none", f"data.cache: auto, {over}")
    if run_dir is None:
        why = "data.cache: disk" if cache == "disk" else f"data.cache: auto, {over}"
        return Choice("none", f"{why}, and there is no run directory to hold it")
    why = "data.cache: disk" if cache == "disk" else f"data.cache: auto, {over}"
    return Choice("disk", why, Path(run_dir) / "cache" / split)


# --- filling ----------------------------------------------------------------------------------

@contextlib.contextmanager
def progress(console, label: str, total: int):
    """advance(n) for a transient progress bar on a terminal (nothing elsewhere: in a log
    file it would leave empty lines)."""
    if console is None or not console.is_terminal:
        yield lambda count: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    with Progress("{task.description}", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=console, transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda count: bar.advance(task, count)


def read_all(paths: np.ndarray, read, write, advance, deterministic: bool = False) -> list[int]:
    """Read and decode every file once, in parallel; write(indices, decoded batch) for those
    that decode; the indices of the others (unreadable) are returned.

    tf.data cannot say which element failed, so each carries its index and the failed ones are
    the indices missing from the output of `ignore_errors`."""
    import tensorflow as tf

    dataset = tf.data.Dataset.from_tensor_slices((np.arange(len(paths)), paths))
    dataset = dataset.map(lambda index, path: (index, read(path)),
                          num_parallel_calls=tf.data.AUTOTUNE, deterministic=deterministic)
    read_ok = np.zeros(len(paths), bool)
    for indices, decoded in dataset.ignore_errors().batch(FILL_BATCH):
        indices = indices.numpy()
        read_ok[indices] = True
        write(indices, decoded)
        advance(len(indices))
    return np.flatnonzero(~read_ok).tolist()


def disk_store(base: Path, key: str, count: int, shape: tuple[int, ...], fill):
    """(read-only np.memmap of `count` uint8 examples of `shape`, its description).

    The file is named by `key` (a hash of what it holds: a changed folder gets a new file);
    one made earlier with the same key is used as it is. `fill(array)` writes a new one and
    returns what to remember with it (unreadable indices, labels); the file is written under a
    temporary name, then renamed, and its description (.json, written last) marks it complete.
    """
    data_file = base.with_name(f"{base.name}-{key}.u8")
    description_file = data_file.with_suffix(".json")
    expected = {"count": count, "shape": list(shape), "dtype": "uint8"}
    description = read_description(description_file)
    if description and all(description.get(name) == value for name, value in expected.items()) \
            and data_file.exists() and data_file.stat().st_size == count * int(np.prod(shape)):
        return open_memmap(data_file, count, shape), description
    data_file.parent.mkdir(parents=True, exist_ok=True)
    for stale in data_file.parent.glob(f"{base.name}-*"):  # the same split, other data
        stale.unlink(missing_ok=True)
    temporary = data_file.with_name(f"{data_file.name}.tmp{os.getpid()}")
    try:
        array = np.memmap(temporary, dtype=np.uint8, mode="w+", shape=(count, *shape))
        description = {**expected, **fill(array)}
        array.flush()
        del array
        os.replace(temporary, data_file)
    finally:
        temporary.unlink(missing_ok=True)
    atomic.write_text(description_file, json.dumps(description) + "\n")
    return open_memmap(data_file, count, shape), description


def open_memmap(path: Path, count: int, shape: tuple[int, ...]) -> np.memmap:
    return np.memmap(path, dtype=np.uint8, mode="r", shape=(count, *shape))


def read_description(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def files_key(paths, *facts) -> str:
    """A hash of the files (path, size, modification time) and of how they are decoded."""
    digest = hashlib.sha256(repr(facts).encode())
    for path in paths:
        try:
            status = os.stat(path)
            digest.update(f"{path}\0{status.st_size}\0{status.st_mtime_ns}\n".encode())
        except OSError:
            digest.update(f"{path}\0missing\n".encode())
    return digest.hexdigest()[:16]


def human_bytes(size: float) -> str:
    if size < 1000:
        return f"{size:,.0f} bytes"
    for unit in ("KB", "MB", "GB", "TB"):
        size /= 1000
        if size < 1000 or unit == "TB":
            return f"{size:.1f} {unit}"
