"""Data: readers (TSV/CoNLL/JSONL -> Example), featurisers (Example -> ids) and collators."""
from kgbert.data.example import Example
from kgbert.data.featurize import BertFeaturizer, Featurizer, FeaturizeError, build_featurizer

__all__ = ["Example", "Featurizer", "BertFeaturizer", "FeaturizeError", "build_featurizer"]
