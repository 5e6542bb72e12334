"""File helpers shared across kgbert (a leaf module)."""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


def file_sha256(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


@contextmanager
def atomic_checkpoint_dir(out: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary directory beside ``out``; when the block ends without error it becomes
    ``out`` (rename), otherwise it is removed. An existing ``out`` is replaced only when it is
    empty or a checkpoint directory (holds ``config.json``); anything else is refused before any
    work is done, so nothing a user owns is deleted. The directory gets the user's umask.
    """
    out = Path(out)

    def check() -> None:
        if out.exists() and not (out.is_dir() and (not any(out.iterdir()) or (out / "config.json").is_file())):
            raise FileExistsError(f"{out}: exists and is not a checkpoint directory; refusing to replace it")

    check()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)
    try:
        yield tmp
        check()
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


__all__ = ["atomic_checkpoint_dir", "file_sha256"]
