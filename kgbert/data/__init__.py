"""Data: readers (TSV/CoNLL/JSONL -> Example), featurisers (Example -> ids) and collators."""
from kgbert.data.example import Example

__all__ = ["Example"]
