"""The span encoder against the LUKE/mLUKE tokenizers' own entity inputs, and what it
counts when a gold span cannot be encoded."""

from __future__ import annotations

import pytest

from lukener.data.documents import Document, Entity, Example, read_jsonl
from lukener.spans.batching import ChunkCollator
from lukener.spans.encoding import SpanEncoder, context_split
from lukener.spans.settings import EncodingSettings

SETTINGS = [
    EncodingSettings(),
    EncodingSettings(tokenization="words"),
    EncodingSettings(pretokenize=True),
    EncodingSettings(max_entity_length=7, max_mention_length=3),
]


def collate(tokenizer, settings: EncodingSettings, chunks, legacy: bool = False):
    return ChunkCollator(
        pad_token_id=tokenizer.pad_token_id,
        entity_mask_id=tokenizer.entity_mask_token_id,
        entity_pad_id=tokenizer.entity_pad_token_id,
        max_mention_length=settings.max_mention_length,
        legacy_entity_mask=legacy,
    )(chunks)


@pytest.fixture(params=["luke", "luke-lite", "mluke"])
def tokenizer(request, luke_tokenizer, luke_lite_tokenizer, mluke_tokenizer):
    return {"luke": luke_tokenizer, "luke-lite": luke_lite_tokenizer, "mluke": mluke_tokenizer}[
        request.param
    ]


@pytest.mark.parametrize("settings", SETTINGS, ids=lambda s: f"{s.tokenization}-{s.pretokenize}")
def test_entity_inputs_equal_the_tokenizers_own(golden, tokenizer, settings) -> None:
    tokenizer.max_mention_length = settings.max_mention_length
    documents = list(read_jsonl(golden / "iob1_adjacent.jsonl"))
    encoder = SpanEncoder(tokenizer, settings)
    checked = 0
    for document in documents:
        chunks, _ = encoder.encode_document(document)
        for chunk in chunks:
            batch = collate(tokenizer, settings, [chunk])
            # Token spans in the word sequence without special tokens, end exclusive.
            spans = [
                (start - 1, end)
                for start, end in zip(
                    chunk.entity_start_positions, chunk.entity_end_positions, strict=True
                )
            ]
            reference = tokenizer.prepare_for_model(
                chunk.input_ids[1:-1],
                entity_ids=[tokenizer.entity_mask_token_id] * len(spans),
                entity_token_spans=spans,
                max_entity_length=len(spans),
                return_attention_mask=True,
            )
            assert reference["input_ids"] == chunk.input_ids
            assert reference["entity_ids"] == batch["entity_ids"][0].tolist()
            assert reference["entity_attention_mask"] == batch["entity_attention_mask"][0].tolist()
            assert reference["entity_position_ids"] == batch["entity_position_ids"][0].tolist()
            assert (
                reference["entity_start_positions"] == batch["entity_start_positions"][0].tolist()
            )
            assert reference["entity_end_positions"] == batch["entity_end_positions"][0].tolist()
            assert len(spans) <= settings.max_entity_length
            checked += len(spans)
    assert checked > 15


@pytest.mark.parametrize(
    "settings", SETTINGS[:3], ids=lambda s: f"{s.tokenization}-{s.pretokenize}"
)
def test_every_span_decodes_to_its_text(golden, tokenizer, settings) -> None:
    document = next(read_jsonl(golden / "iob1_adjacent.jsonl"))
    text = {example.id: example.text for example in document.examples}
    chunks, stats = SpanEncoder(tokenizer, settings).encode_document(document)
    assert stats.unencodable == []
    words = {(s, e) for x in document.examples for s, e in x.word_positions or []}
    for chunk in chunks:
        for (start, end), first, last in zip(
            chunk.char_spans, chunk.entity_start_positions, chunk.entity_end_positions, strict=True
        ):
            decoded = tokenizer.decode(chunk.input_ids[first : last + 1]).strip()
            assert decoded == text[chunk.example_id][start:end]
    # Every single word is a candidate span.
    candidates = {span for chunk in chunks for span in chunk.char_spans}
    assert words <= candidates


def test_spans_longer_than_max_mention_length_are_counted_as_unencodable(
    luke_tokenizer,
) -> None:
    text = "Empire State Building is tall"
    example = Example(
        "e",
        text,
        [Entity(0, 21, "facility"), Entity(0, 6, "facility")],
        [(0, 6), (7, 12), (13, 21), (22, 24), (25, 29)],
    )
    empire = len(luke_tokenizer.backend_tokenizer.encode("Empire", add_special_tokens=False).ids)
    settings = EncodingSettings(max_mention_length=empire)
    chunks, stats = SpanEncoder(luke_tokenizer, settings, {"facility": 1}).encode_document(
        Document("d", [example])
    )
    assert [(eid, e.start, e.end) for eid, e in stats.unencodable] == [("e", 0, 21)]
    labels = {
        s: label for c in chunks for s, label in zip(c.char_spans, c.labels or [], strict=True)
    }
    assert labels.get((0, 6)) == 1
    assert (0, 21) not in labels
    assert all(label == 0 for span, label in labels.items() if span != (0, 6))


