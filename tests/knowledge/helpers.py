"""Small helpers shared by the knowledge tests."""
from __future__ import annotations

import gzip
from pathlib import Path


def write(path: Path, text: str | bytes, gz: bool = False) -> Path:
    """Write ``text`` (UTF-8) or raw bytes to ``path``, gzip-compressed when ``gz``."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    if gz:
        data = gzip.compress(data)
    path.write_bytes(data)
    return path


def read_spo(path: Path) -> list[tuple[str, str, str]]:
    """The triples of a clean .spo file, in file order, first occurrence kept."""
    seen: dict[tuple[str, str, str], None] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            s, p, o = (x.strip() for x in line.split("\t"))
            seen.setdefault((s, p, o), None)
    return list(seen)


def group_by_subject(triples):
    """{subject: [triple, ...]} keeping order."""
    out: dict[str, list] = {}
    for t in triples:
        out.setdefault(t[0], []).append(tuple(t))
    return out


def leftovers(folder: Path) -> list[str]:
    """Temporary files a build may have left in ``folder``."""
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp") or "-journal" in p.name)


def storage_order(triples):
    """The documented iteration order: by subject id (first appearance of the name as subject or
    object, subject before object), then first appearance of the triple."""
    ids: dict[str, int] = {}
    for s, _, o in triples:
        ids.setdefault(s, len(ids))
        ids.setdefault(o, len(ids))
    return [tuple(t) for _, t in sorted(enumerate(triples), key=lambda it: (ids[it[1][0]], it[0]))]
