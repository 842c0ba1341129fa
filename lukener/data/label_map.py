"""``--label-map``: rename, merge and drop entity labels (``PER=person,MISC=-``)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace

from lukener.data.documents import Document, Example
from lukener.errors import LukenerError

DROP = "-"
# Names of the non-entity label (label 0 of every span model): never an entity's label.
NON_ENTITY_NAMES = ("O", "NIL")


@dataclass(frozen=True)
class LabelMap:
    """``OLD=NEW`` pairs: several olds may share a new label (a merge), and ``OLD=-`` drops
    the label's entities. Labels not named are kept as they are."""

    mapping: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str | None) -> LabelMap:
        """``"PER=person,ORG=organization,MISC=-"``; an empty or None text maps nothing."""
        mapping: dict[str, str] = {}
        for item in (text or "").split(","):
            if not item.strip():
                continue
            old, sep, new = (part.strip() for part in item.partition("="))
            if not sep or not old or not new:
                raise LukenerError(
                    f"--label-map: {item.strip()!r} is not OLD=NEW (or OLD=- to drop the label)"
                )
            if new in NON_ENTITY_NAMES:
                raise LukenerError(
                    f"--label-map: {item.strip()!r} maps to {new}, the name of the non-entity "
                    f"label; to drop {old}'s entities, write {old}=-"
                )
            if old in mapping and mapping[old] != new:
                raise LukenerError(f"--label-map: {old!r} is mapped twice")
            mapping[old] = new
        return cls(mapping)

    def __bool__(self) -> bool:
        return bool(self.mapping)

    def label(self, label: str) -> str | None:
        """The new label, or None when the label is dropped."""
        new = self.mapping.get(label, label)
        return None if new == DROP else new

    def labels(self, labels: Iterable[str]) -> list[str]:
        """The mapped label set, in first-seen order, without dropped labels."""
        seen: dict[str, None] = {}
        for label in labels:
            new = self.label(label)
            if new is not None:
                seen.setdefault(new, None)
        return list(seen)

    def example(self, example: Example) -> Example:
        entities = []
        for entity in example.entities:
            new = self.label(entity.label)
            if new is not None:
                entities.append(replace(entity, label=new))
        return replace(example, entities=entities)

    def document(self, document: Document) -> Document:
        if not self.mapping:
            return document
        return Document(document.id, [self.example(example) for example in document.examples])

    def documents(self, documents: Iterable[Document]) -> Iterator[Document]:
        for document in documents:
            yield self.document(document)
