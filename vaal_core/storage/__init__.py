"""How files that must survive are written and how folders are owned (docs/storage.md).

- `write_atomic(path, bytes_or_writer)`: temp file beside the target, fsync, rename, fsync of
  the folder; a failure leaves the previous file and no temp file.
- `append_line(path, line)`: one whole fsynced line of an append-only log.
- `FolderLock(folder, wait=...)`: the one lock; a refused process is told who holds it.
- `check_writable(folder)`: refuse an output folder that cannot be written, before any work.
Every OSError reaches the caller as a `StorageError` (one `error:` line at the CLI).
"""

from .atomic import append_line, check_writable, storage_error, write_atomic
from .lock import FolderLock

__all__ = ["FolderLock", "append_line", "check_writable", "storage_error", "write_atomic"]
