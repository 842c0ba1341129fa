"""One tagger (and its sentence splitter) shared by threads gives each call its own result."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import lukener
from lukener.data.documents import read_jsonl
from lukener.data.text_input import sentence_offsets

THREADS = 8


def texts_of(path, count: int) -> list[str]:
    """Multi-sentence English texts of different lengths, from the tweets."""
    tweets = [x.text for d in read_jsonl(path) for x in d.examples]
    return [
        " ".join(f"{t.rstrip('.!? ')}." for t in tweets[i : i + 1 + i % 5]) for i in range(count)
    ]


def test_sentence_splitting_from_many_threads_matches_one_thread(wnut_small) -> None:
    texts = texts_of(wnut_small, 64) * 4
    expected = [sentence_offsets(text, no_space=False) for text in texts]
    assert sum(len(spans) > 1 for spans in expected) > 16  # texts of several sentences
    with ThreadPoolExecutor(THREADS) as pool:
        found = list(pool.map(lambda text: sentence_offsets(text, no_space=False), texts))
    assert found == expected


def test_one_tagger_shared_by_threads_matches_sequential_calls(trained_luke, wnut_small) -> None:
    tagger = lukener.load(trained_luke, device="cpu", threads=1)
    texts = texts_of(wnut_small, 24) * 2
    expected = [tagger(text) for text in texts]
    assert sum(map(len, expected)) > 0
    with ThreadPoolExecutor(THREADS) as pool:
        found = list(pool.map(tagger, texts))
    assert found == expected
