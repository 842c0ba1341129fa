"""The Python API: the same code paths as the commands.

import lukener

tagger = lukener.load("runs/demo")
tagger("Jane Smith works for Acme in Berlin.")   # [TaggedEntity(start=0, end=10, ...)]
for entities in tagger.pipe(texts, batch_size=64): ...

lukener.train(train="train.jsonl", model="studio-ousia/luke-base", output_dir="runs/x")
lukener.evaluate("runs/x", "test.jsonl", thresholds=[0.3, 0.5])
"""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, overload

from lukener.data.documents import Document, Example
from lukener.data.label_map import LabelMap
from lukener.data.reading_options import ReadingOptions
from lukener.data.sources import read_documents
from lukener.data.text_input import LANGUAGES, is_no_space_text, segment
from lukener.errors import LukenerError
from lukener.modeling.loading import load_span_model
from lukener.modeling.span_model import SpanModel
from lukener.spans.settings import EncodingOverrides
from lukener.tasks.evaluation import EvaluationResult, check_labels, evaluate_documents
from lukener.tasks.predictor import Predictor
from lukener.tasks.run_options import RunOptions
from lukener.tasks.threads import configure_threads
from lukener.tasks.train_options import TrainOptions
from lukener.tasks.training import TrainResult
from lukener.tasks.training import train as _train


@dataclass(frozen=True)
class TaggedEntity:
    """An entity found in a text: character offsets into that text (end exclusive)."""

    start: int
    end: int
    label: str
    score: float
    text: str


def _split_options(options: dict[str, Any], *classes: type) -> list[Any]:
    """Build each options dataclass from the keyword arguments it declares; a keyword
    none of them declares is a TypeError naming it."""
    built = []
    remaining = dict(options)
    for cls in classes:
        names = {f.name for f in dataclasses.fields(cls)}
        built.append(cls(**{k: remaining.pop(k) for k in list(remaining) if k in names}))
    if remaining:
        known = sorted({f.name for cls in classes for f in dataclasses.fields(cls)})
        raise TypeError(
            f"unknown option(s) {', '.join(sorted(remaining))}; known: {', '.join(known)}"
        )
    return built


class Tagger:
    """A loaded span model that tags text. Build it with :func:`load`."""

    def __init__(
        self, span_model: SpanModel, run: RunOptions = RunOptions(), language: str = "auto"
    ):
        if language not in LANGUAGES:
            raise LukenerError(f"language must be one of {', '.join(LANGUAGES)}")
        self.span_model = span_model
        if run.threads is None and span_model.device.type == "cpu":
            # Measured once here, not on every call.
            run = replace(run, threads=configure_threads(None))
        self.run = run
        self.language = language

    @property
    def labels(self) -> list[str]:
        return list(self.span_model.labels)

    def __call__(self, text: str) -> list[TaggedEntity]:
        """The entities of one text (any number of sentences and lines)."""
        return next(iter(self.pipe([text])))

    @overload
    def pipe(
        self, items: Iterable[str], batch_size: int | None = None
    ) -> Iterator[list[TaggedEntity]]: ...
    @overload
    def pipe(
        self, items: Iterable[Document], batch_size: int | None = None
    ) -> Iterator[Document]: ...
    def pipe(
        self, items: Iterable[str] | Iterable[Document], batch_size: int | None = None
    ) -> Iterator[Any]:
        """Tag a stream of texts (each gives its list of entities) or of
        :class:`~lukener.data.documents.Document` (each gives the predicted document), in
        input order, holding only a window of inputs in memory. ``batch_size``: model
        inputs per batch (default: the run options')."""
        run = self.run if batch_size is None else replace(self.run, batch_size=batch_size)
        predictor = Predictor(self.span_model, run)
        # One entry per input, in input order (the predictor keeps that order): None for a
        # Document, the text and its sentences' offsets for a text.
        pending: deque[tuple[str, dict[str, int]] | None] = deque()

        def documents() -> Iterator[Document]:
            for index, item in enumerate(items):
                if isinstance(item, Document):
                    pending.append(None)
                    yield item
                    continue
                if not isinstance(item, str):
                    raise TypeError(f"pipe() takes texts or Documents, not {type(item).__name__}")
                document, starts = self._document(item, f"text-{index}")
                pending.append((item, starts))
                yield document

        for document in predictor.predict(documents()):
            source = pending.popleft()
            if source is None:
                yield document
                continue
            text, starts = source
            yield [
                TaggedEntity(
                    starts[example.id] + entity.start,
                    starts[example.id] + entity.end,
                    entity.label,
                    entity.score if entity.score is not None else 0.0,
                    text[starts[example.id] + entity.start : starts[example.id] + entity.end],
                )
                for example in document.examples
                for entity in example.entities
            ]

    def _document(self, text: str, document_id: str) -> tuple[Document, dict[str, int]]:
        """One document of a text's sentences, and each sentence's offset in the text."""
        no_space = self.language in ("ja", "zh") or (
            self.language == "auto" and is_no_space_text(text)
        )
        examples: list[Example] = []
        starts: dict[str, int] = {}
        line_start = 0
        for line in text.splitlines(keepends=True):
            for offset, sentence, positions in segment(line, no_space):
                example_id = f"{document_id}-{len(examples)}"
                starts[example_id] = line_start + offset
                examples.append(Example(example_id, sentence, [], positions))
            line_start += len(line)
        return Document(document_id, examples), starts


