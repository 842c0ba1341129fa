"""Every gold input a command reads, told apart by its content: document JSONL
(naist-nlp/luke-ner's format), span JSON (CLUENER, spaCy, Label Studio), Hugging Face
datasets, and CoNLL column files (anything else). ``--label-map`` applies to all of them."""

from __future__ import annotations

import contextlib
import json
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from lukener.data.convert import (
    ConversionSummary,
    convert_jsonl_to_conll,
    iter_conll_as_documents,
    write_documents_jsonl,
)
from lukener.data.documents import Document, iter_jsonl
from lukener.data.hf_datasets import is_dataset_source, iter_dataset_documents
from lukener.data.label_map import LabelMap
from lukener.data.reading_options import ReadingOptions
from lukener.data.span_json import iter_span_json, record_layout
from lukener.errors import LukenerError
from lukener.files.output_paths import check_output_file

KINDS = ("documents", "span-json", "dataset", "conll")
JSON_SUFFIXES = (".jsonl", ".json")


def input_kind(source: str | Path) -> str:
    """One of :data:`KINDS`. A dataset is a directory, an Arrow/Parquet file or ``hf:NAME``;
    a ``.jsonl``/``.json`` file is document JSONL unless its first record is span JSON
    (CLUENER, spaCy, Label Studio); any other file is a CoNLL column file."""
    if is_dataset_source(source):
        return "dataset"
    path = Path(source)
    if path.suffix.lower() not in JSON_SUFFIXES:
        return "conll"
    try:
        with path.open(encoding="utf-8-sig", errors="replace") as stream:
            first = next((line.strip() for line in stream if line.strip()), "")
    except OSError as error:
        raise LukenerError(f"cannot read the file: {error.strerror}", path) from None
    try:
        record = json.loads(first)
    except json.JSONDecodeError:
        # A JSON array over several lines is a Label Studio export; anything else broken
        # is for the document reader to name.
        return "span-json" if first.startswith("[") else "documents"
    if isinstance(record, dict) and "examples" in record:
        return "documents"
    if isinstance(record, list) and record and isinstance(record[0], dict):
        return "span-json"  # a Label Studio export on one line
    return "documents" if record_layout(record) is None else "span-json"


def iter_gold_documents(
    source: str | Path,
    options: ReadingOptions = ReadingOptions(),
    summary: ConversionSummary | None = None,
) -> Iterator[Document]:
    """Documents of any gold input, with ``options.label_map`` applied, streamed."""
    label_map = LabelMap.parse(options.label_map)
    kind = input_kind(source)
    documents: Iterator[Document]
    if kind == "dataset":
        documents = iter_dataset_documents(
            source, options.scheme, options.no_space, options.sentences_per_document
        )
    elif kind == "span-json":
        documents = iter_span_json(source)
    elif kind == "documents":
        documents = (document for _, document in iter_jsonl(source))
    else:
        documents = iter_conll_as_documents(source, options, summary)
    return label_map.documents(documents)


def read_documents(
    source: str | Path, options: ReadingOptions = ReadingOptions()
) -> list[Document]:
    """All documents of a gold input (see :func:`iter_gold_documents`)."""
    return list(iter_gold_documents(source, options))


def convert(
    input_path: str | Path,
    output_path: str | Path,
    options: ReadingOptions = ReadingOptions(),
    output_scheme: str = "iob2",
) -> ConversionSummary:
    """Document JSONL becomes CoNLL; every other input (CoNLL, span JSON, a dataset)
    becomes document JSONL.

    ``-`` reads standard input (JSON if its first line is a JSON object, else CoNLL) or
    writes standard output. The output is checked before anything is read: it must not be
    the input and must be writable.
    """
    check_output_file(output_path, [input_path], "OUTPUT")
    if str(input_path) == "-":
        with spooled_stdin() as spooled:
            return convert(spooled, output_path, options, output_scheme)
    kind = input_kind(input_path)
    if kind == "documents":
        return convert_jsonl_to_conll(
            input_path, output_path, output_scheme, LabelMap.parse(options.label_map)
        )
    source_format = {"span-json": "span JSON", "dataset": "dataset"}.get(kind, kind)
    scheme = "spans" if kind == "span-json" else options.scheme
    detected = options.scheme == "auto" and kind != "span-json"
    summary = ConversionSummary(source_format, "jsonl", scheme, detected)
    documents = iter_gold_documents(input_path, options, summary)
    return write_documents_jsonl(documents, output_path, summary)


@contextlib.contextmanager
def spooled_stdin() -> Iterator[Path]:
    """Standard input in a temporary file (conversion reads its input twice), named
    ``stdin.jsonl`` for JSON lines and ``stdin`` for CoNLL, so ids read ``stdin-0``."""
    with tempfile.TemporaryDirectory(prefix="lukener-stdin-") as directory:
        data = sys.stdin.buffer.read()
        first = next((line.strip() for line in data.splitlines() if line.strip()), b"")
        path = Path(directory) / ("stdin.jsonl" if first.startswith(b"{") else "stdin")
        path.write_bytes(data)
        yield path
