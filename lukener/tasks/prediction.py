"""``lukener predict``: tag JSONL, CoNLL or raw text, streaming the output as it goes."""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, TextIO

from lukener.data.conll import write_conll_document
from lukener.data.convert import iter_conll_as_documents, tagged_words
from lukener.data.documents import Document, write_jsonl_document
from lukener.data.hf_datasets import is_dataset_source
from lukener.data.reading_options import ReadingOptions
from lukener.data.sources import iter_gold_documents
from lukener.data.text_input import text_documents
from lukener.errors import LukenerError, decode_line
from lukener.files.atomic_write import output_stream
from lukener.files.output_paths import check_output_file
from lukener.modeling.loading import load_span_model
from lukener.spans.encoded import EncodingStats
from lukener.spans.settings import EncodingOverrides
from lukener.tasks.command_options import PredictOptions
from lukener.tasks.predictor import Predictor
from lukener.tasks.run_options import RunOptions

INPUT_FORMATS = ("auto", "jsonl", "conll", "text")
OUTPUT_FORMATS = ("jsonl", "conll")
_CONLL_SUFFIXES = (".conll", ".conllu", ".iob", ".iob2", ".bio", ".bioes", ".tsv")


@dataclass
class PredictionSummary:
    documents: int
    sentences: int
    entities: int
    stats: EncodingStats
    input_format: str
    seconds: float
    notes: list[str] = field(default_factory=list)
    # Which forward ran, and why (lukener.modeling.forward_choice).
    forward: str = ""


def sniff_format(path: Path) -> str:
    """``jsonl``, ``conll`` or ``text``, from the suffix or else the first lines."""
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".json"):
        return "jsonl"
    if suffix in _CONLL_SUFFIXES:
        return "conll"
    try:
        with path.open(encoding="utf-8", errors="replace") as stream:
            head = [line for line in (next(stream, "") for _ in range(50)) if line.strip()]
    except OSError as error:
        raise LukenerError(f"cannot read the file: {error.strerror}", path) from None
    if head and head[0].lstrip().startswith("{"):
        return "jsonl"
    rows = [line.split("\t") if "\t" in line else line.split() for line in head]
    tagged = [r for r in rows if len(r) >= 2 and (r[-1] == "O" or r[-1][1:2] == "-")]
    return "conll" if head and len(tagged) == len(rows) else "text"


def input_documents(
    source: str, input_format: str, language: str, conll_options: ReadingOptions
) -> tuple[Iterator[Document], str, contextlib.ExitStack]:
    """Documents of the input, streamed where the format allows (JSONL, text)."""
    stack = contextlib.ExitStack()
    if source == "-":
        if input_format not in ("auto", "text"):
            raise LukenerError("standard input is read as raw text; use a file for JSONL/CoNLL")
        lines = _decoded_lines(sys.stdin.buffer, "standard input")
        return text_documents(lines, "stdin", language), "text", stack
    if is_dataset_source(source):
        return iter_gold_documents(source, conll_options), "dataset", stack
    path = Path(source)
    if not path.is_file():
        raise LukenerError("no such input file", path)
    chosen = sniff_format(path) if input_format == "auto" else input_format
    if chosen == "jsonl":  # document JSONL, or span JSON (CLUENER, spaCy, Label Studio)
        return iter_gold_documents(path, conll_options), chosen, stack
    if chosen == "conll":
        return iter_conll_as_documents(path, conll_options), chosen, stack
    stream = stack.enter_context(path.open("rb"))
    return text_documents(_decoded_lines(stream, path), path.name, language), chosen, stack


def _decoded_lines(stream: BinaryIO, name: str | Path) -> Iterator[str]:
    """UTF-8 lines of a file or of standard input; bad bytes are one error naming the line."""
    for line_number, raw in enumerate(stream, start=1):
        yield decode_line(raw, name, line_number)


def predict(
    options: PredictOptions,
    overrides: EncodingOverrides = EncodingOverrides(),
    run: RunOptions = RunOptions(),
    conll: ReadingOptions = ReadingOptions(),
    progress: Callable[[int], None] | None = None,
) -> PredictionSummary:
    """Tag ``options.source`` (a path or ``-``) and write JSONL or CoNLL to ``options.output``
    (``-``/None: standard output). A file output is written as it goes and renamed into place
    at the end."""
    output, output_format = options.output, options.output_format
    if output_format not in OUTPUT_FORMATS:
        raise LukenerError(f"output format must be one of {', '.join(OUTPUT_FORMATS)}")
    if options.input_format not in INPUT_FORMATS:
        raise LukenerError(f"input format must be one of {', '.join(INPUT_FORMATS)}")
    # The checkpoint is an input too: its files are read while the output is written.
    check_output_file(output, [options.source, options.checkpoint], "--output")
    span_model = load_span_model(
        options.checkpoint, overrides=overrides.to_dict(), device=run.device, onnx=run.onnx
    )
    started = time.perf_counter()
    predictor = Predictor(span_model, run)
    documents, chosen, stack = input_documents(
        options.source, options.input_format, options.language, conll
    )
    counts = [0, 0, 0]
    with stack, output_stream(output) as stream:
        for document in predictor.predict(documents, progress):
            _write(stream, document, output_format, output or "-")
            counts[0] += 1
            counts[1] += len(document.examples)
            counts[2] += sum(len(e.entities) for e in document.examples)
            stream.flush()
    seconds = time.perf_counter() - started
    return PredictionSummary(
        counts[0],
        counts[1],
        counts[2],
        predictor.stats,
        chosen,
        seconds,
        span_model.notes,
        predictor.chosen_forward.describe(),
    )


def _write(stream: TextIO, document: Document, output_format: str, name: str) -> None:
    if output_format == "jsonl":
        write_jsonl_document(stream, document)
        return
    sentences = [tagged_words(example, "iob2", Path(name), None) for example in document.examples]
    write_conll_document(stream, sentences, docstart=True)
