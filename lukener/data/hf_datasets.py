"""Hugging Face datasets as gold documents: ``tokens`` and ``ner_tags`` rows.

A source is a directory written by ``save_to_disk`` (``DIR`` or, for a dataset with splits,
``DIR:SPLIT``), a local ``.arrow`` or ``.parquet`` file, or ``hf:NAME[:SPLIT]`` for a
dataset on the hub (machines with the hub only). Integer tags are named by the ``ner_tags``
ClassLabel feature; string tags are used as they are. The tags go through the same scheme
detection and decoding as CoNLL files. A row whose only token is ``-DOCSTART-`` starts a
new document (CoNLL-2003 copies keep them); otherwise every row is a document of its own,
or ``sentences_per_document`` rows make one.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from lukener.data.convert import words_example
from lukener.data.documents import Document
from lukener.data.schemes import TagError, detect_scheme, normalize_scheme, split_tag, tags_to_spans
from lukener.errors import LukenerError

HUB_PREFIX = "hf:"
TOKEN_COLUMNS = ("tokens", "words")
TAG_COLUMNS = ("ner_tags", "tags", "labels")
DOCSTART = "-DOCSTART-"


def is_dataset_source(source: str | Path) -> bool:
    """Whether ``source`` names a dataset rather than a text file."""
    text = str(source)
    if text.startswith(HUB_PREFIX):
        return True
    path, _ = _split_source(text)
    return path.is_dir() or path.suffix.lower() in (".arrow", ".parquet")


def _split_source(text: str) -> tuple[Path, str | None]:
    """``DIR:SPLIT`` -> (DIR, SPLIT) when ``DIR`` exists and the whole text does not."""
    path = Path(text)
    if not path.exists() and ":" in text:
        head, _, split = text.rpartition(":")
        if Path(head).exists():
            return Path(head), split
    return path, None


def _class_name(names: list[str], tag: int, row: int, token: int, source: str) -> str:
    """The name of a ClassLabel id; -1 (datasets' "no label") and ids past the names are
    errors, not the last names counted from the end."""
    if tag == -1:
        raise LukenerError(
            f"row {row}, token {token}: tag id -1, datasets' 'no label' (an unlabelled row?): "
            "label it or leave the row out",
            source,
        )
    if not 0 <= tag < len(names):
        raise LukenerError(
            f"row {row}, token {token}: tag id {tag} outside the ClassLabel names "
            f"(0..{len(names) - 1})",
            source,
        )
    return names[tag]


def load_rows(source: str | Path) -> Any:
    """The ``datasets.Dataset`` that ``source`` names."""
    import datasets

    text = str(source)
    try:
        if text.startswith(HUB_PREFIX):
            name, _, hub_split = text[len(HUB_PREFIX) :].partition(":")
            return datasets.load_dataset(name, split=hub_split or "train")
        path, split = _split_source(text)
        if path.suffix.lower() == ".arrow":
            return datasets.Dataset.from_file(str(path))
        if path.suffix.lower() == ".parquet":
            return datasets.Dataset.from_parquet(str(path))
        loaded = datasets.load_from_disk(str(path))
    except (FileNotFoundError, ValueError, OSError) as error:
        raise LukenerError(f"cannot load the dataset: {error}", text) from None
    if isinstance(loaded, datasets.DatasetDict):
        names = ", ".join(loaded)
        if split is None:
            raise LukenerError(f"the dataset has splits {names}: name one as PATH:SPLIT", text)
        if split not in loaded:
            raise LukenerError(f"no split {split!r} (the dataset has {names})", text)
        return loaded[split]
    return loaded


def _column(dataset: Any, candidates: Sequence[str], what: str, source: str) -> str:
    for name in candidates:
        if name in dataset.column_names:
            return name
    raise LukenerError(
        f"no {what} column (looked for {', '.join(candidates)}; it has "
        f"{', '.join(dataset.column_names)})",
        source,
    )


def _tag_names(dataset: Any, column: str) -> list[str] | None:
    feature = dataset.features[column]
    inner = getattr(feature, "feature", None)
    names = getattr(inner, "names", None)
    return list(names) if names else None


def iter_dataset_documents(
    source: str | Path,
    scheme: str = "auto",
    no_space: bool = False,
    sentences_per_document: int | None = None,
) -> Iterator[Document]:
    """Documents of a dataset (see the module's docstring); errors name the row."""
    dataset = load_rows(source)
    name = str(source)
    token_column = _column(dataset, TOKEN_COLUMNS, "token", name)
    tag_column = _column(dataset, TAG_COLUMNS, "tag", name)
    names = _tag_names(dataset, tag_column)

    def rows() -> Iterator[tuple[int, list[str], list[str]]]:
        for index, row in enumerate(dataset):
            words = [str(w) for w in row[token_column]]
            raw = row[tag_column]
            if len(raw) != len(words):
                raise LukenerError(f"row {index}: {len(words)} tokens but {len(raw)} tags", name)
            if names is not None and raw and isinstance(raw[0], int):
                tags = [_class_name(names, t, index, k, name) for k, t in enumerate(raw)]
            else:
                tags = [str(t) for t in raw]
            yield index, words, tags

    if scheme == "auto":

        def checked() -> Iterator[list[str]]:
            for index, _words, tags in rows():
                for tag in tags:
                    try:
                        split_tag(tag)
                    except ValueError as error:
                        raise LukenerError(f"row {index}: {error}", name) from None
                yield tags

        try:
            scheme = detect_scheme(checked())
        except ValueError as error:
            raise LukenerError(f"{error}; pass --scheme", name) from None
    else:
        scheme = normalize_scheme(scheme)
    separator = "" if no_space else " "
    if name.startswith(HUB_PREFIX):
        base = name[len(HUB_PREFIX) :].replace("/", "_").replace(":", ".")
    else:
        path, split = _split_source(name)
        base = path.name + (f".{split}" if split else "")
    examples: list[Any] = []
    count = 0

    def document() -> Document:
        document_id = f"{base}-{count}"
        for j, example in enumerate(examples):
            example.id = f"{document_id}-{j}"
        return Document(document_id, list(examples))

    has_docstart = any(
        row[token_column][:1] == [DOCSTART] for row in dataset.select(range(min(len(dataset), 50)))
    )
    for index, words, tags in rows():
        if words[:1] == [DOCSTART]:
            if examples:
                yield document()
                count += 1
                examples.clear()
            continue
        if not words:
            continue
        try:
            spans, _ = tags_to_spans(tags, scheme)
        except TagError as error:
            raise LukenerError(f"row {index}: {error}", name) from None
        examples.append(words_example("", words, spans, separator))
        if not has_docstart and len(examples) >= (sentences_per_document or 1):
            yield document()
            count += 1
            examples.clear()
    if examples:
        yield document()
