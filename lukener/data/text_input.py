"""Raw text to documents: a blank line separates documents; sentences and words are
segmented for English-like text and for text written without spaces (Japanese, Chinese)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from lukener.data.documents import Document, Example

_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")
_NO_SPACE_SENTENCE_END = re.compile(r"(?<=[。！？!?])")
_WORD = re.compile(r"\w+(?:['’\-]\w+)*|\S")
_NO_SPACE_SCRIPT = re.compile(
    r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f]"
)
LANGUAGES = ("auto", "en", "ja", "zh")


def is_no_space_text(text: str) -> bool:
    """Whether text is mostly in scripts written without spaces (kana, CJK ideographs)."""
    letters = [c for c in text if not c.isspace()]
    if not letters:
        return False
    return sum(bool(_NO_SPACE_SCRIPT.match(c)) for c in letters) / len(letters) > 0.3


def segment(text: str, no_space: bool) -> list[tuple[str, list[tuple[int, int]]]]:
    """Sentences of one line of text, each with its word positions.

    English-like text: sentences end at ``.!?`` before a capital or digit, words are runs
    of word characters or single other characters. Text without spaces: sentences end
    at ``。！？!?`` and every non-space character is a word, so any span can be an entity.
    """
    pieces = _NO_SPACE_SENTENCE_END.split(text) if no_space else _SENTENCE_END.split(text)
    sentences = []
    for piece in pieces:
        sentence = piece.strip()
        if not sentence:
            continue
        if no_space:
            positions = [(i, i + 1) for i, c in enumerate(sentence) if not c.isspace()]
        else:
            positions = [(m.start(), m.end()) for m in _WORD.finditer(sentence)]
        sentences.append((sentence, positions))
    return sentences


def text_documents(lines: Iterable[str], name: str, language: str = "auto") -> Iterator[Document]:
    """Stream documents from lines of text; each non-blank line holds one or more sentences."""
    index = 0
    block: list[str] = []

    def flush() -> Document | None:
        nonlocal index
        if not block:
            return None
        no_space = language in ("ja", "zh") or (
            language == "auto" and is_no_space_text("".join(block))
        )
        document_id = f"{name}-{index}"
        examples: list[Example] = []
        for line in block:
            for text, positions in segment(line, no_space):
                examples.append(Example(f"{document_id}-{len(examples)}", text, [], positions))
        index += 1
        block.clear()
        return Document(document_id, examples)

    for line in lines:
        if line.strip():
            block.append(line.rstrip("\r\n"))
            continue
        document = flush()
        if document is not None:
            yield document
    document = flush()
    if document is not None:
        yield document
