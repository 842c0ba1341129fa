"""Whether a training run tokenizes word by word: chosen by which encodes more of its
training entities."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from lukener.data.documents import Document
from lukener.modeling.span_model import SpanModel
from lukener.spans.encoding import SpanEncoder


def unencodable_gold(span_model: SpanModel, documents: Sequence[Document]) -> tuple[int, int]:
    """``(gold entities that cannot be encoded, all gold entities)`` under the model's
    encoding settings: no candidate span has their boundaries or they are too long."""
    encoder = SpanEncoder(span_model.tokenizer, span_model.settings)
    missing = total = 0
    for document in documents:
        _, stats = encoder.encode_windows(document)
        missing += len(stats.unencodable)
        total += stats.gold_entities
    return missing, total


def with_chosen_pretokenize(span_model: SpanModel, documents: Sequence[Document]) -> SpanModel:
    """The model, set to tokenize word by word if that lets more of the training entities
    be encoded than tokenizing each sentence at once.

    A tokenizer whose pieces cross word boundaries (SentencePiece on Japanese or Chinese,
    where every character is a word) puts many entity boundaries inside a piece, and those
    entities are never candidates. Where pieces keep to words (BERT's WordPiece on English)
    both counts agree and the sentence-at-once default stays.
    """
    settings = span_model.settings
    if settings.tokenization != "raw" or settings.pretokenize:
        return span_model
    raw_missing, total = unencodable_gold(span_model, documents)
    if raw_missing == 0:
        return span_model
    pretokenized = replace(span_model, settings=replace(settings, pretokenize=True))
    word_missing, _ = unencodable_gold(pretokenized, documents)
    if word_missing >= raw_missing:
        return span_model
    note = (
        f"--pretokenize chosen: tokenizing each sentence at once leaves {raw_missing} of the "
        f"{total} training entities unencodable (a piece crosses their boundary or they "
        f"are too long), word by word {word_missing}; saved with the checkpoint"
    )
    return replace(pretokenized, notes=[*span_model.notes, note])
