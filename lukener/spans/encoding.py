"""The one span encoder: documents to ``LukeForEntitySpanClassification`` inputs.

Each sentence is tokenized (``raw`` or ``words``), extended with document context up
to the maximum length, balanced left and right, and every span of at most
``max_mention_length`` subwords inside the sentence whose ends fall on word boundaries
becomes a candidate. Candidates are cut into chunks of ``max_entity_length``; a chunk is
one model input.

A sentence longer than the maximum is encoded in overlapping windows of the maximum
length, ``window_stride`` tokens apart (half the window, or less so that consecutive
windows share ``max_mention_length - 1`` tokens and every candidate span lies whole in one
of them); each span is scored once, in the window where it lies farthest from the
window's edges. Entity inputs follow Hugging Face's LUKE convention (positions count
the leading special token, ``entity_end_positions`` inclusive, ``entity_position_ids``
padded with -1). Any fast tokenizer with offsets works.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Sequence
from typing import Any

from lukener.data.documents import Document, Example
from lukener.spans.encoded import (
    CandidateSpan,
    EncodingStats,
    Segment,
    SpanChunk,
    TokenizedSentence,
    WindowSpans,
)
from lukener.spans.settings import EncodingSettings

# Markers that tokenizers put before a word (SentencePiece, byte-level BPE); they carry
# no character of the text, whatever offsets the tokenizer gives them.
_WORD_MARKERS = "▁Ġ"


def context_split(room: int, left_available: int, right_available: int) -> tuple[int, int]:
    """Context tokens taken ``(left, right)`` of a sentence with ``room`` to fill.

    As LUKE's readers and naist-nlp/luke-ner split it: the shorter side gets up to half the
    room and the other side the rest, so with an odd room and at least as many tokens on the
    left as on the right, the extra token goes to the left.
    """
    if left_available < right_available:
        left = min(left_available, room // 2)
        return left, min(right_available, room - left)
    right = min(right_available, room // 2)
    return min(left_available, room - right), right


class SpanEncoder:
    """Encodes documents into :class:`SpanChunk` inputs for a given tokenizer and settings.

    ``label2id`` (label 0 = non-entity) is needed only to attach training labels. For
    training, ``negative_rate`` below 1 keeps that share of non-entity spans (drawn with a
    seeded generator) and every gold span: fewer inputs per sentence, the usual negative
    sampling of span-based NER.
    """

    def __init__(
        self,
        tokenizer: Any,
        settings: EncodingSettings,
        label2id: dict[str, int] | None = None,
        negative_rate: float = 1.0,
        seed: int = 0,
    ):
        if negative_rate < 1.0 and label2id is None:
            raise ValueError("negative sampling needs labels")
        self.negative_rate = negative_rate
        self.random = random.Random(seed)
        if not getattr(tokenizer, "is_fast", False):
            raise TypeError("lukener needs a fast tokenizer (one with offsets)")
        # A tokenizer file may switch on padding or truncation (sentence-transformers
        # exports pad to 128): the encoder wants each text's own tokens, nothing added.
        self.backend = copy.deepcopy(tokenizer.backend_tokenizer)
        self.backend.no_padding()
        self.backend.no_truncation()
        self.settings = settings
        self.label2id = label2id
        first = tokenizer.cls_token_id
        last = tokenizer.sep_token_id
        first = first if first is not None else tokenizer.bos_token_id
        last = last if last is not None else tokenizer.eos_token_id
        if first is None or last is None:
            raise TypeError("the tokenizer has no CLS/BOS and SEP/EOS tokens")
        self.first_token_id: int = first
        self.last_token_id: int = last
        self.max_tokens = settings.max_sequence_length - 2

    # Tokenization -------------------------------------------------------------------

    def tokenize(self, examples: Sequence[Example]) -> list[TokenizedSentence]:
        """Tokenize the sentences of one document with one call to the fast tokenizer."""
        plans = [self._segments(example) for example in examples]
        encodings = self.backend.encode_batch(
            [segment.text for plan in plans for segment in plan], add_special_tokens=False
        )
        sentences: list[TokenizedSentence] = []
        index = 0
        for example, plan in zip(examples, plans, strict=True):
            sentence = TokenizedSentence([], [], [])
            for k, segment in enumerate(plan):
                self._add_tokens(sentence, example.text, segment, encodings[index], k > 0)
                index += 1
            sentences.append(sentence)
        return sentences

    def _segments(self, example: Example) -> list[Segment]:
        """The pieces of a sentence's text the tokenizer is given, by the settings: the whole
        sentence (``raw``), each word after a space (``words``, the official LUKE reader), or
        each word with the text before it (``raw`` pretokenized: no token crosses a word
        boundary)."""
        if self.settings.tokenization == "words":
            return [
                Segment(" " + example.text[start:end], start - 1, start)
                for start, end in example.word_spans()
            ]
        if self.settings.pretokenize:
            segments, previous_end = [], 0
            for start, end in example.word_spans():
                segments.append(Segment(example.text[previous_end:end], previous_end, start))
                previous_end = end
            return segments
        return [Segment(example.text, 0, 0)]

    def _add_tokens(
        self,
        sentence: TokenizedSentence,
        text: str,
        segment: Segment,
        encoding: Any,
        after_another: bool,
    ) -> None:
        """Append one segment's tokens to ``sentence``, with their character spans in the
        sentence's ``text``."""
        shift, word_start = segment.shift, segment.word_start
        for position, (token_id, token, (start, end)) in enumerate(
            zip(encoding.ids, encoding.tokens, encoding.offsets, strict=True)
        ):
            marker = token.strip(_WORD_MARKERS) == ""
            if (
                marker
                and position == 0
                and after_another
                and self.settings.tokenization == "raw"
                and not segment.text[:1].isspace()
            ):
                # A marker the tokenizer prepended to a word glued to the previous one (text
                # without spaces): not part of the raw text's tokens.
                continue
            if marker:
                start = end = word_start - shift if position == 0 else start
            start, end = max(start + shift, word_start), max(end + shift, word_start)
            # SentencePiece offsets include the space a piece's marker stands for.
            while start < end and text[start].isspace():
                start += 1
            sentence.ids.append(token_id)
            sentence.starts.append(start)
            sentence.ends.append(max(start, end))

    # Spans ------------------------------------------------------------------------

    def candidate_spans(self, example: Example, tokens: TokenizedSentence) -> list[CandidateSpan]:
        """Every candidate span of a tokenized sentence, in text order."""
        n = len(tokens)
        starts, ends = tokens.starts, tokens.ends
        word_starts: set[int] | None = None
        word_ends: set[int] | None = None
        if example.word_positions is not None:
            word_starts = {s for s, _ in example.word_positions}
            word_ends = {e for _, e in example.word_positions}
        can_start = [ends[i] > starts[i] and (i == 0 or ends[i - 1] <= starts[i]) for i in range(n)]
        can_end = [
            ends[i] > starts[i] and (i == n - 1 or starts[i + 1] >= ends[i]) for i in range(n)
        ]
        spans = []
        for i in range(n):
            if not can_start[i] or (word_starts is not None and starts[i] not in word_starts):
                continue
            for j in range(i, min(n, i + self.settings.max_mention_length)):
                if can_end[j] and (word_ends is None or ends[j] in word_ends):
                    spans.append(CandidateSpan(i, j, starts[i], ends[j]))
        return spans

    def window_stride(self) -> int:
        """Tokens between the starts of consecutive windows of a long sentence."""
        return max(
            1, min(self.max_tokens // 2, self.max_tokens - self.settings.max_mention_length + 1)
        )

    def _windows(
        self, flat_ids: list[int], starts: list[int], index: int
    ) -> list[tuple[list[int], int, int, int]]:
        """The inputs of sentence ``index`` as ``(token ids, shift, first, last)``: its
        tokens ``first..last`` (inclusive) are in the ids, token ``i`` at ``i + shift``
        once the leading special token is added. One window in document context for a
        sentence that fits, overlapping windows of its own tokens for one that does not.
        ``flat_ids`` holds the document's sentences one after another, sentence ``k`` from
        ``starts[k]`` to ``starts[k + 1]``."""
        begin, end = starts[index], starts[index + 1]
        own = end - begin
        if own > self.max_tokens:
            stride = self.window_stride()
            firsts = [*list(range(0, own - self.max_tokens, stride)), own - self.max_tokens]
            return [
                (
                    flat_ids[begin + f : begin + f + self.max_tokens],
                    1 - f,
                    f,
                    f + self.max_tokens - 1,
                )
                for f in firsts
            ]
        if not self.settings.document_context:
            return [(flat_ids[begin:end], 1, 0, own - 1)]
        room = self.max_tokens - own
        left, right = context_split(room, begin, len(flat_ids) - end)
        return [(flat_ids[begin - left : end + right], left + 1, 0, own - 1)]

    @staticmethod
    def _window_of(span: CandidateSpan, windows: list[tuple[list[int], int, int, int]]) -> int:
        """The window that holds the span farthest from its edges."""
        best, best_margin = -1, -1
        for w, (_, _, first, last) in enumerate(windows):
            if first <= span.first and span.last <= last:
                margin = min(span.first - first, last - span.last)
                if margin > best_margin:
                    best, best_margin = w, margin
        if best < 0:  # the stride makes this impossible
            raise AssertionError(f"span {span} lies in no window")
        return best

    def encode_document(self, document: Document) -> tuple[list[SpanChunk], EncodingStats]:
        """All chunks of a document, with what could not be encoded."""
        windows, stats = self.encode_windows(document)
        chunks = [chunk for window in windows for chunk in self.draw(window, self.random)]
        stats.chunks = len(chunks)
        return chunks, stats

    def encode_windows(self, document: Document) -> tuple[list[WindowSpans], EncodingStats]:
        """Every model window of a document with its candidate spans, before negatives are
        drawn (``stats.chunks`` is left to whoever draws them)."""
        stats = EncodingStats()
        sentences = self.tokenize(document.examples)
        flat_ids = [token for sentence in sentences for token in sentence.ids]
        starts = [0]
        for sentence in sentences:
            starts.append(starts[-1] + len(sentence))
        found: list[WindowSpans] = []
        for index, (example, tokens) in enumerate(zip(document.examples, sentences, strict=True)):
            stats.sentences += 1
            stats.gold_entities += len(example.entities)
            windows = self._windows(flat_ids, starts, index)
            if len(windows) > 1:
                stats.windowed_sentences += 1
            spans = self.candidate_spans(example, tokens)
            stats.candidate_spans += len(spans)
            encodable = {(s.start, s.end) for s in spans}
            gold: dict[tuple[int, int], int] = {}
            for entity in example.entities:
                key = (entity.start, entity.end)
                if key not in encodable or key in gold:
                    stats.unencodable.append((example.id, entity))
                elif self.label2id is not None:
                    gold[key] = self.label2id[entity.label]
            by_window: list[list[CandidateSpan]] = [[] for _ in windows]
            for span in spans:
                by_window[self._window_of(span, windows) if len(windows) > 1 else 0].append(span)
            for (context_ids, shift, _, _), window_spans in zip(windows, by_window, strict=True):
                negatives = sum((s.start, s.end) not in gold for s in window_spans)
                kept = negatives
                if self.negative_rate < 1.0:
                    # A fixed number per window, so that every draw makes as many chunks;
                    # rounded at random so that the expected share is the rate.
                    expected = self.negative_rate * negatives
                    kept = int(expected) + (self.random.random() < expected - int(expected))
                found.append(
                    WindowSpans(example.id, context_ids, shift, window_spans, gold, negatives, kept)
                )
        return found, stats

    def draw(self, window: WindowSpans, generator: random.Random) -> list[SpanChunk]:
        """The chunks of ``window`` with every gold span and ``kept_negatives`` non-entity
        spans drawn by ``generator`` (all of them when none is left out), in text order: as
        many chunks whatever the draw."""
        spans = window.spans
        if window.kept_negatives < window.negatives:
            negatives = [k for k, s in enumerate(spans) if (s.start, s.end) not in window.gold]
            chosen = set(generator.sample(negatives, window.kept_negatives))
            spans = [
                s for k, s in enumerate(spans) if k in chosen or (s.start, s.end) in window.gold
            ]
        return self._chunks(window.example_id, window.context_ids, window.shift, spans, window.gold)

    def _chunks(
        self,
        example_id: str,
        context_ids: list[int],
        shift: int,
        spans: list[CandidateSpan],
        gold: dict[tuple[int, int], int],
    ) -> list[SpanChunk]:
        input_ids = [self.first_token_id, *context_ids, self.last_token_id]
        size = self.settings.max_entity_length if self.settings.span_chunking else len(spans)
        chunks = []
        for begin in range(0, len(spans), max(size, 1)):
            part = spans[begin : begin + size]
            chunks.append(
                SpanChunk(
                    example_id=example_id,
                    input_ids=input_ids,
                    entity_start_positions=[i + shift for i, _, _, _ in part],
                    entity_end_positions=[j + shift for _, j, _, _ in part],
                    entity_position_ids=[
                        self._position_ids(i + shift, j + shift) for i, j, _, _ in part
                    ],
                    char_spans=[(s, e) for _, _, s, e in part],
                    labels=None
                    if self.label2id is None
                    else [gold.get((s, e), 0) for _, _, s, e in part],
                )
            )
        return chunks

    def _position_ids(self, first: int, last: int) -> list[int]:
        size = self.settings.max_mention_length
        positions = list(range(first, last + 1))[:size]
        return positions + [-1] * (size - len(positions))
