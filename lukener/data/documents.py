"""Documents, examples and entities, and the one JSONL reader/writer of the project.

The format is naist-nlp/luke-ner's: one document a line,
``{"id", "examples": [{"id", "text", "entities": [{"start", "end", "label"}],
"word_positions": [[start, end], ...]}]}`` with character offsets into ``text``
(end exclusive). Every reader of JSONL in lukener goes through :func:`read_jsonl`,
which validates what it reads.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from lukener.errors import LukenerError, decode_line


@dataclass(frozen=True)
class Entity:
    """A labelled character span ``text[start:end]``; ``score`` is set on predictions."""

    start: int
    end: int
    label: str
    score: float | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"start": self.start, "end": self.end, "label": self.label}
        if self.score is not None:
            data["score"] = self.score
        return data


@dataclass
class Example:
    """One sentence: its text, gold or predicted entities, and word boundaries if known."""

    id: str
    text: str
    entities: list[Entity] = field(default_factory=list)
    word_positions: list[tuple[int, int]] | None = None

    def words(self) -> list[str]:
        """The words given by ``word_positions`` (whitespace-separated words if unknown)."""
        return [self.text[start:end] for start, end in self.word_spans()]

    def word_spans(self) -> list[tuple[int, int]]:
        """``word_positions``, or whitespace-delimited words when the file gave none."""
        if self.word_positions is not None:
            return self.word_positions
        spans: list[tuple[int, int]] = []
        start: int | None = None
        for i, char in enumerate(self.text):
            if char.isspace():
                if start is not None:
                    spans.append((start, i))
                    start = None
            elif start is None:
                start = i
        if start is not None:
            spans.append((start, len(self.text)))
        return spans

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "text": self.text,
            "entities": [entity.to_json() for entity in self.entities],
        }
        if self.word_positions is not None:
            data["word_positions"] = [[start, end] for start, end in self.word_positions]
        return data


@dataclass
class Document:
    """A sequence of sentences that share context."""

    id: str
    examples: list[Example]

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "examples": [example.to_json() for example in self.examples]}


def write_jsonl_document(stream: TextIO, document: Document) -> None:
    """Write one document as one compact JSON line (non-ASCII kept as is)."""
    stream.write(json.dumps(document.to_json(), ensure_ascii=False, separators=(",", ":")))
    stream.write("\n")


def write_jsonl(stream: TextIO, documents: Iterable[Document]) -> None:
    for document in documents:
        write_jsonl_document(stream, document)


def read_jsonl(path: str | Path) -> Iterator[Document]:
    """Stream the documents of a JSONL file, validating each; see :func:`iter_jsonl`."""
    for _, document in iter_jsonl(path):
        yield document


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, Document]]:
    """Stream ``(line number, document)`` pairs from a JSONL file.

    A line may hold a document (``{"id", "examples"}``) or, for convenience, a
    single example (``{"id", "text", "entities"}``), which becomes a one-sentence
    document. Missing ids are generated as naist-nlp/luke-ner does
    (``<file>-<i>`` and ``<document id>-<j>``); duplicate example ids are an error.
    Blank lines carry no data and are passed over.
    """
    source = Path(path)
    seen_ids: set[str] = set()
    documents = 0
    try:
        stream = source.open("rb")
    except OSError as error:
        raise LukenerError(f"cannot read the file: {error.strerror}", source) from None
    with stream:
        for line_number, raw in enumerate(stream, start=1):
            line = decode_line(raw, source, line_number)
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except json.JSONDecodeError as error:
                raise LukenerError(
                    f"broken JSON at column {error.colno}: {error.msg}", source, line_number
                ) from None
            document = _document_from_json(data, f"{source.name}-{documents}", source, line_number)
            for example in document.examples:
                if example.id in seen_ids:
                    raise LukenerError(f"duplicate example id {example.id!r}", source, line_number)
                seen_ids.add(example.id)
            documents += 1
            yield line_number, document
    if documents == 0:
        raise LukenerError("empty file: no documents found", source)


def _document_from_json(data: Any, default_id: str, path: Path, line: int) -> Document:
    def fail(problem: str) -> LukenerError:
        return LukenerError(problem, path, line)

    if not isinstance(data, dict):
        raise fail(f"expected a JSON object, found {type(data).__name__}")
    document_id = _read_id(data, default_id, fail)
    if "examples" in data:
        raw_examples = data["examples"]
        if not isinstance(raw_examples, list):
            raise fail('"examples" must be a list')
    elif "text" in data:
        raw_examples = [{**data, "id": document_id}]
    else:
        raise fail('expected a document with "examples" (or a single example with "text")')
    examples = [
        _example_from_json(raw, f"{document_id}-{j}", fail) for j, raw in enumerate(raw_examples)
    ]
    return Document(id=document_id, examples=examples)


def _read_id(data: dict[str, Any], default: str, fail: Any) -> str:
    value = data.get("id", default)
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise fail(f'"id" must be a string, found {value!r}')
    return str(value)


def _example_from_json(raw: Any, default_id: str, fail: Any) -> Example:
    if not isinstance(raw, dict):
        raise fail(f"example {default_id!r}: expected a JSON object")
    example_id = _read_id(raw, default_id, fail)
    text = raw.get("text")
    if not isinstance(text, str):
        raise fail(f'example {example_id!r}: "text" must be a string')

    def check_span(kind: str, start: Any, end: Any) -> tuple[int, int]:
        if not (_is_int(start) and _is_int(end)):
            raise fail(f"example {example_id!r}: {kind} offsets must be integers")
        if not 0 <= start < end <= len(text):
            raise fail(
                f"example {example_id!r}: {kind} [{start}, {end}) is outside the text "
                f"(length {len(text)}) or empty"
            )
        return start, end

    word_positions: list[tuple[int, int]] | None = None
    raw_positions = raw.get("word_positions")
    if raw_positions is not None:
        if not isinstance(raw_positions, list):
            raise fail(f'example {example_id!r}: "word_positions" must be a list')
        word_positions = []
        previous_end = 0
        for item in raw_positions:
            if not (isinstance(item, list) and len(item) == 2):
                raise fail(f"example {example_id!r}: word position {item!r} is not [start, end]")
            start, end = check_span("word", item[0], item[1])
            if start < previous_end:
                raise fail(f"example {example_id!r}: word [{start}, {end}) overlaps the previous")
            previous_end = end
            word_positions.append((start, end))

    raw_entities = raw.get("entities", [])
    if not isinstance(raw_entities, list):
        raise fail(f'example {example_id!r}: "entities" must be a list')
    starts = {start for start, _ in word_positions} if word_positions is not None else None
    ends = {end for _, end in word_positions} if word_positions is not None else None
    entities: list[Entity] = []
    for item in raw_entities:
        if not isinstance(item, dict):
            raise fail(f"example {example_id!r}: entity {item!r} is not an object")
        start, end = check_span("entity", item.get("start"), item.get("end"))
        label = item.get("label")
        if not isinstance(label, str) or not label:
            raise fail(f"example {example_id!r}: entity [{start}, {end}) has no label")
        if starts is not None and ends is not None and (start not in starts or end not in ends):
            raise fail(
                f"example {example_id!r}: entity [{start}, {end}) {text[start:end]!r} "
                "is not on word boundaries"
            )
        score = item.get("score")
        if score is not None and not isinstance(score, (int, float)):
            raise fail(f"example {example_id!r}: entity score must be a number")
        entities.append(Entity(start, end, label, None if score is None else float(score)))
    return Example(example_id, text, entities, word_positions)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
