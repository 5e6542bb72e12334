"""Configuration of SemBERT (Zhang et al., AAAI 2020): BERT plus an SRL label encoder."""
from __future__ import annotations

from transformers import BertConfig

LABEL_ENCODERS = ("bigru", "linear")
LABEL_INITS = ("torch", "bert")
LABEL_POOLINGS = ("cls", "mean")


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
        label_init: initialisation of the label branch (role embeddings, label encoder, frame
            fusion, label pooler). "torch" (default): PyTorch's own module defaults (embeddings
            N(0, 1), linear layers and GRUs uniform in +-1/sqrt(fan-in)), so the label half of the
            fused vector starts at the scale of BERT's half. "bert": normal(0, initializer_range)
            like every BERT layer (the reference code): with four such layers in a row the label
            half starts about 2,700x smaller than BERT's (measured on the shipped backbone) and its
            gradients vanish, so at small fine-tuning budgets the trained model ignores its frames.
        label_pooling: the label representation a sequence/pair head reads. "cls" (default, the
            paper): the ``[CLS]`` word's, which carries the frames only through the backward GRU (the
            forward GRU and the linear variant have seen nothing but ``[CLS]`` there). "mean": the mean
            over every real word of the example (padding words excluded), so every word's roles reach
            the classifier directly. Token heads read each word's own vector either way.
        **kwargs: everything :class:`~transformers.BertConfig` takes.
    """

    model_type = "sembert"

    num_frames: int = 3
    num_role_labels: int = 64
    role_embedding_size: int = 10
    role_hidden_size: int = 10
    label_encoder: str = "bigru"
    word_cnn_kernel: int = 3
    label_init: str = "torch"
    label_pooling: str = "cls"
