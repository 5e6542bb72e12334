"""Run directories: only ever delete or reuse a directory this project created.

``kgbert.train`` writes a marker file, :data:`MARKER` (``.kgbert-run``), into every run directory
it creates, before anything else. ``overwrite: true`` deletes an existing directory only when it
holds that marker; ``resume: false`` deletes only the ``checkpoints/`` of a marked directory.
An existing, non-empty directory without the marker (a user's folder, or a run written by a
version before the marker) is refused with :class:`~kgbert.training.config.ConfigError`: nothing
in it is touched.
"""
from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

from kgbert.training.config import ConfigError

MARKER = ".kgbert-run"


def is_run_dir(path: str | os.PathLike) -> bool:
    """True if ``path`` is a directory that ``kgbert.train`` created (it holds the marker)."""
    return (Path(path) / MARKER).is_file()


def mark_run_dir(run_dir: str | os.PathLike) -> None:
    """Create ``run_dir`` (if needed) with the marker: for tools that own the path they train
    into (the bench runner's cell directories), before they write anything there themselves."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    marker = run_dir / MARKER
    if not marker.exists():
        marker.write_text(json.dumps({"tool": "kgbert.train", "created": time.time()}) + "\n", encoding="utf-8")


def check_run_dir(run_dir: Path) -> None:
    """Raise ``ConfigError`` if ``run_dir`` exists but is not ours (see module doc). Every
    process calls it before the main one prepares the directory, so all of them stop together."""
    run_dir = Path(run_dir)
    if run_dir.exists() or run_dir.is_symlink():
        if not run_dir.is_dir():
            raise ConfigError(f"output_dir {run_dir} exists and is not a directory; choose another output_dir")
        if not is_run_dir(run_dir) and any(run_dir.iterdir()):
            raise ConfigError(
                f"output_dir {run_dir} is not empty and is not a kgbert run directory (no {MARKER} "
                f"marker), so nothing in it is deleted or overwritten; choose another output_dir "
                f"(or, if it is an older kgbert run you want reused, create {run_dir / MARKER} yourself)")


def prepare_run_dir(run_dir: Path, *, overwrite: bool, resume: bool | None) -> None:
    """Create (or clear, or keep for resuming) ``run_dir``; raise ``ConfigError`` for a directory
    that is not ours. Called by the main process only."""
    run_dir = Path(run_dir)
    check_run_dir(run_dir)
    if run_dir.exists():
        if overwrite and is_run_dir(run_dir):
            if run_dir.is_symlink():
                raise ConfigError(f"output_dir {run_dir} is a symbolic link; not deleting what it points to")
            shutil.rmtree(run_dir)
        elif resume is False and (run_dir / "checkpoints").is_dir():
            shutil.rmtree(run_dir / "checkpoints")
    mark_run_dir(run_dir)
