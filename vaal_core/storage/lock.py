"""The one lock: a folder that one process must own (a run directory, a select round, a dataset
cache, a sweep's manifest).

An exclusive `fcntl.flock` on a lock file; the kernel drops it when its holder exits or is
killed, so a stale lock never needs cleaning up. The holder writes who it is into the file (pid,
host, command, since when), so a second process can name it: refused at once (`wait=False`, a
`FolderBusy` error, one line), or told whom it waits for (`wait=True`).
"""

from __future__ import annotations

import datetime as dt
import errno
import fcntl
import os
import shlex
import socket
import sys
from pathlib import Path
from types import TracebackType

from ..errors import FolderBusy
from .atomic import storage_error

_COMMAND_CHARS = 160  # of the holder's command line kept in the lock file


def holder_text() -> str:
    """Who this process is, as a refused one reads it."""
    argv = list(getattr(sys, "orig_argv", sys.argv))
    if argv:
        argv[0] = os.path.basename(argv[0])
    command = shlex.join(argv)
    if len(command) > _COMMAND_CHARS:
        command = command[: _COMMAND_CHARS - 3] + "..."
    since = dt.datetime.now().isoformat(timespec="seconds")
    return f"pid {os.getpid()} on {socket.gethostname()}, running `{command}`, since {since}"


class FolderLock:
    """`with FolderLock(folder):` this process alone works in `folder` until the block ends.

    `lock_file` defaults to `folder/.lock`; a folder that may be deleted and rebuilt (a cache)
    keeps it outside, beside the folder. `busy` is the error a refusal raises and `hint` what its
    message tells the user to do.
    """

    def __init__(
        self,
        folder: str | Path,
        *,
        wait: bool = False,
        lock_file: str | Path | None = None,
        busy: type[FolderBusy] = FolderBusy,
        hint: str = "wait for it to finish, or stop it",
    ):
        self.folder = Path(folder)
        self.lock_file = Path(lock_file) if lock_file else self.folder / ".lock"
        self.wait, self.busy, self.hint = wait, busy, hint
        self._fd: int | None = None

    def __enter__(self) -> FolderLock:
        try:
            self.lock_file.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.lock_file, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise storage_error(self.folder, e, doing="create") from e
        try:
            self._acquire(fd)
            os.ftruncate(fd, 0)
            os.pwrite(fd, (holder_text() + "\n").encode(), 0)
        except OSError as e:
            os.close(fd)
            raise storage_error(self.lock_file, e) from e
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        return self

    def _acquire(self, fd: int) -> None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.EACCES):
                raise
        holder = os.pread(fd, 4096, 0).decode(errors="replace").strip() or "unknown"
        if not self.wait:
            raise self.busy(f"{self.folder} is in use by another process ({holder}); {self.hint}")
        print(f"waiting for {self.folder}, in use by {holder}", file=sys.stderr, flush=True)
        fcntl.flock(fd, fcntl.LOCK_EX)

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._fd is not None:
            os.close(self._fd)  # releases the lock
            self._fd = None
