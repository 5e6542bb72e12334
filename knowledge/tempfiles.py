"""Temporary files for atomic writes, and the clean-up of those a killed process left behind.

Every file the project writes atomically is first written to ``.<name>.<pid>.<8 hex>.tmp`` (a
build also uses ``....stage.tmp`` and SQLite's ``-journal``/``-wal``/``-shm`` companions) in the
target's folder, then renamed over ``<name>``. A process killed with ``kill -9`` cannot remove its
temporary file, so the next run writing the same target calls :func:`remove_stale_temporaries`:
it removes the temporaries of *that* target whose process no longer exists on this machine.
Files of a process that is still running, of other names, and the user's own files are kept.
"""
from __future__ import annotations

import os
import re
import uuid
from pathlib import Path

_SUFFIX = r"(\d+)\.[0-9a-f]{8}(?:\.stage)?\.tmp(?:-journal|-wal|-shm)?"


def temp_path(target: str | os.PathLike) -> Path:
    """A fresh temporary path beside ``target``, named for this process (see module doc)."""
    target = Path(target)
    return target.parent / f".{target.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):  # exists, owned by someone else (or cannot tell)
        return True
    return True


def remove_stale_temporaries(folder: str | os.PathLike, prefix: str) -> list[Path]:
    """Remove ``<prefix><pid>.<hex>...tmp`` files in ``folder`` whose process is gone.

    ``prefix`` is ``".<target name>."``. Returns the paths removed. Never raises for a file that
    vanished meanwhile or cannot be removed.
    """
    pattern = re.compile(re.escape(prefix) + _SUFFIX + r"\Z")
    removed: list[Path] = []
    try:
        entries = list(os.scandir(os.fspath(folder)))
    except OSError:
        return removed
    for entry in entries:
        m = pattern.match(entry.name)
        if m is None or _alive(int(m.group(1))):
            continue
        try:
            if entry.is_file(follow_symlinks=False):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError:
            pass
    return removed


def exit_on_sigterm() -> None:
    """Make SIGTERM raise ``SystemExit(143)`` in the main thread, so that a CLI's ``finally`` and
    ``except BaseException`` blocks remove its temporary files (``kill`` without ``-9``). Only a
    default handler is replaced; call it from a CLI's ``main``."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        def _exit(signum, frame):  # noqa: ARG001
            raise SystemExit(128 + signum)

        signal.signal(signal.SIGTERM, _exit)
