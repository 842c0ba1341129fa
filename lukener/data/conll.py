"""Reading and writing CoNLL-style column files (tokens, tags, sentences, documents)."""

from __future__ import annotations

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
class ConllFile:
    documents: list[ConllDocument]
    has_docstart: bool
    empty_documents: int


def read_conll(
    path: str | Path,
    word_column: int = 0,
    tag_column: int = -1,
    sentences_per_document: int | None = None,
) -> ConllFile:
    """Read a column file: CoNLL-2003 (space-separated), tab-separated, ragged rows.

    A row containing a tab is split on tabs (so words may contain spaces), any other
    row on runs of whitespace. Whitespace-only lines end sentences; a row whose word
    is ``-DOCSTART-`` ends the document. Without ``-DOCSTART-`` rows, each sentence
    is a document, or ``sentences_per_document`` sentences are.
    """
    source = Path(path)
    try:
        data = source.read_bytes()
    except OSError as error:
        raise LukenerError(f"cannot read the file: {error.strerror}", source) from None

    documents: list[ConllDocument] = []
    current_document = ConllDocument()
    current_sentence = ConllSentence()
    has_docstart = False
    empty_documents = 0

    def end_sentence() -> None:
        nonlocal current_sentence
        if current_sentence.words:
            current_document.sentences.append(current_sentence)
            current_sentence = ConllSentence()

    for line_number, raw in enumerate(data.splitlines(), start=1):
        line = decode_line(raw, source, line_number)
        if not line.strip():
            end_sentence()
            continue
        # Only ASCII spaces are trimmed: an ideographic space can be a word.
        columns = [c.strip(" ") for c in line.split("\t")] if "\t" in line else line.split()
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
            has_docstart = True
            end_sentence()
            if current_document.sentences:
                documents.append(current_document)
            elif documents:
                empty_documents += 1
            current_document = ConllDocument()
            continue
        if not word:
            raise LukenerError("row has an empty word", source, line_number)
        if not tag:
            raise LukenerError(f"row {word!r} has an empty tag", source, line_number)
        current_sentence.words.append(word)
        current_sentence.tags.append(tag)
        current_sentence.lines.append(line_number)
    end_sentence()
    if current_document.sentences:
        documents.append(current_document)
    elif has_docstart and documents:
        empty_documents += 1

    if not documents:
        raise LukenerError("empty file: no tagged rows found", source)
    if not has_docstart:
        size = sentences_per_document or 1
        sentences = [s for document in documents for s in document.sentences]
        documents = [ConllDocument(sentences[i : i + size]) for i in range(0, len(sentences), size)]
    return ConllFile(documents, has_docstart, empty_documents)


def write_conll_document(
    stream: TextIO, sentences: list[tuple[list[str], list[str]]], docstart: bool
) -> None:
    """Write one document: an optional ``-DOCSTART-`` row, then tab-separated rows."""
    if docstart:
        stream.write(f"{DOCSTART}\tO\n\n")
    for words, tags in sentences:
        stream.writelines(f"{word}\t{tag}\n" for word, tag in zip(words, tags, strict=True))
        stream.write("\n")
