"""Writes that are never half-done: a temporary name in the same folder, fsync, then rename.

A temporary name says who wrote it (`.NAME.tmp-HOST.PID-RANDOM.SUFFIX`), so that a later
command can tell a file left by a killed process (removed) from one another process is still
writing (kept). Failures of the operating system become one line naming the user's file.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import hashlib
import os
import re
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from .errors import RunError

# `.NAME.tmp-` then, from this version on, `HOST.PID-`, then mkstemp's 8 random characters.
_TEMPORARY = re.compile(r"^\.(?P<name>.+?)\.tmp-(?:(?P<host>[0-9a-f]{8})\.(?P<pid>\d+)-)?"
                        r"[A-Za-z0-9_]{8}")
# A temporary file of another machine (a run directory on a shared disk) is only known to be
# abandoned when it is older than any write takes.
_FOREIGN_TEMPORARY_AGE_S = 24 * 3600

_HINTS = {
    errno.ENOSPC: "free some disk space or choose a folder on another disk, then run the "
                  "same command again",
    errno.EDQUOT: "free some of your disk quota, then run the same command again",
    errno.EFBIG: "the file is larger than this system allows (see ulimit -f); raise the limit "
                 "or choose another disk",
    errno.EACCES: "choose a folder you can write to",
    errno.EPERM: "choose a folder you can write to",
    errno.EROFS: "that disk is read-only; choose a folder on a writable disk",
    errno.EISDIR: "it is a folder; name a file instead",
    errno.ENOTDIR: "a part of that path is a file, not a folder; choose another path",
    errno.EEXIST: "a part of that path is a file, not a folder; choose another path",
}


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it is renamed onto `path`.

    The temporary name keeps the suffix, because Keras chooses the save format from it, and
    starts with a dot, so globs over finished files never see it. An OSError on the way
    (a full disk, a read-only folder, a folder where the file should be) becomes a RunError
    naming `path`, never the temporary name.
    """
    path = Path(path)
    suffix = ".weights.h5" if path.name.endswith(".weights.h5") else path.suffix
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.tmp-{_writer()}-",
                                             suffix=suffix, dir=path.parent)
    except OSError as error:
        raise os_error(error, path) from error
    os.close(handle)
    temporary = Path(temporary)
    try:
        yield temporary
        # mkstemp makes 0600 files; a finished file follows the umask like any other.
        os.chmod(temporary, 0o666 & ~_umask())
        _fsync(temporary)
        os.replace(temporary, path)
    except OSError as error:
        raise os_error(error, path) from error
    finally:
        temporary.unlink(missing_ok=True)


def write_text(path: Path, text: str) -> None:
    with atomic_path(path) as temporary:
        temporary.write_text(text, encoding="utf-8")


def os_error(error: OSError, path: Path, action: str = "write") -> RunError:
    """One line for an OSError: the user's path, the reason and what to do."""
    number = error.errno
    if number is None:  # h5py puts the errno in its message only
        found = re.search(r"errno = (\d+)", str(error))
        number = int(found.group(1)) if found else None
    reason = error.strerror or (os.strerror(number) if number else type(error).__name__)
    hint = _HINTS.get(number, "check the path and try again")
    return RunError(f"cannot {action} {final_name(Path(path))}: {reason}; {hint}")


def final_name(path: Path) -> Path:
    """The file a temporary name stands for (the path itself for any other name)."""
    match = _TEMPORARY.match(path.name)
    return path.with_name(match.group("name")) if match else path


def is_temporary(path: Path) -> bool:
    """Whether `path` has the name of one of this module's temporary files."""
    return _TEMPORARY.match(Path(path).name) is not None


def temporaries(folder: Path) -> list[Path]:
    """The temporary files of this module in `folder` (not in its subfolders)."""
    try:
        return sorted(path for path in Path(folder).glob(".*.tmp-*")
                      if is_temporary(path) and path.is_file())
    except OSError:
        return []


def abandoned(path: Path) -> bool:
    """Whether the process that was writing this temporary file is gone (killed, crashed)."""
    match = _TEMPORARY.match(path.name)
    if match is None:
        return False
    if match.group("pid") is None:  # written by a version that did not record its writer
        return True
    if match.group("host") != _host():
        with contextlib.suppress(OSError):
            return time.time() - path.stat().st_mtime > _FOREIGN_TEMPORARY_AGE_S
        return False
    return not process_alive(int(match.group("pid")))


def _writer() -> str:
    return f"{_host()}.{os.getpid()}"


@functools.cache
def _host() -> str:
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


def process_alive(pid: int) -> bool:
    """Whether a process of this id runs on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def _umask() -> int:
    # Linux shows the umask in /proc; elsewhere it is read by setting it (briefly wrong for
    # other threads, so only once).
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    return _umask_by_setting()


@functools.cache
def _umask_by_setting() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _fsync(path: Path) -> None:
    with open(path, "rb") as file:
        os.fsync(file.fileno())
