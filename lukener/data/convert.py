"""Conversion between CoNLL column files and document JSONL, in both directions."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from lukener.data.conll import (
    ConllReadStats,
    iter_conll_documents,
    iter_conll_rows,
    write_conll_document,
)
from lukener.data.documents import Document, Entity, Example, iter_jsonl, write_jsonl_document
from lukener.data.label_map import LabelMap
from lukener.data.reading_options import ReadingOptions
from lukener.data.schemes import (
    WRITABLE_SCHEMES,
    TagError,
    WordSpan,
    detect_scheme,
    normalize_scheme,
    spans_to_tags,
    split_tag,
    tags_to_spans,
)
from lukener.errors import LukenerError
from lukener.files.atomic_write import output_stream

NO_SPACE_LANGUAGES = frozenset({"ja", "zh"})
MAX_REPORTED_LINES = 10


@dataclass
class ConversionSummary:
    """What a conversion read and wrote, for the closing table."""

    source_format: str
    target_format: str
    scheme: str
    scheme_detected: bool
    documents: int = 0
    sentences: int = 0
    tokens: int = 0
    entities: Counter[str] = field(default_factory=Counter)
    repairs: int = 0
    repair_lines: list[int] = field(default_factory=list)
    empty_documents: int = 0

    def count_document(self, document: Document) -> None:
        self.documents += 1
        for example in document.examples:
            self.sentences += 1
            self.tokens += len(example.word_spans())
            self.entities.update(entity.label for entity in example.entities)


def no_space_for(language: str | None, no_space: bool) -> bool:
    """Whether words are joined without spaces, from ``--no-space`` or ``--language``."""
    return no_space or (language is not None and language.lower() in NO_SPACE_LANGUAGES)


def iter_conll_as_documents(
    path: str | Path,
    options: ReadingOptions = ReadingOptions(),
    summary: ConversionSummary | None = None,
) -> Iterator[Document]:
    """Documents of a CoNLL file, decoded with the given or detected scheme, as a stream
    (the file is read twice for a detected scheme, never held whole). ``summary`` is filled
    as the documents go by."""
    source = Path(path)
    scheme, detected = _choose_scheme(source, options)
    stats = ConllReadStats()
    if summary is None:
        summary = ConversionSummary("conll", "jsonl", scheme, detected)
    summary.scheme, summary.scheme_detected = scheme, detected
    separator = "" if options.no_space else " "
    conll_documents = iter_conll_documents(
        source, options.word_column, options.tag_column, options.sentences_per_document, stats
    )
    for i, conll_document in enumerate(conll_documents):
        document_id = f"{source.name}-{i}"
        examples = []
        for j, sentence in enumerate(conll_document.sentences):
            try:
                spans, repairs = tags_to_spans(sentence.tags, scheme)
            except TagError as error:
                raise LukenerError(str(error), source, sentence.lines[error.position]) from None
            summary.repairs += len(repairs)
            room = MAX_REPORTED_LINES - len(summary.repair_lines)
            summary.repair_lines.extend(sentence.lines[p] for p in repairs[:room])
            examples.append(words_example(f"{document_id}-{j}", sentence.words, spans, separator))
        document = Document(document_id, examples)
        summary.count_document(document)
        summary.empty_documents = stats.empty_documents
        yield document
    summary.empty_documents = stats.empty_documents


def conll_to_documents(
    path: str | Path, options: ReadingOptions = ReadingOptions()
) -> tuple[list[Document], ConversionSummary]:
    """Read a CoNLL file into documents, decoding its tags with the given or detected scheme."""
    summary = ConversionSummary("conll", "jsonl", "", False)
    documents = list(iter_conll_as_documents(path, options, summary))
    return documents, summary


def _choose_scheme(source: Path, options: ReadingOptions) -> tuple[str, bool]:
    if options.scheme != "auto":
        return normalize_scheme(options.scheme), False

    def checked_tags() -> Iterator[list[str]]:
        for item in iter_conll_rows(source, options.word_column, options.tag_column):
            if item is None:
                continue
            for tag, line in zip(item.tags, item.lines, strict=True):
                try:
                    split_tag(tag)
                except ValueError as error:
                    raise LukenerError(str(error), source, line) from None
            yield item.tags

    try:
        return detect_scheme(checked_tags()), True
    except ValueError as error:
        raise LukenerError(f"{error}; pass --scheme", source) from None


def words_example(
    example_id: str, words: list[str], spans: list[WordSpan], separator: str
) -> Example:
    """A sentence of words joined by ``separator``, with word spans as character entities."""
    positions: list[tuple[int, int]] = []
    offset = 0
    for word in words:
        positions.append((offset, offset + len(word)))
        offset += len(word) + len(separator)
    entities = [
        Entity(positions[span.start][0], positions[span.end - 1][1], span.label) for span in spans
    ]
    return Example(example_id, separator.join(words), entities, positions)


def write_documents_jsonl(
    documents: Iterator[Document], output_path: str | Path, summary: ConversionSummary
) -> ConversionSummary:
    """Documents -> document JSONL, written atomically; ``summary`` counts what was written."""
    with output_stream(output_path) as stream:
        for document in documents:
            write_jsonl_document(stream, document)
            if summary.source_format != "conll":  # CoNLL reading counts as it goes
                summary.count_document(document)
    return summary


def convert_jsonl_to_conll(
    input_path: str | Path,
    output_path: str | Path,
    scheme: str = "iob2",
    label_map: LabelMap | None = None,
) -> ConversionSummary:
    """Document JSONL -> CoNLL (word and tag, tab-separated), written atomically.

    ``-DOCSTART-`` rows are written when some document has more than one sentence,
    so that reading the file back gives the same documents either way.
    """
    source = Path(input_path)
    scheme = normalize_scheme(scheme)
    if scheme not in WRITABLE_SCHEMES:
        raise LukenerError(
            f"cannot write {scheme.upper()} losslessly; use one of {', '.join(WRITABLE_SCHEMES)}"
        )
    summary = ConversionSummary("jsonl", "conll", scheme, scheme_detected=False)
    # A first pass (streamed) tells whether -DOCSTART- rows are needed; the second writes.
    docstart = any(len(document.examples) > 1 for _, document in iter_jsonl(source))
    with output_stream(output_path) as stream:
        for line, document in iter_jsonl(source):
            if label_map:
                document = label_map.document(document)
            sentences = [
                tagged_words(example, scheme, source, line) for example in document.examples
            ]
            write_conll_document(stream, sentences, docstart)
            summary.count_document(document)
    return summary


def tagged_words(
    example: Example, scheme: str, source: Path, line: int | None
) -> tuple[list[str], list[str]]:
    """The words of an example and their tags; entities must lie on word boundaries
    and must not overlap."""
    word_spans = example.word_spans()
    start_index = {start: i for i, (start, _) in enumerate(word_spans)}
    end_index = {end: i for i, (_, end) in enumerate(word_spans)}
    spans = []
    for entity in example.entities:
        if entity.start not in start_index or entity.end not in end_index:
            raise LukenerError(
                f"example {example.id!r}: entity [{entity.start}, {entity.end}) is not on the "
                "whitespace word boundaries; give word_positions",
                source,
                line,
            )
        spans.append(WordSpan(start_index[entity.start], end_index[entity.end] + 1, entity.label))
    try:
        tags = spans_to_tags(spans, len(word_spans), scheme)
    except ValueError as error:
        raise LukenerError(
            f"example {example.id!r}: {error}; CoNLL cannot hold overlapping entities",
            source,
            line,
        ) from None
    words = [example.text[start:end] for start, end in word_spans]
    for word in words:
        if word != word.strip(" ") or any(char in "\t\r\n" for char in word):
            raise LukenerError(
                f"example {example.id!r}: word {word!r} has a tab, a line break or an edge "
                "space, which a column file cannot hold",
                source,
                line,
            )
    return words, tags