def test_span_inside_a_token_is_unencodable(luke_tokenizer) -> None:
    # No word positions: candidate spans end on token boundaries only.
    word = next(
        w
        for w in ("the", "and", "you", "for")
        if len(luke_tokenizer.backend_tokenizer.encode(" " + w, add_special_tokens=False).ids) == 1
    )
    text = f"I said {word} twice"
    start = text.index(word)
    example = Example("e", text, [Entity(start, start + 2, "X")], None)
    _, stats = SpanEncoder(luke_tokenizer, EncodingSettings(), {"X": 1}).encode_document(
        Document("d", [example])
    )
    assert len(stats.unencodable) == 1


def test_duplicate_gold_span_is_counted(luke_tokenizer) -> None:
    example = Example("e", "Paris", [Entity(0, 5, "LOC"), Entity(0, 5, "PER")], [(0, 5)])
    chunks, stats = SpanEncoder(
        luke_tokenizer, EncodingSettings(), {"LOC": 1, "PER": 2}
    ).encode_document(Document("d", [example]))
    assert chunks[0].labels == [1]
    assert [e.label for _, e in stats.unencodable] == ["PER"]


def make_document(sentences: int, words: int) -> Document:
    examples = []
    for i in range(sentences):
        tokens = [f"w{i}x{j}" for j in range(words)]
        text = " ".join(tokens)
        positions, offset = [], 0
        for token in tokens:
            positions.append((offset, offset + len(token)))
            offset += len(token) + 1
        examples.append(Example(f"s{i}", text, [Entity(*positions[-1], "X")], positions))
    return Document("d", examples)


def test_context_is_balanced_and_bounded(luke_tokenizer) -> None:
    settings = EncodingSettings(max_sequence_length=64)
    encoder = SpanEncoder(luke_tokenizer, settings, {"X": 1})
    document = make_document(sentences=9, words=3)
    sentences = encoder.tokenize(document.examples)
    chunks, stats = encoder.encode_document(document)
    assert stats.windowed_sentences == 0
    assert stats.unencodable == []
    middle = next(c for c in chunks if c.example_id == "s4")
    own = sentences[4].ids
    assert len(middle.input_ids) == 64
    offset = min(middle.entity_start_positions)  # the sentence's first token (+1 for <s>)
    assert middle.input_ids[offset : offset + len(own)] == own
    left = offset - 1
    right = len(middle.input_ids) - 2 - left - len(own)
    assert abs(left - right) <= 1
    # The first sentence has no left context: the right side takes all the room.
    first = next(c for c in chunks if c.example_id == "s0")
    assert min(first.entity_start_positions) == 1
    assert len(first.input_ids) == 64


@pytest.mark.parametrize(
    ("room", "left_available", "right_available", "expected"),
    [
        (9, 100, 100, (5, 4)),  # odd room, left >= right: the extra token goes left
        (9, 100, 50, (5, 4)),
        (9, 50, 100, (4, 5)),  # left shorter: it takes half, the right the rest
        (9, 2, 100, (2, 7)),
        (9, 100, 2, (7, 2)),
        (10, 100, 100, (5, 5)),
        (9, 3, 3, (3, 3)),
    ],
)
def test_context_split_matches_luke_readers(
    room: int, left_available: int, right_available: int, expected: tuple[int, int]
) -> None:
    assert context_split(room, left_available, right_available) == expected


def test_odd_room_with_more_on_the_left_gives_the_extra_token_left(luke_tokenizer) -> None:
    """The shape where naist-nlp/luke-ner and lukener used to differ."""
    document = make_document(sentences=9, words=3)
    probe = SpanEncoder(luke_tokenizer, EncodingSettings(), {"X": 1})
    sentences = probe.tokenize(document.examples)
    lengths = [len(s.ids) for s in sentences]
    own = lengths[4]
    left_available, right_available = sum(lengths[:4]), sum(lengths[5:])
    assert left_available >= right_available > 5
    settings = EncodingSettings(max_sequence_length=2 + own + 9)  # room 9: odd
    chunks, _ = SpanEncoder(luke_tokenizer, settings, {"X": 1}).encode_document(document)
    middle = next(c for c in chunks if c.example_id == "s4")
    left = min(middle.entity_start_positions) - 1  # the sentence starts after <s> and context
    right = len(middle.input_ids) - 2 - left - own
    assert (left, right) == (5, 4)


