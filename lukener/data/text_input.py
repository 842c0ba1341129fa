"""Raw text to documents: a blank line separates documents; sentences and words are
segmented for English-like text and for text written without spaces (Japanese, Chinese).

English-like sentences come from pysbd (rule-based sentence boundary disambiguation: it
keeps "Mr. Smith met Dr. Jones in the U.S. Army on Jan. 5." whole), picked over syntok
for fewer errors on abbreviations, numbers and quotes (25 of 27 hand cases against 24).
Character offsets are found in the original text, so they stay exact whatever a
segmenter does with spaces.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Iterator
from typing import Any

from lukener.data.documents import Document, Example

_NO_SPACE_SENTENCE_END = re.compile(r"(?<=[。！？!?])")
# Words: dotted abbreviations (U.S.), numbers with their inner points and commas ($5.3,
# 1,000, 10:30), word characters joined by apostrophes or hyphens, or one other character.
_WORD = re.compile(r"(?:[^\W\d_]\.){2,}|\d+(?:[.,:/]\d+)+|\w+(?:['’\-]\w+)*|\S")
# Abbreviations that keep their point as part of the word ("Mr." "Jan.").
_ABBREVIATIONS = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "st",
        "jr",
        "sr",
        "gen",
        "col",
        "lt",
        "sgt",
        "rep",
        "sen",
        "gov",
        "pres",
        "rev",
        "inc",
        "ltd",
        "co",
        "corp",
        "vs",
        "etc",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "no",
        "fig",
        "approx",
    ]
)
_NO_SPACE_SCRIPT = re.compile(
    r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f]"
)
LANGUAGES = ("auto", "en", "ja", "zh")


def is_no_space_text(text: str) -> bool:
    """Whether text is mostly in scripts written without spaces (kana, CJK ideographs)."""
    letters = [c for c in text if not c.isspace()]
    if not letters:
        return False
    return sum(bool(_NO_SPACE_SCRIPT.match(c)) for c in letters) / len(letters) > 0.3


# One pysbd segmenter per thread: a segmenter keeps the text of its current call, so one
# shared by threads (a web server's, the spaCy component's) mixes their sentences up.
_SEGMENTERS = threading.local()


def _sentence_segmenter() -> Any:
    segmenter = getattr(_SEGMENTERS, "segmenter", None)
    if segmenter is None:
        import pysbd

        segmenter = _SEGMENTERS.segmenter = pysbd.Segmenter(language="en", clean=False)
    return segmenter


def sentence_offsets(text: str, no_space: bool) -> list[tuple[int, int]]:
    """``(start, end)`` of each sentence of ``text``, stripped of surrounding space.

    Text without spaces: sentences end at ``。！？!?``. Other text: pysbd's sentences,
    located in ``text`` one after another.
    """
    if no_space:
        return _located(text, _NO_SPACE_SENTENCE_END.split(text))
    spans: list[tuple[int, int]] = []
    for offset, part in _parts(text):
        segmented = [str(piece) for piece in _sentence_segmenter().segment(part)]
        spans += [(offset + start, offset + end) for start, end in _located(part, segmented)]
    return spans


# pysbd's time grows with the square of its input's length, so a long line goes to it in
# parts of at most this many characters, cut where a sentence plainly ends.
_PART_CHARACTERS = 4000
_PLAIN_END = re.compile(r"[.!?][\"')\]]*\s+(?=[\"'(\[]?[A-Z])")


def _parts(text: str) -> Iterator[tuple[int, str]]:
    """``(offset, part)`` of ``text`` in parts for the segmenter: the text itself when it is
    short; else cut at the last plain sentence end of each window (past its middle), or at
    the last space, or at the window's end."""
    start = 0
    while len(text) - start > _PART_CHARACTERS:
        window = text[start : start + _PART_CHARACTERS]
        ends = [m.end() for m in _PLAIN_END.finditer(window, _PART_CHARACTERS // 2)]
        cut = ends[-1] if ends else window.rfind(" ") + 1 or _PART_CHARACTERS
        yield start, text[start : start + cut]
        start += cut
    yield start, text[start:]


def _located(text: str, pieces: list[str]) -> list[tuple[int, int]]:
    """The ``(start, end)`` of each piece in ``text``, one after another, stripped."""
    spans = []
    cursor = 0
    for piece in pieces:
        stripped = piece.strip()
        if not stripped:
            continue
        start = text.find(stripped, cursor)
        if start < 0:  # a segmenter that changed the text: keep the rest as one sentence
            rest = text[cursor:]
            start = cursor + len(rest) - len(rest.lstrip())
            spans.append((start, len(text.rstrip())))
            return spans
        spans.append((start, start + len(stripped)))
        cursor = start + len(stripped)
    return spans


def word_positions(sentence: str, no_space: bool) -> list[tuple[int, int]]:
    """Words of a sentence: every non-space character for text without spaces; otherwise
    :data:`_WORD` matches, with the point of a known abbreviation (Mr., Jan.) kept."""
    if no_space:
        return [(i, i + 1) for i, c in enumerate(sentence) if not c.isspace()]
    positions: list[tuple[int, int]] = []
    for match in _WORD.finditer(sentence):
        start, end = match.span()
        if (
            match.group() == "."
            and positions
            and positions[-1][1] == start
            and sentence[positions[-1][0] : positions[-1][1]].lower() in _ABBREVIATIONS
            and end < len(sentence)  # a sentence's final point stays a word of its own
        ):
            positions[-1] = (positions[-1][0], end)
            continue
        positions.append((start, end))
    return positions


def segment(text: str, no_space: bool) -> list[tuple[int, str, list[tuple[int, int]]]]:
    """Sentences of one line of text: each one's offset in ``text``, its text, and its
    word positions (offsets into the sentence)."""
    return [
        (start, text[start:end], word_positions(text[start:end], no_space))
        for start, end in sentence_offsets(text, no_space)
    ]


def text_documents(lines: Iterable[str], name: str, language: str = "auto") -> Iterator[Document]:
    """Stream documents from lines of text; each non-blank line holds one or more sentences."""
    index = 0
    block: list[str] = []

    def flush() -> Document | None:
        nonlocal index
        if not block:
            return None
        no_space = language in ("ja", "zh") or (
            language == "auto" and is_no_space_text("".join(block))
        )
        document_id = f"{name}-{index}"
        examples: list[Example] = []
        for line in block:
            for _, text, positions in segment(line, no_space):
                examples.append(Example(f"{document_id}-{len(examples)}", text, [], positions))
        index += 1
        block.clear()
        return Document(document_id, examples)

    for line in lines:
        if line.strip():
            block.append(line.rstrip("\r\n"))
            continue
        document = flush()
        if document is not None:
            yield document
    document = flush()
    if document is not None:
        yield document
