"""Every command's ``--help`` states its purpose in full (the docstring's first paragraph), not a
sentence cut at the first line break."""
from __future__ import annotations

import importlib

import pytest

from kgbert.cli import doc_summary

COMMANDS = ["kgbert.bench.__main__", "kgbert.predict", "kgbert.training.report", "kgbert.pretraining.report",
            "kgbert.pretraining.export", "kgbert.pretraining.reinit", "kgbert.pretraining.card",
            "benchmarks.heldout_by_length"]


def test_doc_summary_joins_the_first_paragraph():
    assert doc_summary("Run a grid\n  and write results.\n\nDetails here.") == "Run a grid and write results."
    assert doc_summary(None) == "" and doc_summary("\n  One line.  \n") == "One line."


@pytest.mark.parametrize("module", COMMANDS)
def test_help_shows_the_whole_first_paragraph(module, capsys):
    mod = importlib.import_module(module)
    with pytest.raises(SystemExit) as exc:
        mod.main(["--help"])
    assert exc.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert doc_summary(mod.__doc__) in out
