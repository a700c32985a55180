"""The one way a file that must survive is written: whole, or not at all.

`write_atomic` writes a temp file beside the target (a unique name: pid and random bytes, so two
processes never share one), fsyncs it, renames it over the target and fsyncs the folder, so after
a kill, a power cut or a full disk the target holds either its previous bytes or its new ones.
`append_line` adds one whole, fsynced line to an append-only log and takes a failed line back.
Any OSError reaches the caller as a `StorageError`: one line naming the file and what to do.
"""

from __future__ import annotations

import errno
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from ..errors import StorageError
from ..failpoints import disk_full

# what to do about an errno; anything else names the system's reason only
_ADVICE = {
    errno.ENOSPC: "the disk is full: free space and rerun the same command (it resumes)",
    errno.EDQUOT: "the disk quota is used up: free space and rerun the same command (it resumes)",
    errno.EACCES: "no permission to write there: choose a writable folder",
    errno.EPERM: "no permission to write there: choose a writable folder",
    errno.EROFS: "the file system is read-only: choose a writable folder",
    errno.ENOTDIR: "part of that path is a file, not a folder: choose another folder",
}


def storage_error(path: Path, e: OSError, doing: str = "write") -> StorageError:
    """`e` as the one-line error the CLI prints (errno kept, so callers can still tell)."""
    why = e.strerror or str(e)
    advice = _ADVICE.get(e.errno or 0, "")
    err = StorageError(f"cannot {doing} {path} ({why}){'; ' + advice if advice else ''}")
    err.errno, err.strerror, err.filename = e.errno, e.strerror, str(path)
    return err


def _fault(path: Path) -> None:
    """The `disk_full` fault (vaal_core.failpoints): the disk fills after half of the bytes."""
    if disk_full(path):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))


def write_atomic(path: str | Path, data: bytes | Callable[[BinaryIO], object]) -> None:
    """Replace `path` with `data` (bytes, or a function that writes to the open binary file)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        # 0o644 less the umask: results stay readable by a lab's group, as plain files are
        with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644), "wb") as f:
            if callable(data):
                data(f)
            else:
                f.write(data[: len(data) // 2] if disk_full(path) else data)
            _fault(path)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        fsync_folder(path.parent)
    except BaseException as e:
        tmp.unlink(missing_ok=True)
        if isinstance(e, OSError) and not isinstance(e, StorageError):
            raise storage_error(path, e) from e
        raise


def fsync_folder(folder: Path) -> None:
    """Make a rename in `folder` durable (a file system that cannot fsync folders is left be)."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    except OSError as e:
        if e.errno not in (errno.EINVAL, errno.ENOTSUP):
            raise
    finally:
        os.close(fd)


def append_line(path: str | Path, line: str, newline: bool = True) -> None:
    """Append one whole line and fsync it (`newline=False`: a cut-off write, for the kill tests).

    A write that fails (a full disk) is cut back to the file's previous end, so the log never
    keeps half a line from an error; a kill mid-write is repaired by the reader instead.
    """
    path = Path(path)
    data = (line.rstrip("\n") + ("\n" if newline else "")).encode()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    except OSError as e:
        raise storage_error(path, e) from e
    try:
        end = os.fstat(fd).st_size
        try:
            view = memoryview(data)
            if disk_full(path):
                os.write(fd, view[: len(view) // 2])
                _fault(path)
            while view:  # write() may write less than asked when the disk fills
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        except OSError as e:
            os.ftruncate(fd, end)
            os.fsync(fd)
            raise storage_error(path, e) from e
    finally:
        os.close(fd)


def check_writable(
    folder: str | Path, what: str = "", hint: str = "choose a writable folder"
) -> None:
    """Refuse a folder this process cannot write into, before any work is done.

    A real write decides (a probe file in `folder` or its nearest existing parent, removed at
    once): permission bits do not, since root ignores them and a read-only mount does not show
    in them.
    """
    folder = Path(folder)
    name = f"{what} {folder}" if what else str(folder)
    near = folder.absolute()
    while not near.exists() and near != near.parent:
        near = near.parent
    if not near.is_dir():
        raise StorageError(f"cannot create {name} ({near} is a file, not a folder); {hint}")
    probe = near / f".write-probe.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    try:
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        probe.unlink()
    except OSError as e:
        raise StorageError(f"cannot write to {name} ({e.strerror or e} in {near}); {hint}") from e
