"""How gold input is read: the options every reader takes (column files, datasets, span
JSON), declared once for ``convert``, ``train``, ``evaluate``, ``predict`` and ``compare``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, ClassVar, Literal

from lukener.declared_options import Option

# Accepted tag scheme names, aliases included (lukener.data.schemes normalises them).
Scheme = Literal[
    "auto", "iob1", "iob2", "bio", "bioes", "iobes", "bmes", "bmeo", "bmeso", "bilou", "biluo",
    "io",
]  # fmt: skip


@dataclass(frozen=True)
class ReadingOptions:
    """How to read gold input: a column file, a dataset or span JSON."""

    PANEL: ClassVar[str] = "Reading gold input"

    scheme: Annotated[
        Scheme,
        Option(
            "Tag scheme (bio = iob2, iobes = bioes, bmeo = bmes, biluo = bilou). Reading "
            "CoNLL, auto detects it; writing CoNLL, auto means iob2.",
            case_sensitive=False,
        ),
    ] = "auto"
    word_column: Annotated[int, Option("Column of the word (0 = first).")] = 0
    tag_column: Annotated[int, Option("Column of the tag (-1 = last).")] = -1
    no_space: Annotated[
        bool, Option("CoNLL input: join words without spaces (Japanese, Chinese).")
    ] = False
    sentences_per_document: Annotated[
        int | None,
        Option("Without -DOCSTART- lines, group this many sentences per document.", min=1),
    ] = None
    label_map: Annotated[
        str | None,
        Option("Rename, merge or drop labels: PER=person,ORG=organization,MISC=- (- drops)."),
    ] = None
