"""Semantic role labelling: a BERT tagger (Shi & Lin 2019) and SRL file readers/writers.

```python
from annotators.srl import SrlTagger
frames = SrlTagger.from_pretrained(model_dir).predict(text, words)   # list[annotators.Frame]
```
See ``docs/srl.md``. Train with ``python -m annotators.srl.train``.
"""
from transformers import AutoConfig, AutoModel, AutoModelForTokenClassification

from annotators.srl.configuration_srl import SrlBertConfig
from annotators.srl.conll import read_conll2012, read_up, read_up2, sniff_up_layout, write_conll2012, write_up, write_up2
from annotators.srl.data import (
    SrlArg,
    SrlFormatError,
    SrlFrame,
    SrlSentence,
    annotation_to_sentence,
    bio_labels,
    frame_to_tags,
    join_words,
    sentence_to_annotation,
    tags_to_spans,
)
from annotators.srl.decoding import bio_constraints, viterbi_decode
from annotators.srl.modeling_srl import SrlBertForSrl, SrlOutput
from annotators.srl.tagger import SrlTagger, is_verb_tag, to_simplified

AutoConfig.register(SrlBertConfig.model_type, SrlBertConfig, exist_ok=True)
AutoModel.register(SrlBertConfig, SrlBertForSrl, exist_ok=True)
AutoModelForTokenClassification.register(SrlBertConfig, SrlBertForSrl, exist_ok=True)

__all__ = [
    "SrlArg",
    "SrlBertConfig",
    "SrlBertForSrl",
    "SrlFormatError",
    "SrlFrame",
    "SrlOutput",
    "SrlSentence",
    "SrlTagger",
    "annotation_to_sentence",
    "bio_constraints",
    "bio_labels",
    "frame_to_tags",
    "is_verb_tag",
    "join_words",
    "read_conll2012",
    "read_up",
    "read_up2",
    "sniff_up_layout",
    "sentence_to_annotation",
    "tags_to_spans",
    "to_simplified",
    "viterbi_decode",
    "write_conll2012",
    "write_up",
    "write_up2",
]
