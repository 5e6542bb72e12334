"""The benchmark harness: every encoder on the same data, budget and seeds, in one table with its cost.

``python -m kgbert.bench configs/bench/X.yaml [key=value ...] [--quick]`` runs the grid
(encoders x tasks x seeds) through the common trainer (:func:`kgbert.training.run_training`) and
writes ``results.json``, ``results.md`` and PNG plots; see :mod:`kgbert.bench.config` for the
config format, :mod:`kgbert.bench.runner` for what a cell records and :mod:`kgbert.bench.report`
for the tables.
"""
from kgbert.bench.config import BenchConfig, EncoderEntry, TaskEntry, cell_config, load_bench
from kgbert.bench.report import summarize, write_results
from kgbert.bench.runner import run_bench

__all__ = ["BenchConfig", "EncoderEntry", "TaskEntry", "cell_config", "load_bench", "run_bench", "summarize", "write_results"]
