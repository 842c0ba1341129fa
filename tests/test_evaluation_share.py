"""Validation split across processes: each predicts its share, one gather, one score."""

from __future__ import annotations

from typing import Any

from lukener.data.documents import read_jsonl
from lukener.modeling.loading import load_span_model
from lukener.tasks.evaluation import ProcessShare, evaluate_documents


def test_two_shares_gathered_score_exactly_as_one_process(trained_luke, wnut_small) -> None:
    documents = list(read_jsonl(wnut_small))[:12]
    span_model = load_span_model(str(trained_luke), device="cpu")
    whole = evaluate_documents(span_model, documents)

    # Rank 1 runs first; its gather hands back placeholders for rank 0 (no candidates) and
    # keeps its part (each document's scored candidates).
    parts: dict[int, Any] = {}
    seen: dict[int, int] = {0: 0, 1: 0}

    def gather_as(rank: int):
        def gather(item: Any) -> list[Any]:
            parts[rank] = item
            other = parts.get(1 - rank, ([{}] * len(documents[1 - rank :: 2]), item[1]))
            return [item, other] if rank == 0 else [other, item]

        return gather

    def count(rank: int):
        return lambda n: seen.__setitem__(rank, seen[rank] + n)

    evaluate_documents(
        span_model, documents, progress=count(1), share=ProcessShare(1, 2, gather_as(1))
    )
    shared = evaluate_documents(
        span_model, documents, progress=count(0), share=ProcessShare(0, 2, gather_as(0))
    )
    # Each process predicted its own documents only.
    assert seen == {r: sum(len(d.examples) for d in documents[r::2]) for r in (0, 1)}
    assert shared.metrics.to_json() == whole.metrics.to_json()
    assert shared.metrics.gold == whole.metrics.gold > 0
    assert shared.stats.sentences == whole.stats.sentences == len(documents)
