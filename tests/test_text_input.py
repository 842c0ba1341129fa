"""Raw text: real sentence boundaries and words, with exact character offsets."""

from __future__ import annotations

import pytest

from lukener.data.text_input import segment, text_documents

ONE_SENTENCE = [
    "Mr. Smith met Dr. Jones in the U.S. Army on Jan. 5.",
    "The price rose to $5.3 million on Friday.",
    "Prof. J. R. R. Tolkien wrote it in St. Louis.",
]
TWO_SENTENCES = [
    'He said "Stop." Then he left.',
    "She works at Apple Inc. in Cupertino. It is big.",
    "I arrived at 5 p.m. on Friday. It rained.",
    "The U.K. and the E.U. agreed. Talks end on Oct. 3.",
]


@pytest.mark.parametrize("text", ONE_SENTENCE)
def test_abbreviations_do_not_end_a_sentence(text: str) -> None:
    sentences = segment(text, no_space=False)
    assert [s for _, s, _ in sentences] == [text]


@pytest.mark.parametrize("text", TWO_SENTENCES)
def test_real_sentence_ends_are_found(text: str) -> None:
    assert len(segment(text, no_space=False)) == 2


def test_offsets_are_exact_and_words_keep_numbers_and_abbreviations() -> None:
    text = "  Mr. Smith paid $5.3 million.   The U.S. Army said no. "
    sentences = segment(text, no_space=False)
    assert len(sentences) == 2
    for offset, sentence, positions in sentences:
        assert text[offset : offset + len(sentence)] == sentence
        words = [sentence[a:b] for a, b in positions]
        assert all(w and not w.isspace() for w in words)
    first = [sentences[0][1][a:b] for a, b in sentences[0][2]]
    assert first == ["Mr.", "Smith", "paid", "$", "5.3", "million", "."]
    second = [sentences[1][1][a:b] for a, b in sentences[1][2]]
    assert second == ["The", "U.S.", "Army", "said", "no", "."]


def test_text_without_spaces_keeps_its_own_path() -> None:
    text = "東京都に行った。田中さんも来た！"
    sentences = segment(text, no_space=True)
    assert [s for _, s, _ in sentences] == ["東京都に行った。", "田中さんも来た！"]
    assert sentences[1][0] == len("東京都に行った。")
    assert all(b - a == 1 for a, b in sentences[0][2])


def test_documents_from_lines_of_text() -> None:
    lines = ["Mr. Smith met Dr. Jones. He was late.\n", "\n", "東京都に行った。\n"]
    documents = list(text_documents(lines, "in"))
    assert [[x.text for x in d.examples] for d in documents] == [
        ["Mr. Smith met Dr. Jones.", "He was late."],
        ["東京都に行った。"],
    ]
