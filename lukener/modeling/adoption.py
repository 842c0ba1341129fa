"""Turn a BERT-family encoder into a LUKE model, as LUKE's pre-training started from RoBERTa.

Every word-side weight is copied; the three entity-aware query matrices start as copies of
the word query, and the entity embeddings, their position table, token types and LayerNorm
start from the word side. With no entity input the adopted model computes what the source
encoder computes on right-padded input (LUKE numbers word positions by counting non-pad tokens).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from lukener.errors import LukenerError
from lukener.modeling.checkpoints import first_line, load_config, load_tokenizer
from lukener.modeling.luke_layout import ENTITY_AWARE_QUERIES, SHARED_LAYER_WEIGHTS
from lukener.modeling.span_attention import ADOPTED_SPAN_ATTENTION
from lukener.spans.settings import EncodingSettings, save_settings

SUPPORTED_MODEL_TYPES: tuple[str, ...] = ("bert", "roberta", "xlm-roberta", "camembert", "electra")

# These already number word positions from padding_idx + 1, as LUKE does; the others from 0.
_OFFSET_POSITION_TYPES = frozenset({"roberta", "xlm-roberta", "camembert"})

ENTITY_VOCAB: dict[str, int] = {"[PAD]": 0, "[UNK]": 1, "[MASK]": 2, "[MASK2]": 3}

_COPIED_EMBEDDINGS = (
    "word_embeddings.weight",
    "token_type_embeddings.weight",
    "LayerNorm.weight",
    "LayerNorm.bias",
)


def _unsupported(name_or_path: str, model_type: str, why: str) -> LukenerError:
    return LukenerError(
        f"cannot adopt {name_or_path!r}: model type {model_type!r} {why}; "
        f"supported model types: {', '.join(SUPPORTED_MODEL_TYPES)}"
    )


def _load_source_config(name_or_path: str) -> Any:
    config = load_config(name_or_path)
    model_type = str(config.model_type)
    if model_type not in SUPPORTED_MODEL_TYPES:
        raise _unsupported(name_or_path, model_type, "has no one-to-one mapping onto LUKE")
    # Variants whose layers no longer match LUKE's bidirectional, absolute-position layers.
    position_type = getattr(config, "position_embedding_type", None)
    if position_type not in (None, "absolute"):
        raise _unsupported(
            name_or_path, model_type, f"with {position_type!r} position embeddings cannot map"
        )
    if getattr(config, "is_decoder", False) or getattr(config, "add_cross_attention", False):
        raise _unsupported(name_or_path, model_type, "as a decoder cannot map")
    embedding_size = getattr(config, "embedding_size", config.hidden_size)
    if embedding_size != config.hidden_size:
        raise _unsupported(
            name_or_path,
            model_type,
            f"with embedding_size {embedding_size} != hidden_size {config.hidden_size} "
            "cannot map (LUKE has no word embedding projection)",
        )
    return config


def _special_id(tokenizer: Any, *names: str) -> int | None:
    for name in names:
        value = getattr(tokenizer, name, None)
        if value is not None:
            return int(value)
    return None


def _luke_config(
    source: Any,
    tokenizer: Any,
    pad_id: int,
    num_labels: int | None,
    id2label: dict[int, str] | None,
) -> Any:
    from transformers import LukeConfig

    offset = source.model_type in _OFFSET_POSITION_TYPES
    max_positions = int(source.max_position_embeddings)
    if not offset:
        # Room for LUKE's rows 0..pad_id that sit before the first real position.
        max_positions += pad_id + 1
    labels: dict[str, Any] = {}
    if id2label is not None:
        if num_labels is not None and num_labels != len(id2label):
            raise LukenerError(
                f"num_labels is {num_labels} but id2label has {len(id2label)} labels"
            )
        labels["id2label"] = {int(i): str(label) for i, label in id2label.items()}
        labels["label2id"] = {str(label): int(i) for i, label in id2label.items()}
    elif num_labels is not None:
        if num_labels < 1:
            raise LukenerError(f"num_labels must be at least 1, not {num_labels}")
        labels["num_labels"] = num_labels
    config = LukeConfig(
        vocab_size=int(source.vocab_size),
        entity_vocab_size=len(ENTITY_VOCAB),
        hidden_size=int(source.hidden_size),
        entity_emb_size=int(source.hidden_size),
        num_hidden_layers=int(source.num_hidden_layers),
        num_attention_heads=int(source.num_attention_heads),
        intermediate_size=int(source.intermediate_size),
        hidden_act=source.hidden_act,
        hidden_dropout_prob=source.hidden_dropout_prob,
        attention_probs_dropout_prob=source.attention_probs_dropout_prob,
        classifier_dropout=getattr(source, "classifier_dropout", None),
        max_position_embeddings=max_positions,
        type_vocab_size=int(source.type_vocab_size),
        initializer_range=float(source.initializer_range),
        layer_norm_eps=float(source.layer_norm_eps),
        use_entity_aware_attention=True,
        pad_token_id=pad_id,
        bos_token_id=_special_id(tokenizer, "bos_token_id", "cls_token_id"),
        eos_token_id=_special_id(tokenizer, "eos_token_id", "sep_token_id"),
        **labels,
    )
    # The encoder never saw spans in its input: its words must not read them.
    config.span_attention = ADOPTED_SPAN_ATTENTION
    return config


def _map_weights(
    source: dict[str, torch.Tensor],
    target: dict[str, torch.Tensor],
    offset_positions: bool,
    pad_id: int,
    mask_id: int,
    unk_id: int | None,
    num_layers: int,
) -> dict[str, torch.Tensor]:
    """LUKE's state dict filled from the source encoder's (both without a model prefix)."""
    mapped: dict[str, torch.Tensor] = {}
    used: set[str] = set()

    def take(name: str) -> torch.Tensor:
        if name not in source:
            raise LukenerError(f"the source checkpoint has no weight {name!r} to adopt")
        used.add(name)
        return source[name].detach().to(torch.float32)

    for name in _COPIED_EMBEDDINGS:
        mapped[f"embeddings.{name}"] = take(f"embeddings.{name}")

    word_positions = take("embeddings.position_embeddings.weight")
    luke_positions = target["embeddings.position_embeddings.weight"]
    n_positions, hidden = luke_positions.shape
    if offset_positions:
        # Same convention (padding_idx + 1 + i) and same pad id: the table as is.
        words = word_positions.clone()
        first_word = pad_id + 1
    else:
        # LUKE reads row pad_id + 1 + i for token i, where the source read row i; rows up to
        # pad_id are only read by padding, whose outputs nothing attends to.
        words = torch.zeros(n_positions, hidden)
        words[pad_id + 1 :] = word_positions
        first_word = 0
    mapped["embeddings.position_embeddings.weight"] = words
    # Entity position ids are raw subword indices: entity position i is word position i.
    usable = word_positions[first_word:]
    entity_positions = torch.zeros(n_positions, hidden)
    entity_positions[: usable.shape[0]] = usable
    mapped["entity_embeddings.position_embeddings.weight"] = entity_positions

    word_embeddings = mapped["embeddings.word_embeddings.weight"]
    entities = torch.zeros(len(ENTITY_VOCAB), hidden)
    # LUKE's pre-training started [MASK] from the word <mask>; [PAD] stays zero (padding_idx).
    entities[ENTITY_VOCAB["[MASK]"]] = word_embeddings[mask_id]
    entities[ENTITY_VOCAB["[MASK2]"]] = word_embeddings[mask_id]
    if unk_id is not None:
        entities[ENTITY_VOCAB["[UNK]"]] = word_embeddings[unk_id]
    mapped["entity_embeddings.entity_embeddings.weight"] = entities
    mapped["entity_embeddings.token_type_embeddings.weight"] = mapped[
        "embeddings.token_type_embeddings.weight"
    ].clone()
    for part in ("weight", "bias"):
        mapped[f"entity_embeddings.LayerNorm.{part}"] = mapped[
            f"embeddings.LayerNorm.{part}"
        ].clone()

    for i in range(num_layers):
        layer = f"encoder.layer.{i}"
        for module in SHARED_LAYER_WEIGHTS:
            for part in ("weight", "bias"):
                mapped[f"{layer}.{module}.{part}"] = take(f"{layer}.{module}.{part}")
        for query in ENTITY_AWARE_QUERIES:
            for part in ("weight", "bias"):
                # As LUKE's pre-training: every query type starts as the word query.
                mapped[f"{layer}.attention.self.{query}.{part}"] = mapped[
                    f"{layer}.attention.self.query.{part}"
                ].clone()

    for part in ("weight", "bias"):
        name = f"pooler.dense.{part}"
        if name in source and name in target:
            mapped[name] = take(name)

    left = sorted(set(source) - used)
    if left:
        shown = ", ".join(left[:3]) + (", ..." if len(left) > 3 else "")
        raise LukenerError(f"the source checkpoint has weights LUKE has no place for: {shown}")
    # Only a pooler may stay as initialised, when the source has none (ELECTRA).
    unset = sorted(name for name in set(target) - set(mapped) if not name.startswith("pooler."))
    if unset:
        raise LukenerError(f"no source weight for LUKE's {', '.join(unset[:3])}")
    for name, tensor in mapped.items():
        if tensor.shape != target[name].shape:
            raise LukenerError(
                f"{name}: source shape {tuple(tensor.shape)} does not fit LUKE's "
                f"{tuple(target[name].shape)}"
            )
    return mapped


def adopt_encoder(
    name_or_path: str,
    num_labels: int | None = None,
    id2label: dict[int, str] | None = None,
) -> tuple[Any, Any, dict[str, int]]:
    """Build a LUKE model from a BERT, RoBERTa, XLM-R, CamemBERT or ELECTRA encoder.

    Returns ``(model, tokenizer, entity_vocab)``: a ``LukeForEntitySpanClassification``
    with a fresh classifier when ``num_labels`` or ``id2label`` is given, else a
    ``LukeModel``; the source's fast tokenizer; the entity vocabulary.
    """
    from transformers import AutoModel, LukeForEntitySpanClassification, LukeModel

    name_or_path = str(name_or_path)
    source_config = _load_source_config(name_or_path)
    tokenizer = load_tokenizer(name_or_path)
    model_type = str(source_config.model_type)
    offset = model_type in _OFFSET_POSITION_TYPES

    mask_id = _special_id(tokenizer, "mask_token_id")
    if mask_id is None:
        raise LukenerError(
            f"{name_or_path!r}: the tokenizer has no mask token to start [MASK] from"
        )
    pad_id = _special_id(tokenizer, "pad_token_id")
    if pad_id is None:
        pad_id = source_config.pad_token_id
    if pad_id is None:
        raise LukenerError(f"{name_or_path!r}: neither the tokenizer nor the config has a pad id")
    if offset and source_config.pad_token_id != pad_id:
        # The source numbers positions from its config's pad id, LUKE from the tokenizer's.
        raise LukenerError(
            f"{name_or_path!r}: the tokenizer's pad id {pad_id} differs from the model's "
            f"{source_config.pad_token_id}, so word positions would not line up"
        )
    vocab_size = int(source_config.vocab_size)
    if len(tokenizer) > vocab_size:
        raise LukenerError(
            f"{name_or_path!r}: the tokenizer has {len(tokenizer)} tokens but the model "
            f"only {vocab_size} embeddings"
        )

    try:
        source = AutoModel.from_pretrained(name_or_path, config=source_config)
    except (OSError, ValueError) as error:
        raise LukenerError(
            f"cannot load the weights of {name_or_path!r}: {first_line(error)}"
        ) from None

    config = _luke_config(source_config, tokenizer, pad_id, num_labels, id2label)
    with_head = num_labels is not None or id2label is not None
    model: Any = LukeForEntitySpanClassification(config) if with_head else LukeModel(config)
    base = model.luke if with_head else model
    target = base.state_dict()
    mapped = _map_weights(
        source.state_dict(),
        target,
        offset_positions=offset,
        pad_id=pad_id,
        mask_id=mask_id,
        unk_id=_special_id(tokenizer, "unk_token_id"),
        num_layers=int(source_config.num_hidden_layers),
    )
    base.load_state_dict({**target, **mapped}, strict=True)
    # Match from_pretrained, which hands models back in evaluation mode.
    model.eval()
    return model, tokenizer, dict(ENTITY_VOCAB)


def save_adopted(
    model: Any, tokenizer: Any, entity_vocab: dict[str, int], directory: str | Path
) -> None:
    """Write an adopted model as a checkpoint directory that lukener and transformers load."""
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    # A BERT or RoBERTa tokenizer knows no entity ids; lukener reads them from here.
    save_settings(path, EncodingSettings(), entity_vocab=dict(entity_vocab))