def test_long_sentence_is_tagged_in_windows_scoring_every_span_once(luke_tokenizer) -> None:
    document = make_document(sentences=1, words=40)
    whole = SpanEncoder(luke_tokenizer, EncodingSettings(max_mention_length=8), {"X": 1})
    expected, _ = whole.encode_document(document)
    settings = EncodingSettings(max_sequence_length=24, max_mention_length=8)
    encoder = SpanEncoder(luke_tokenizer, settings, {"X": 1})
    chunks, stats = encoder.encode_document(document)
    assert stats.windowed_sentences == 1
    assert stats.unencodable == []  # the entity on the last word is there
    scored = [span for chunk in chunks for span in chunk.char_spans]
    assert len(scored) == len(set(scored))  # once each
    assert sorted(scored) == sorted(span for chunk in expected for span in chunk.char_spans)
    assert len({tuple(chunk.input_ids) for chunk in chunks}) > 2  # several windows
    for chunk in chunks:
        assert len(chunk.input_ids) <= 24
        labels = dict(zip(chunk.char_spans, chunk.labels or [], strict=True))
        for (start, end), first, last in zip(
            chunk.char_spans, chunk.entity_start_positions, chunk.entity_end_positions, strict=True
        ):
            # Each span's token positions point at its own tokens inside this window.
            tokens = luke_tokenizer.convert_ids_to_tokens(chunk.input_ids[first : last + 1])
            text = document.examples[0].text[start:end]
            assert "".join(tokens).replace("Ġ", " ").strip() == text.strip()
            assert labels[(start, end)] in (0, 1)


def test_without_document_context_each_sentence_is_alone(luke_tokenizer) -> None:
    document = make_document(sentences=3, words=4)
    alone = EncodingSettings(document_context=False)
    chunks, _ = SpanEncoder(luke_tokenizer, alone, {"X": 1}).encode_document(document)
    single = [
        SpanEncoder(luke_tokenizer, EncodingSettings(), {"X": 1}).encode_document(
            type(document)(example.id, [example])
        )[0]
        for example in document.examples
    ]
    assert [c.input_ids for c in chunks] == [c.input_ids for part in single for c in part]
    contextual, _ = SpanEncoder(luke_tokenizer, EncodingSettings(), {"X": 1}).encode_document(
        document
    )
    assert len(contextual[0].input_ids) > len(chunks[0].input_ids)


def test_without_span_chunking_a_sentence_is_one_input(luke_tokenizer) -> None:
    document = make_document(sentences=1, words=30)
    chunked, _ = SpanEncoder(
        luke_tokenizer, EncodingSettings(max_entity_length=8), {"X": 1}
    ).encode_document(document)
    whole, _ = SpanEncoder(
        luke_tokenizer, EncodingSettings(max_entity_length=8, span_chunking=False), {"X": 1}
    ).encode_document(document)
    assert len(chunked) > 1
    assert len(whole) == 1
    assert whole[0].char_spans == [span for chunk in chunked for span in chunk.char_spans]


def test_japanese_text_without_spaces(mluke_tokenizer, golden) -> None:
    document = next(read_jsonl(golden / "ja_ragged.jsonl"))
    for settings in SETTINGS[:3]:
        chunks, stats = SpanEncoder(
            mluke_tokenizer, settings, {"LOC": 1, "PSN": 2}
        ).encode_document(document)
        assert stats.unencodable == []
        labelled = {
            document.examples[0].text[s:e]
            for c in chunks
            if c.example_id == document.examples[0].id
            for (s, e), label in zip(c.char_spans, c.labels or [], strict=True)
            if label
        }
        assert labelled == {"東京都", "田中"}


def test_padding_or_truncation_in_the_tokenizer_file_is_ignored(luke_tokenizer) -> None:
    import copy

    padded = copy.deepcopy(luke_tokenizer)
    padded.backend_tokenizer.enable_padding(length=40, pad_id=padded.pad_token_id)
    padded.backend_tokenizer.enable_truncation(max_length=3)
    document = make_document(sentences=2, words=4)
    settings = EncodingSettings()
    plain, _ = SpanEncoder(luke_tokenizer, settings).encode_document(document)
    chunks, stats = SpanEncoder(padded, settings).encode_document(document)
    assert [c.input_ids for c in chunks] == [c.input_ids for c in plain]
    assert padded.pad_token_id not in chunks[0].input_ids
    assert stats.windowed_sentences == 0


def test_negative_sampling_keeps_every_gold_span(luke_tokenizer, golden) -> None:
    document = next(read_jsonl(golden / "iob1_adjacent.jsonl"))
    label2id = {"ORG": 1, "MISC": 2, "LOC": 3, "PER": 4}
    full, _ = SpanEncoder(luke_tokenizer, EncodingSettings(), label2id).encode_document(document)
    none, _ = SpanEncoder(
        luke_tokenizer, EncodingSettings(), label2id, negative_rate=0.0
    ).encode_document(document)
    some, _ = SpanEncoder(
        luke_tokenizer, EncodingSettings(), label2id, negative_rate=0.5, seed=3
    ).encode_document(document)

    def labelled(chunks):
        return [
            (c.example_id, s, y)
            for c in chunks
            for s, y in zip(c.char_spans, c.labels or [], strict=True)
        ]

    gold = [item for item in labelled(full) if item[2]]
    assert len(gold) == 8
    assert labelled(none) == gold
    kept = labelled(some)
    assert [item for item in kept if item[2]] == gold
    assert len(gold) < len(kept) < len(labelled(full))
