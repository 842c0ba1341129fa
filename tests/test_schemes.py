from __future__ import annotations

import pytest

from lukener.data.schemes import (
    TagError,
    WordSpan,
    detect_scheme,
    normalize_scheme,
    spans_to_tags,
    tags_to_spans,
)


def spans(tags: str, scheme: str) -> tuple[list[tuple[int, int, str]], list[int]]:
    decoded, repairs = tags_to_spans(tags.split(), scheme)
    return [(s.start, s.end, s.label) for s in decoded], repairs


def test_iob1_b_separates_adjacent_entities_of_one_type() -> None:
    assert spans("I-LOC B-LOC O I-PER I-PER B-PER", "iob1") == (
        [(0, 1, "LOC"), (1, 2, "LOC"), (3, 5, "PER"), (5, 6, "PER")],
        [],
    )


def test_iob1_type_change_starts_an_entity() -> None:
    assert spans("I-LOC I-PER", "iob1") == ([(0, 1, "LOC"), (1, 2, "PER")], [])


def test_iob2_ill_formed_i_starts_an_entity_and_is_counted() -> None:
    assert spans("O I-PER I-PER B-LOC I-ORG", "iob2") == (
        [(1, 3, "PER"), (3, 4, "LOC"), (4, 5, "ORG")],
        [1, 4],
    )


@pytest.mark.parametrize(
    ("scheme", "tags"),
    [
        ("bioes", "S-PER B-ORG I-ORG E-ORG O S-LOC S-LOC"),
        ("bilou", "U-PER B-ORG I-ORG L-ORG O U-LOC U-LOC"),
    ],
)
def test_closing_schemes(scheme: str, tags: str) -> None:
    assert spans(tags, scheme) == (
        [(0, 1, "PER"), (1, 4, "ORG"), (5, 6, "LOC"), (6, 7, "LOC")],
        [],
    )


def test_bioes_repairs_unclosed_and_orphan_tags() -> None:
    # B- left open before O, and an E- with nothing open.
    assert spans("B-PER O E-LOC", "bioes") == ([(0, 1, "PER"), (2, 3, "LOC")], [0, 2])


def test_prefix_outside_the_scheme_is_an_error() -> None:
    with pytest.raises(TagError, match="outside the IO scheme") as caught:
        tags_to_spans(["I-PER", "B-PER"], "io")
    assert caught.value.position == 1
    with pytest.raises(TagError, match="X-PER"):
        tags_to_spans(["O", "X-PER"], "iob2")


@pytest.mark.parametrize(
    ("sentences", "expected"),
    [
        ([["B-PER", "I-PER", "O"]], "iob2"),
        ([["I-PER", "B-PER", "O", "I-LOC"]], "iob1"),
        ([["I-PER", "O", "I-LOC"]], "io"),
        ([["S-PER", "B-LOC", "E-LOC"]], "bioes"),
        ([["U-PER"], ["O"]], "bilou"),
        ([["O", "O"]], "io"),
    ],
)
def test_detect_scheme(sentences: list[list[str]], expected: str) -> None:
    assert detect_scheme(sentences) == expected


def test_detect_refuses_mixed_families() -> None:
    with pytest.raises(ValueError, match="mix"):
        detect_scheme([["S-PER"], ["U-LOC"]])


@pytest.mark.parametrize("scheme", ["iob1", "iob2", "bioes", "bilou"])
def test_encode_then_decode_is_identity(scheme: str) -> None:
    original = [
        WordSpan(0, 1, "LOC"),
        WordSpan(1, 2, "LOC"),
        WordSpan(3, 6, "ORG"),
        WordSpan(6, 7, "ORG"),
        WordSpan(8, 9, "PER"),
    ]
    tags = spans_to_tags(original, 10, scheme)
    decoded, repairs = tags_to_spans(tags, scheme)
    assert decoded == original
    assert repairs == []


def test_iob1_encoding_uses_b_only_between_same_type_neighbours() -> None:
    tags = spans_to_tags([WordSpan(0, 1, "LOC"), WordSpan(1, 3, "LOC")], 4, "iob1")
    assert tags == ["I-LOC", "B-LOC", "I-LOC", "O"]


def test_overlapping_spans_cannot_be_encoded() -> None:
    with pytest.raises(ValueError, match="overlap"):
        spans_to_tags([WordSpan(0, 2, "A"), WordSpan(1, 3, "B")], 3, "iob2")


def test_io_is_not_writable_and_aliases_resolve() -> None:
    with pytest.raises(ValueError, match="losslessly"):
        spans_to_tags([], 1, "io")
    assert normalize_scheme("BIO") == "iob2"
    assert normalize_scheme("IOBES") == "bioes"
    with pytest.raises(ValueError, match="unknown tag scheme"):
        normalize_scheme("bieo")
