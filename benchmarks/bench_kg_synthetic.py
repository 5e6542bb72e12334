"""Synthetic Chinese KGs in K-BERT ``.spo`` format for the knowledge benchmarks (deterministic).

Shaped like an encyclopedic dump (CN-DBpedia): the file is grouped by subject (1-13 triples per
subject, about 7 on average), predicates follow a Zipf law over 2,000 names, half of the objects
are other entities (so many subjects first appear as an object, earlier in the file) and half are
literal values, and about 2% of the lines repeat a line of the same subject.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

# a block of common CJK characters is enough for a benchmark
_CHARS = np.array([chr(c) for c in range(0x4E00, 0x4E00 + 3500)])


def entity_names(n: int, seed: int = 0) -> list[str]:
    """``n`` distinct names of 2-8 characters (lengths skewed to 2-4 like real entity names)."""
    rng = np.random.default_rng(seed)
    lengths = np.array([2, 3, 3, 4, 4, 4, 5, 6, 7, 8])
    out: dict[str, None] = {}
    while len(out) < n:
        m = int((n - len(out)) * 1.1) + 16
        lens = rng.choice(lengths, size=m)
        chars = rng.integers(0, len(_CHARS), size=int(lens.sum()))
        flat = _CHARS[chars]
        pos = 0
        for k in lens.tolist():
            out.setdefault("".join(flat[pos:pos + k]), None)
            pos += k
            if len(out) >= n:
                break
    return list(out)


def write_synthetic_spo(path: Path, n_triples: int, seed: int = 0, dup_rate: float = 0.02,
                        chunk: int = 500_000) -> Path:
    """Write about ``n_triples`` lines (exactly ``n_triples``) to ``path`` (see module doc)."""
    rng = np.random.default_rng(seed)
    n_subj = max(n_triples // 7, 1)
    names = entity_names(n_subj + n_subj // 4, seed)  # some entities are never subjects
    n_names = len(names)
    preds = np.array([f"属性{i}" for i in range(2000)], dtype=object)
    cdf = np.cumsum(1.0 / np.arange(1, 2001))
    cdf /= cdf[-1]
    path.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    subj = 0
    with open(path, "w", encoding="utf-8") as fh:
        while written < n_triples:
            m = min(chunk, n_triples - written)
            counts = rng.integers(1, 14, size=m // 4 + 2)
            used = int(np.searchsorted(np.cumsum(counts), m)) + 1  # subjects needed for m lines
            counts = counts[:used]
            subj_idx = np.repeat(np.arange(subj, subj + used) % n_subj, counts)[:m]
            subj += used
            p_idx = np.searchsorted(cdf, rng.random(m))
            is_ent = rng.random(m) < 0.5
            o_ent = rng.integers(0, n_names, size=m)
            o_lit = rng.integers(0, 10_000_000, size=m)
            dup = rng.random(m) < dup_rate
            lines = []
            for i in range(m):
                if dup[i] and i > 0 and subj_idx[i - 1] == subj_idx[i]:
                    lines.append(lines[-1])
                    continue
                obj = names[o_ent[i]] if is_ent[i] else f"{o_lit[i]}年" if o_lit[i] % 3 == 0 else str(o_lit[i])
                lines.append(f"{names[subj_idx[i]]}\t{preds[p_idx[i]]}\t{obj}\n")
            fh.writelines(lines)
            written += m
    return path
