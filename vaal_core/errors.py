"""Failures a user can fix. The CLI turns each into one `error:` line and exit code 2.

Anything else that escapes is a bug and keeps its traceback. Each class also derives from the
builtin a caller would naturally catch (ValueError for bad input, RuntimeError for bad state).
"""

from __future__ import annotations


class ExpectedError(Exception):
    """Base of every failure whose message tells the user what is wrong and what to do."""


class SpecError(ExpectedError, ValueError):
    """A spec that cannot run; the message names the key and what to do."""


class DatasetError(ExpectedError, RuntimeError):
    """A dataset that cannot be found or read; the message says where and how to get it."""


class DeviceError(ExpectedError, RuntimeError):
    """The spec asks for a device or precision this machine does not have."""


class RunDirError(ExpectedError, RuntimeError):
    """A run directory that cannot be used: missing, damaged or unwritable files."""


class RunDirConflict(RunDirError):
    """The run directory belongs to a run with another spec; it is never overwritten."""


class StorageError(ExpectedError, OSError):
    """A file that must survive could not be written (disk full, no permission, read-only): the
    message names the file and what to do; the file's previous version is intact."""

    def __str__(self) -> str:  # the message alone, not OSError's `[Errno n] ...` form
        return str(self.args[0]) if self.args else super().__str__()


class FolderBusy(ExpectedError, RuntimeError):
    """Another live process holds the folder's lock (`vaal_core.storage.FolderLock`); the message
    names it (pid, host, command)."""


class RunLocked(RunDirError, FolderBusy):
    """Another live process holds the run directory's lock."""


class FailpointError(ExpectedError, ValueError):
    """VAAL_FAILPOINT names a failpoint that does not exist, or is malformed."""


class UsageError(ExpectedError, ValueError):
    """A command-line argument that cannot be parsed or used (argparse's own errors included)."""


class PluginError(ExpectedError, ImportError):
    """A module named in $VAAL_PLUGINS cannot be imported."""


class StrategyError(ExpectedError, RuntimeError):
    """A strategy's selection breaks the contract (count, duplicates, labeled indices, dtype):
    the message names the strategy, what it returned and the budget; the strategy needs fixing."""
