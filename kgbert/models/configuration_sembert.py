"""Configuration of SemBERT (Zhang et al., AAAI 2020): BERT plus an SRL label encoder."""
from __future__ import annotations

from transformers import BertConfig

LABEL_ENCODERS = ("bigru", "linear")


class SemBertConfig(BertConfig):
    """A BERT config plus SemBERT's model-side options.

    Args:
        num_frames: predicate-argument structures per sentence the frame-fusion layer takes (the
            paper's 3). The featuriser's ``max_frames`` must equal it (the model checks the shape
            of ``role_ids`` and names both options when they differ).
        num_role_labels: rows of the role-label embedding table: pad, ``O``, unknown and the role
            labels of the training annotations. The featuriser's ``max_roles`` must not exceed it.
        role_embedding_size: width of a role-label embedding (the reference's 10).
        role_hidden_size: width of the label representation of one word (the reference's 10; the
            BiGRU has ``role_hidden_size // 2`` units per direction, so it must be even for "bigru").
        label_encoder: "bigru" (the paper: a bidirectional GRU over each frame's label sequence) or
            "linear" (the reference code's variant: a linear layer per label).
        word_cnn_kernel: width of the convolution over a word's sub-word tokens (odd; the
            reference's 3) before the max-pooling to one vector per word.
        **kwargs: everything :class:`~transformers.BertConfig` takes.
    """

    model_type = "sembert"

    num_frames: int = 3
    num_role_labels: int = 64
    role_embedding_size: int = 10
    role_hidden_size: int = 10
    label_encoder: str = "bigru"
    word_cnn_kernel: int = 3
