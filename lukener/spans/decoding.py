"""The one decoder: scored candidate spans of a sentence to predicted entities."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class ScoredSpan:
    """A candidate span with the model's best label (0 = non-entity) for it."""

    start: int
    end: int
    label_id: int
    probability: float
    logit: float


def decode_spans(candidates: Iterable[ScoredSpan], nested: bool = False) -> list[ScoredSpan]:
    """LUKE's greedy decoding, or every entity span with ``nested``.

    Non-entity spans are dropped. The rest are taken by descending max logit, as the
    official LUKE code ranks them, and a span is kept only if none of its characters
    (so none of its words) is already taken. The result is in text order.
    """
    entities = [c for c in candidates if c.label_id != 0]
    if nested:
        return sorted(entities, key=lambda c: (c.start, c.end))
    kept: list[ScoredSpan] = []
    for candidate in sorted(entities, key=lambda c: (-c.logit, c.start, c.end)):
        if all(candidate.end <= k.start or k.end <= candidate.start for k in kept):
            kept.append(candidate)
    return sorted(kept, key=lambda c: (c.start, c.end))