def load(checkpoint: str | Path, language: str = "auto", **options: Any) -> Tagger:
    """A :class:`Tagger` for a checkpoint directory or hub id. ``options``: any run option
    (``batch_size``, ``threshold``, ``nested``, ``precision``, ``device``, ...) or encoding
    override (``max_mention_length``, ``document_context``, ...) of ``lukener predict``;
    ``language``: ``auto``, ``en``, ``ja`` or ``zh`` for raw text."""
    run, overrides = _split_options(options, RunOptions, EncodingOverrides)
    span_model = load_span_model(
        str(checkpoint), overrides=overrides.to_dict(), device=run.device, onnx=run.onnx
    )
    return Tagger(span_model, run, language)


def train(**options: Any) -> TrainResult:
    """Fine-tune a span model: the options of ``lukener train`` as keywords
    (``train``, ``model``, ``output_dir`` are required)."""
    for name in ("train", "validation", "output_dir"):
        if isinstance(options.get(name), str):
            options[name] = Path(options[name])
    return _train(TrainOptions.of(**options))


def evaluate(
    checkpoint: str | Path | Tagger,
    data: str | Path | Sequence[Document],
    thresholds: Sequence[float] = (),
    **options: Any,
) -> EvaluationResult:
    """Exact-span scores of a checkpoint (or a loaded :class:`Tagger`) on gold data: a
    file or dataset as ``lukener evaluate --data`` takes, or documents. ``options``: run
    options, encoding overrides and gold-reading options (``label_map``, ``no_space``,
    ``scheme``) of ``lukener evaluate``."""
    run, overrides, reading = _split_options(options, RunOptions, EncodingOverrides, ReadingOptions)
    if isinstance(checkpoint, Tagger):
        span_model = checkpoint.span_model
        # The tagger's run options, with those given here in their place.
        run_names = {f.name for f in dataclasses.fields(RunOptions)}
        run = replace(checkpoint.run, **{k: v for k, v in options.items() if k in run_names})
        settings = span_model.settings.with_overrides(**overrides.to_dict())
    else:
        span_model = load_span_model(
            str(checkpoint), overrides=overrides.to_dict(), device=run.device, onnx=run.onnx
        )
        settings = span_model.settings
    label_map = LabelMap.parse(reading.label_map)
    if isinstance(data, str | Path):
        documents = read_documents(data, reading)
        where: str | Path = data
    else:
        documents = list(label_map.documents(data))
        where = "documents"
    check_labels(documents, label_map.labels(span_model.labels), Path(str(where)))
    return evaluate_documents(
        span_model, documents, settings, run, thresholds=list(thresholds), label_map=label_map
    )
