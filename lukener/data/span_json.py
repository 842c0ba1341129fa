"""Span-annotated JSON that users bring, read as documents (one record, one sentence).

Three layouts, told apart by their first record:

- **CLUENER2020** (JSON lines): ``{"text", "label": {type: {mention: [[start,
  end_inclusive], ...]}}}``; each mention is checked against the text.
- **spaCy** offsets (JSON lines): ``{"text", "entities": [[start, end, label], ...]}``,
  ``["text", {"entities": [[start, end, label], ...]}]`` (the training-data tuples) or
  ``{"text", "ents": [{"start", "end", "label"}, ...]}`` (``Doc.to_json()``).
- **Label Studio** exports: the JSON array of tasks, ``[{"data": {"text"}, "annotations":
  [{"result": [{"value": {"start", "end", "labels": [label]}}]}]}]`` (the first annotation
  that was not cancelled), or JSON-MIN lines ``{"text", "label": [{"start", "end",
  "labels"}]}``.

Offsets are characters, end exclusive (CLUENER's inclusive ends are converted). Words are
runs of word characters or single other characters, and every character for text written
without spaces; words are also cut at every entity boundary, so no entity is lost.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lukener.data.documents import Document, Entity, Example
from lukener.data.text_input import is_no_space_text
from lukener.errors import LukenerError, decode_line

LAYOUTS = ("cluener", "spacy", "label-studio")
_WORD = re.compile(r"\w+|\S")


def record_layout(record: Any) -> str | None:
    """The layout of one parsed JSON record, or None when it is none of :data:`LAYOUTS`."""
    if isinstance(record, list) and len(record) == 2 and isinstance(record[0], str):
        return "spacy"
    if not isinstance(record, dict):
        return None
    if "data" in record and ("annotations" in record or "predictions" in record):
        return "label-studio"
    if "text" not in record:
        return None
    label = record.get("label")
    if isinstance(label, dict):
        return "cluener"
    if isinstance(label, list):
        return "label-studio"
    entities = record.get("entities")
    if "ents" in record or (
        isinstance(entities, list) and entities and isinstance(entities[0], list)
    ):
        return "spacy"
    if "label" in record or "entities" not in record:
        return "cluener" if "label" in record or len(record) <= 2 else None
    return None


def iter_span_json(path: str | Path) -> Iterator[Document]:
    """Documents of a span-JSON file in any of :data:`LAYOUTS`; errors name file and line
    (or task number for a Label Studio array)."""
    source = Path(path)
    records = _records(source)
    name = source.name
    for index, (where, record) in enumerate(records):
        layout = record_layout(record)
        if layout is None:
            raise LukenerError(
                "not a CLUENER, spaCy or Label Studio record (expected a text with its spans)",
                source,
                where,
            )
        text, spans = _SPAN_READERS[layout](record, source, where)
        document_id = f"{name}-{index}"
        yield Document(document_id, [span_example(f"{document_id}-0", text, spans, source, where)])


def _records(source: Path) -> Iterator[tuple[int, Any]]:
    """``(line or task number, record)``: a JSON array is read whole, JSON lines one by one."""
    first = _first_char(source)
    if first == "[":
        try:
            whole = json.loads(source.read_text(encoding="utf-8-sig"))
        except json.JSONDecodeError:
            whole = None
        if isinstance(whole, list) and not (len(whole) == 2 and isinstance(whole[0], str)):
            yield from enumerate(whole, start=1)
            return
    with source.open("rb") as stream:
        for number, raw in enumerate(stream, start=1):
            line = decode_line(raw, source, number)
            if not line.strip():
                continue
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError as error:
                raise LukenerError(
                    f"broken JSON at column {error.colno}: {error.msg}", source, number
                ) from None


def _first_char(source: Path) -> str:
    try:
        stream = source.open(encoding="utf-8-sig", errors="replace")
    except OSError as error:
        raise LukenerError(f"cannot read the file: {error.strerror}", source) from None
    with stream:
        for line in stream:
            if line.strip():
                return line.strip()[0]
    raise LukenerError("the file is empty", source)


Span = tuple[int, int, str]


def _text(value: Any, source: Path, where: int) -> str:
    if not isinstance(value, str):
        raise LukenerError("the record's text is not a string", source, where)
    return value


def _cluener(record: Any, source: Path, where: int) -> tuple[str, list[Span]]:
    text = _text(record["text"], source, where)
    spans: list[Span] = []
    for label, mentions in (record.get("label") or {}).items():
        if not isinstance(mentions, dict):
            raise LukenerError(
                f"label {label!r}: expected {{mention: [[start, end]]}}", source, where
            )
        for mention, places in mentions.items():
            for place in places:
                if not (isinstance(place, list) and len(place) == 2):
                    raise LukenerError(
                        f"label {label!r}: {place!r} is not [start, end_inclusive]", source, where
                    )
                start, end = int(place[0]), int(place[1]) + 1
                if text[start:end] != mention:
                    raise LukenerError(
                        f"label {label!r}: text[{start}:{end}] is {text[start:end]!r}, "
                        f"not the mention {mention!r}",
                        source,
                        where,
                    )
                spans.append((start, end, str(label)))
    return text, spans


def _spacy(record: Any, source: Path, where: int) -> tuple[str, list[Span]]:
    if isinstance(record, list):
        text, annotations = record
        items = annotations.get("entities", []) if isinstance(annotations, dict) else None
    else:
        text = record["text"]
        items = record.get("entities", record.get("ents", []))
    text = _text(text, source, where)
    if not isinstance(items, list):
        raise LukenerError("entities must be a list", source, where)
    spans: list[Span] = []
    for item in items:
        if isinstance(item, dict) and {"start", "end", "label"} <= item.keys():
            spans.append((int(item["start"]), int(item["end"]), str(item["label"])))
        elif isinstance(item, list | tuple) and len(item) == 3:
            spans.append((int(item[0]), int(item[1]), str(item[2])))
        else:
            raise LukenerError(f"entity {item!r} is not [start, end, label]", source, where)
    return text, spans


def _label_studio(record: Any, source: Path, where: int) -> tuple[str, list[Span]]:
    if "data" in record:
        data = record["data"]
        strings = [v for v in data.values() if isinstance(v, str)] if isinstance(data, dict) else []
        text_value = data.get("text") if isinstance(data, dict) and "text" in data else None
        if text_value is None and len(strings) == 1:
            text_value = strings[0]
        text = _text(text_value, source, where)
        kept = [a for a in record.get("annotations", []) if not a.get("was_cancelled")]
        results = kept[0].get("result", []) if kept else []
        values = [r.get("value", {}) for r in results if "labels" in r.get("value", {})]
    else:
        text = _text(record["text"], source, where)
        values = list(record.get("label") or [])
    spans: list[Span] = []
    for value in values:
        labels = value.get("labels") or []
        if "start" not in value or "end" not in value or len(labels) != 1:
            raise LukenerError(
                f"span {value!r} needs start, end and exactly one label", source, where
            )
        start, end = _checked_offsets(text, value, str(labels[0]), source, where)
        spans.append((start, end, str(labels[0])))
    return text, spans


def _utf16_to_characters(text: str) -> dict[int, int]:
    """Character index of each UTF-16 code unit offset that starts a character (and of the
    end): where a JavaScript tool's offsets fall in a Python string."""
    offsets, unit = {}, 0
    for index, char in enumerate(text):
        offsets[unit] = index
        unit += 2 if ord(char) > 0xFFFF else 1
    offsets[unit] = len(text)
    return offsets


