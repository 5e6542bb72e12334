"""Local checkpoints: character vocabularies and randomly initialised BERT checkpoints.

Nothing here downloads anything. A "checkpoint" is a directory in the Hugging Face layout
(``config.json``, ``model.safetensors``, ``vocab.txt``, tokenizer files). Tests and the demo make
tiny random ones with :func:`make_random_checkpoint`; users point configs at their own (e.g. a
downloaded bert-base-chinese).
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections import Counter
from pathlib import Path
from typing import Iterable

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
"""BERT's special tokens, in the order of bert-base-chinese's vocab ([PAD]=0)."""


def build_char_vocab(texts: Iterable[str], min_count: int = 1, max_size: int | None = None) -> list[str]:
    """A character vocabulary (BERT-Chinese style: one token per CJK character).

    Specials first, then printable ASCII (so Latin text never becomes all-[UNK]), then the
    characters of ``texts`` by descending frequency (ties broken by code point, so the vocab is
    deterministic). Latin letters are lower-cased, as the uncased tokenizer does.
    """
    counts: Counter[str] = Counter()
    for t in texts:
        counts.update(ch.lower() for ch in t if not ch.isspace())
    ascii_chars = [chr(c) for c in range(33, 127) if not chr(c).isupper()]
    # Continuation pieces for Latin letters and digits, so "ABC123" splits instead of becoming [UNK].
    continuations = ["##" + c for c in ascii_chars if c.isalnum()]
    vocab = list(SPECIAL_TOKENS) + ascii_chars + continuations
    seen = set(vocab)
    ranked = sorted((c for c, n in counts.items() if n >= min_count and c not in seen), key=lambda c: (-counts[c], c))
    if max_size is not None:
        ranked = ranked[: max(0, max_size - len(vocab))]
    return vocab + ranked


def load_tokenizer(path: str | os.PathLike):
    """Load a BERT tokenizer from a local directory (never ``vocab_file=``: transformers 5 ignores it)."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(path), local_files_only=True)


def make_tokenizer(vocab: list[str]):
    """A BERT WordPiece tokenizer over an in-memory vocab (uses ``vocab=``, see module notes)."""
    from transformers import BertTokenizer

    return BertTokenizer(vocab={tok: i for i, tok in enumerate(vocab)}, do_lower_case=True, tokenize_chinese_chars=True)


XLNET_CONFIG_NAMES = {"hidden_size": "d_model", "num_hidden_layers": "n_layer", "num_attention_heads": "n_head",
                      "intermediate_size": "d_inner", "hidden_dropout_prob": "dropout"}
"""BERT config names -> XLNet's (XLNet has relative positions and segments: no position or type vocabulary)."""


def xlnet_config_kwargs(kwargs: dict) -> dict:
    """BERT-style config values as XLNet's (``hidden_size`` -> ``d_model`` ...); BERT's position
    and token-type sizes and attention dropout, which XLNet does not have, are dropped."""
    drop = ("max_position_embeddings", "type_vocab_size", "attention_probs_dropout_prob")
    return {XLNET_CONFIG_NAMES.get(k, k): v for k, v in kwargs.items() if k not in drop}


RANDOM_CHECKPOINT_CLASSES = {
    "bert": ("BertConfig", "BertForMaskedLM", None),
    "albert": ("AlbertConfig", "AlbertForMaskedLM", None),
    "xlnet": ("XLNetConfig", "XLNetLMHeadModel", xlnet_config_kwargs),
}
"""Backbone family -> (transformers config class, language-model class, config-name translation or None)."""


def make_random_checkpoint(
    out_dir: str | os.PathLike,
    vocab: list[str] | None = None,
    texts: Iterable[str] | None = None,
    *,
    hidden_size: int = 32,
    num_hidden_layers: int = 2,
    num_attention_heads: int = 2,
    intermediate_size: int = 64,
    max_position_embeddings: int = 512,
    seed: int = 0,
    family: str = "bert",
    **config_kwargs,
) -> Path:
    """Write a randomly initialised BERT checkpoint (model + tokenizer) to ``out_dir``.

    Give ``vocab`` or ``texts`` (a char vocab is built from them). ``family``: ``"bert"``
    (``BertForMaskedLM``), ``"albert"`` (``AlbertForMaskedLM``; ``embedding_size`` among
    ``config_kwargs``, default 128) or ``"xlnet"`` (``XLNetLMHeadModel``; the BERT-style sizes are
    renamed, :func:`xlnet_config_kwargs`). Written to a temporary directory first and renamed, so no
    half-written checkpoint is left behind.
    """
    import torch
    import transformers

    if family not in RANDOM_CHECKPOINT_CLASSES:
        raise ValueError(f"make_random_checkpoint: unknown family {family!r}; known: {sorted(RANDOM_CHECKPOINT_CLASSES)}")
    config_name, model_name, translate = RANDOM_CHECKPOINT_CLASSES[family]
    config_cls, model_cls = getattr(transformers, config_name), getattr(transformers, model_name)

    if vocab is None:
        vocab = build_char_vocab(texts or [])
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o777 & ~mask)  # mkdtemp makes it 0700: give the user's usual mode
        values = dict(
            vocab_size=len(vocab),
            hidden_size=hidden_size,
            num_hidden_layers=num_hidden_layers,
            num_attention_heads=num_attention_heads,
            intermediate_size=intermediate_size,
            max_position_embeddings=max_position_embeddings,
            type_vocab_size=config_kwargs.pop("type_vocab_size", 2),
            **config_kwargs,
        )
        config = config_cls(**(translate(values) if translate else values))
        torch.manual_seed(seed)
        model = model_cls(config)
        model.save_pretrained(tmp)
        make_tokenizer(vocab).save_pretrained(tmp)
        from kgbert.models.loading import RANDOM_INIT_MARKER  # says: random weights, nothing to report

        (tmp / RANDOM_INIT_MARKER).write_text(json.dumps({"seed": seed}) + "\n", encoding="utf-8")
        if out_dir.exists():
            shutil.rmtree(out_dir)
        os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir
