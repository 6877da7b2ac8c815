"""An exclusive inter-process lock on a file, fair under contention, with a timeout.

On POSIX a blocking ``flock`` is used: the kernel wakes a waiter as soon as the holder
lets go, so a process that writes in a tight loop cannot starve the others (a polling
lock can). The wait runs in a helper thread so it can time out. The lock dies with its
process, so a killed writer never leaves the memory locked. Elsewhere ``filelock`` is used.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


class LockTimeout(Exception):
    """The lock was not acquired in time."""


class ProcessLock:
    """Hold an exclusive lock on ``path`` across processes (not re-entrant).

    Args:
        path: The lock file (created if missing, never deleted).
        timeout: Seconds to wait before :class:`LockTimeout`.
    """

    def __init__(self, path: Path, timeout: float) -> None:
        """Remember the file; open nothing yet."""
        self.path = path
        self.timeout = timeout
        self._fd: int | None = None
        self._fallback = None
        if fcntl is None:  # pragma: no cover - Windows
            import filelock

            self._fallback = filelock.FileLock(str(path), timeout=timeout)

    def acquire(self) -> None:
        """Wait for the lock.

        Raises:
            LockTimeout: Another process held it for longer than ``timeout``.
        """
        if self._fallback is not None:  # pragma: no cover - Windows
            import filelock

            try:
                self._fallback.acquire()
            except filelock.Timeout as e:
                raise LockTimeout(str(self.path)) from e
            return
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if not _wait_for(fd, self.timeout):  # the waiter thread now owns fd
                raise LockTimeout(str(self.path)) from None
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd

    def release(self) -> None:
        """Let the next process in."""
        if self._fallback is not None:  # pragma: no cover - Windows
            self._fallback.release()
            return
        fd, self._fd = self._fd, None
        if fd is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)


def _wait_for(fd: int, timeout: float) -> bool:
    """Block on ``flock(fd)`` in a helper thread for up to ``timeout`` seconds.

    Returns:
        True when the lock is held on ``fd``. On False the helper keeps ``fd``: if it
        gets the lock after all, it lets go at once and closes ``fd``.
    """
    guard = threading.Lock()
    done = threading.Event()
    state = {"cancelled": False, "held": False}

    def wait() -> None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            held = True
        except OSError:
            held = False
        with guard:
            if state["cancelled"]:
                if held:
                    fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)
                return
            state["held"] = held
            done.set()

    threading.Thread(target=wait, name="flowpo-memory-lock", daemon=True).start()
    done.wait(timeout)
    with guard:
        if done.is_set():
            if not state["held"]:
                os.close(fd)
            return state["held"]
        state["cancelled"] = True
        return False
