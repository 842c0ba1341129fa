"""A spaCy pipeline component, ``"lukener"``, that sets ``doc.ents`` from a checkpoint.

    pip install "lukener[spacy]"

    import spacy
    nlp = spacy.blank("en")
    nlp.add_pipe("lukener", config={"checkpoint": "runs/demo"})
    doc = nlp("Jane Smith works for Acme in Berlin.")
    [(ent.text, ent.label_) for ent in doc.ents]

The factory is registered through the ``spacy_factories`` entry point, so no import is
needed. Entities come from :meth:`lukener.api.Tagger.pipe` on ``doc.text`` (lukener's own
sentence splitting and document context); an entity whose ends fall inside a spaCy token
is widened to whole tokens, and overlapping spans keep the longest.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from spacy.language import Language
from spacy.tokens import Doc
from spacy.util import filter_spans

from lukener.api import TaggedEntity, Tagger, load


class LukenerComponent:
    """Sets ``doc.ents`` from the tagger's entities, a batch of docs at a time."""

    def __init__(self, tagger: Tagger, batch_size: int):
        self.tagger = tagger
        self.batch_size = batch_size

    def __call__(self, doc: Doc) -> Doc:
        return next(iter(self.pipe([doc])))

    def pipe(self, docs: Iterable[Doc], batch_size: int | None = None) -> Iterator[Doc]:
        pending: list[Doc] = []
        for doc in docs:
            pending.append(doc)
            if len(pending) >= (batch_size or self.batch_size):
                yield from self._tag(pending)
                pending = []
        yield from self._tag(pending)

    def _tag(self, docs: list[Doc]) -> Iterator[Doc]:
        tagged = self.tagger.pipe([doc.text for doc in docs], batch_size=self.batch_size)
        for doc, entities in zip(docs, tagged, strict=True):
            yield set_entities(doc, entities)


def set_entities(doc: Doc, entities: list[TaggedEntity]) -> Doc:
    spans = []
    for entity in entities:
        span = doc.char_span(entity.start, entity.end, label=entity.label, alignment_mode="expand")
        if span is not None:
            spans.append(span)
    doc.ents = filter_spans(spans)
    return doc


@Language.factory(
    "lukener",
    default_config={"checkpoint": None, "threshold": 0.0, "batch_size": 32, "device": None},
)
def make_lukener(
    nlp: Language,
    name: str,
    checkpoint: str | None,
    threshold: float,
    batch_size: int,
    device: str | None,
) -> Any:
    if not checkpoint:
        raise ValueError('the "lukener" component needs config={"checkpoint": DIRECTORY}')
    language = nlp.lang if nlp.lang in ("ja", "zh") else "auto"
    tagger = load(checkpoint, language=language, threshold=threshold, device=device)
    return LukenerComponent(tagger, batch_size)
