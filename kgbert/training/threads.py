"""The torch thread count of a run (``training.threads``).

``auto`` (the default): the cores this process may use minus the machine's current load (1-minute
load average, rounded), at least 1. Measured here (``benchmarks/bench_threads.py``, 2 cores with
other jobs running, load average about 6): a training step of the bench configs' small BERT took
1.39 s with 1 thread and 5.56 s with 2 (4.0x slower): a second thread that has to fight for a busy
core makes every step wait for it. On an idle machine ``auto`` uses every core. An integer fixes
the count; ``null`` leaves torch's own default (all cores).
"""
from __future__ import annotations

import os


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def auto_threads(cores: int | None = None, load: float | None = None) -> int:
    """``max(1, cores - round(load))`` with the current affinity and 1-minute load average."""
    cores = available_cores() if cores is None else cores
    if load is None:
        try:
            load = os.getloadavg()[0]
        except OSError:
            load = 0.0
    return max(1, min(cores, cores - round(load)))


def resolve_threads(setting: int | str | None) -> int | None:
    """The thread count to set for ``training.threads`` (None: leave torch's default)."""
    if setting is None:
        return None
    if setting == "auto":
        return auto_threads()
    if isinstance(setting, int) and setting >= 1:
        return setting
    raise ValueError(f"training.threads must be a positive integer, 'auto' or null, got {setting!r}")
