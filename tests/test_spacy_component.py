"""The "lukener" spaCy component on a blank pipeline."""

from __future__ import annotations

import spacy

import lukener
from lukener.data.documents import read_jsonl


def test_component_sets_doc_ents_like_the_tagger(trained_luke, wnut_small) -> None:
    texts = [d.examples[0].text for d in list(read_jsonl(wnut_small))[:6]]
    nlp = spacy.blank("en")
    nlp.add_pipe("lukener", config={"checkpoint": str(trained_luke), "device": "cpu"})
    docs = list(nlp.pipe(texts, batch_size=4))
    tagger = lukener.load(trained_luke, device="cpu")
    found = 0
    for doc, expected in zip(docs, tagger.pipe(texts), strict=True):
        got = [(ent.start_char, ent.end_char, ent.label_) for ent in doc.ents]
        # spaCy's blank English tokenizer splits these tweets on the same boundaries.
        assert got == [(e.start, e.end, e.label) for e in expected]
        found += len(got)
    assert found > 0
    single = nlp(texts[0])
    assert [e.text for e in single.ents] == [e.text for e in docs[0].ents]
