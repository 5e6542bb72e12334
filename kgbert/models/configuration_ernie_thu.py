"""Configuration of ERNIE (Tsinghua; Zhang et al., ACL 2019): BERT + a frozen KG entity table fused
into the last layers."""
from __future__ import annotations

from transformers import BertConfig


class ErnieThuConfig(BertConfig):
    """A BERT config plus ERNIE-THU's model-side options.

    Args:
        num_aggregator_layers: M, the last M of BERT's ``num_hidden_layers`` layers that become
            aggregator layers (the first N = num_hidden_layers - M stay plain BERT layers).
            ``None``: half of them (the paper's 6 + 6 of BERT-base).
        entity_dim: width of the entity vectors (the KG-embedding export's ``dim``; paper: 100).
        entity_attention_heads: heads of the entity-stream self-attention (``entity_dim`` must
            divide by it; paper: 4).
        num_entities: rows of the entity table (= the export's entities; row 0 of the model's
            table is the "no entity" row on top of them). 0 with ``entity_embeddings`` set: read
            from the export when the model is built.
        entity_embeddings: the KG-embedding export directory (``python -m knowledge.embed``) the
            table was loaded from when the model was built (recorded; a saved model carries the
            table itself and does not read this path again).
        kg_build_id: ``meta.build_id`` of the KG store the export belongs to (filled from the
            export): the featuriser refuses another build of the store.
        **kwargs: everything :class:`~transformers.BertConfig` takes.
    """

    model_type = "ernie_thu"

    num_aggregator_layers: int | None = None
    entity_dim: int = 100
    entity_attention_heads: int = 4
    num_entities: int = 0
    entity_embeddings: str | None = None
    kg_build_id: str | None = None

    @property
    def aggregator_start(self) -> int:
        """N: index of the first aggregator layer."""
        m = self.num_aggregator_layers
        m = self.num_hidden_layers // 2 if m is None else int(m)
        if not 0 <= m <= self.num_hidden_layers:
            raise ValueError(f"num_aggregator_layers={m} must be in [0, num_hidden_layers={self.num_hidden_layers}]")
        return self.num_hidden_layers - m
