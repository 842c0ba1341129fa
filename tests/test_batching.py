"""Batch planning: every chunk once, within the budgets, with bounded padding."""

from __future__ import annotations

import random

import pytest

from lukener.spans.batching import plan_batches


def padded_and_real(sizes, batch) -> tuple[int, int]:
    words = max(sizes[i][0] for i in batch)
    spans = max(sizes[i][1] for i in batch)
    return len(batch) * (words + spans), sum(sum(sizes[i]) for i in batch)


@pytest.mark.parametrize("max_padding", [0.0, 0.1, 0.5])
def test_batches_cover_every_chunk_within_the_budgets(max_padding: float) -> None:
    generator = random.Random(0)
    sizes = [(generator.randint(5, 120), generator.randint(1, 64)) for _ in range(300)]
    batches = plan_batches(sizes, batch_size=16, max_batch_tokens=2000, max_padding=max_padding)
    assert sorted(i for batch in batches for i in batch) == list(range(len(sizes)))
    for batch in batches:
        padded, real = padded_and_real(sizes, batch)
        assert len(batch) <= 16
        assert len(batch) == 1 or padded <= 2000
        assert len(batch) == 1 or padded <= (1 + max_padding) * real
    # Shortest first: the batches follow the sorted order.
    assert [i for batch in batches for i in batch] == sorted(
        range(len(sizes)), key=sizes.__getitem__
    )


def test_padding_is_far_below_one_batch_in_file_order() -> None:
    generator = random.Random(1)
    sizes = [
        (generator.randint(10, 60), generator.choice([64, generator.randint(1, 64)]))
        for _ in range(256)
    ]
    planned = plan_batches(sizes, batch_size=32, max_batch_tokens=10**6, max_padding=0.1)
    in_file_order = [list(range(i, min(i + 32, len(sizes)))) for i in range(0, len(sizes), 32)]
    real = sum(sum(s) for s in sizes)
    planned_tokens = sum(padded_and_real(sizes, b)[0] for b in planned)
    file_order_tokens = sum(padded_and_real(sizes, b)[0] for b in in_file_order)
    assert planned_tokens <= 1.1 * real < file_order_tokens
    # Equal chunks still fill whole batches.
    equal = plan_batches([(30, 64)] * 64, batch_size=32, max_batch_tokens=10**6, max_padding=0.1)
    assert [len(b) for b in equal] == [32, 32]


def test_a_chunk_over_the_token_budget_runs_alone() -> None:
    batches = plan_batches([(10, 5), (900, 64), (12, 5)], 8, 500, 0.1)
    assert [1] in batches
    assert sorted(i for b in batches for i in b) == [0, 1, 2]
