"""What the span encoder makes: tokenized sentences, candidate spans, model inputs (chunks),
and the count of what could not be encoded."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from lukener.data.documents import Entity


@dataclass
class TokenizedSentence:
    """Subword ids of one sentence with each token's character span in the sentence."""

    ids: list[int]
    starts: list[int]
    ends: list[int]

    def __len__(self) -> int:
        return len(self.ids)


class CandidateSpan(NamedTuple):
    """A span that may be an entity: its first and last token (inclusive) in the sentence's
    tokens, and its character offsets in the sentence's text (end exclusive)."""

    first: int
    last: int
    start: int
    end: int


class Segment(NamedTuple):
    """A piece of a sentence given to the tokenizer: its text, the sentence offset of its
    first character (``shift``) and where the word it holds starts in the sentence."""

    text: str
    shift: int
    word_start: int


@dataclass
class SpanChunk:
    """One model input: a sentence in its context and up to ``max_entity_length`` spans."""

    example_id: str
    input_ids: list[int]
    entity_start_positions: list[int]
    entity_end_positions: list[int]
    entity_position_ids: list[list[int]]
    char_spans: list[tuple[int, int]]
    labels: list[int] | None = None


@dataclass(frozen=True)
class WindowSpans:
    """One model window of a sentence with all of its candidate spans: what a training
    draw of negatives picks from (:meth:`SpanEncoder.draw`)."""

    example_id: str
    context_ids: list[int]
    shift: int
    spans: list[CandidateSpan]
    gold: dict[tuple[int, int], int]
    negatives: int  # spans not in gold
    kept_negatives: int


@dataclass
class EncodingStats:
    """What encoding could not represent; reported, and still counted by the metric."""

    sentences: int = 0
    windowed_sentences: int = 0
    candidate_spans: int = 0
    chunks: int = 0
    gold_entities: int = 0
    unencodable: list[tuple[str, Entity]] = field(default_factory=list)

    def add(self, other: EncodingStats) -> None:
        self.sentences += other.sentences
        self.windowed_sentences += other.windowed_sentences
        self.candidate_spans += other.candidate_spans
        self.chunks += other.chunks
        self.gold_entities += other.gold_entities
        self.unencodable.extend(other.unencodable)
