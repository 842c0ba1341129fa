"""Reading and writing CoNLL-style column files (tokens, tags, sentences, documents)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from lukener.errors import LukenerError, decode_line

DOCSTART = "-DOCSTART-"


@dataclass
class ConllSentence:
    """The words and tags of one sentence, with the file line of each row."""

    words: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)


@dataclass
class ConllDocument:
    """Sentences between two ``-DOCSTART-`` lines (or a group of sentences)."""

    sentences: list[ConllSentence] = field(default_factory=list)


@dataclass
class ConllReadStats:
    """What reading a column file counted besides its documents."""

    empty_documents: int = 0


# Whitespace that separates the columns of a space-separated row: ASCII only, so that a
# no-break space (``10\u00a0000``) or an ideographic space stays inside its word.
_COLUMN_SEPARATORS = re.compile(r"[ \t\n\r\f\v]+")


def _lines(source: Path) -> Iterator[tuple[int, str]]:
    """The decoded lines of a file with their numbers, read as a stream."""
    try:
        stream = source.open("rb")
    except OSError as error:
        raise LukenerError(f"cannot read the file: {error.strerror}", source) from None
    line_number = 0
    with stream:
        for chunk in stream:
            # As a whole-file splitlines would split: \n, \r\n and a lone \r.
            for raw in chunk.splitlines() or [b""]:
                line_number += 1
                yield line_number, decode_line(raw, source, line_number)


def iter_conll_rows(
    path: str | Path, word_column: int = 0, tag_column: int = -1
) -> Iterator[ConllSentence | None]:
    """Sentences of a column file in order, and ``None`` for each ``-DOCSTART-`` row.

    A row containing a tab is split on tabs (so words may contain spaces), any other row on
    runs of ASCII whitespace. Whitespace-only lines end sentences.
    """
    source = Path(path)
    sentence = ConllSentence()
    for line_number, line in _lines(source):
        if not line.strip():
            if sentence.words:
                yield sentence
                sentence = ConllSentence()
            continue
        if "\t" in line:
            # Only ASCII spaces are trimmed: an ideographic space can be a word.
            columns = [c.strip(" ") for c in line.split("\t")]
        else:
            columns = [c for c in _COLUMN_SEPARATORS.split(line) if c]
        if len(columns) < 2:
            raise LukenerError(
                f"row {line.strip()!r} has no tag: expected a word and a tag in columns",
                source,
                line_number,
            )
        try:
            word = columns[word_column]
            tag = columns[tag_column]
        except IndexError:
            raise LukenerError(
                f"row has {len(columns)} columns; the word column {word_column} or the tag "
                f"column {tag_column} is out of range",
                source,
                line_number,
            ) from None
        if word == DOCSTART or columns[0] == DOCSTART:
            if sentence.words:
                yield sentence
                sentence = ConllSentence()
            yield None
            continue
        if not word:
            raise LukenerError("row has an empty word", source, line_number)
        if not tag:
            raise LukenerError(f"row {word!r} has an empty tag", source, line_number)
        sentence.words.append(word)
        sentence.tags.append(tag)
        sentence.lines.append(line_number)
    if sentence.words:
        yield sentence


def iter_conll_documents(
    path: str | Path,
    word_column: int = 0,
    tag_column: int = -1,
    sentences_per_document: int | None = None,
    stats: ConllReadStats | None = None,
) -> Iterator[ConllDocument]:
    """Documents of a column file (CoNLL-2003, tab-separated, ragged rows), streamed.

    A ``-DOCSTART-`` row ends a document. Without such rows, each sentence is a document,
    or ``sentences_per_document`` sentences are. An empty file is an error.
    """
    source = Path(path)
    stats = stats if stats is not None else ConllReadStats()
    # A look ahead for a -DOCSTART- row (it stops at the first one), then one pass.
    has_docstart = any(item is None for item in iter_conll_rows(source, word_column, tag_column))
    size = sentences_per_document or 1
    document = ConllDocument()
    seen_docstart = yielded = False
    for item in iter_conll_rows(source, word_column, tag_column):
        if item is None:
            if document.sentences:
                yield document
                yielded = True
            elif yielded:
                stats.empty_documents += 1
            seen_docstart = True
            document = ConllDocument()
            continue
        document.sentences.append(item)
        if not has_docstart and len(document.sentences) == size:
            yield document
            yielded = True
            document = ConllDocument()
    if document.sentences:
        yield document
        yielded = True
    elif seen_docstart and yielded:
        stats.empty_documents += 1
    if not yielded:
        raise LukenerError("empty file: no tagged rows found", source)


def write_conll_document(
    stream: TextIO, sentences: list[tuple[list[str], list[str]]], docstart: bool
) -> None:
    """Write one document: an optional ``-DOCSTART-`` row, then tab-separated rows."""
    if docstart:
        stream.write(f"{DOCSTART}\tO\n\n")
    for words, tags in sentences:
        stream.writelines(f"{word}\t{tag}\n" for word, tag in zip(words, tags, strict=True))
        stream.write("\n")