def _checked_offsets(
    text: str, value: dict[str, Any], label: str, source: Path, where: int
) -> tuple[int, int]:
    """A span's offsets, checked against the ``text`` Label Studio stores with it: offsets
    counted in UTF-16 code units (as exports carry them after an emoji) are converted;
    any other disagreement is an error naming the span."""
    start, end = int(value["start"]), int(value["end"])
    mention = value.get("text")
    if not isinstance(mention, str) or text[start:end] == mention:
        return start, end
    units = _utf16_to_characters(text)
    if start in units and end in units and text[units[start] : units[end]] == mention:
        return units[start], units[end]
    raise LukenerError(
        f"span {label!r} [{start}, {end}) is {text[start:end]!r} in the text, not the span's "
        f"own text {mention!r}",
        source,
        where,
    )


_SPAN_READERS = {"cluener": _cluener, "spacy": _spacy, "label-studio": _label_studio}


def span_example(
    example_id: str, text: str, spans: list[Span], source: str | Path, where: int | None
) -> Example:
    """An example of ``text`` with its entity spans; words are cut at entity boundaries."""
    for start, end, label in spans:
        if not 0 <= start < end <= len(text):
            raise LukenerError(
                f"entity {label!r} [{start}, {end}) is outside the text ({len(text)} characters)",
                source,
                where,
            )
    cuts = {offset for start, end, _ in spans for offset in (start, end)}
    if is_no_space_text(text):
        words = [(i, i + 1) for i, char in enumerate(text) if not char.isspace()]
    else:
        words = []
        for match in _WORD.finditer(text):
            start = match.start()
            for cut in sorted(c for c in cuts if match.start() < c < match.end()):
                words.append((start, cut))
                start = cut
            words.append((start, match.end()))
    entities = [Entity(start, end, label) for start, end, label in sorted(set(spans))]
    starts = {s for s, _ in words}
    ends = {e for _, e in words}
    for entity in entities:
        if entity.start not in starts or entity.end not in ends:
            raise LukenerError(
                f"entity {entity.label!r} [{entity.start}, {entity.end}) starts or ends on a space",
                source,
                where,
            )
    return Example(example_id, text, entities, words)
