"""Data: readers (TSV/CoNLL/JSONL -> Example), featurisers (Example -> ids) and collators."""
from kgbert.data.example import Example
from kgbert.data.featurize import BertFeaturizer, Featurizer, FeaturizeError, Segment, SequenceBuilder, build_featurizer
from kgbert.data.kbert import KBertFeaturizer

__all__ = [
    "Example",
    "Featurizer",
    "BertFeaturizer",
    "KBertFeaturizer",
    "FeaturizeError",
    "Segment",
    "SequenceBuilder",
    "build_featurizer",
]
