"""lukener: named entity recognition with LUKE-style span classification.

    import lukener
    tagger = lukener.load("runs/demo")
    tagger("Jane Smith works for Acme in Berlin.")

The API (``load``, ``train``, ``evaluate``, ``Tagger``, ``TaggedEntity``) is imported on
first use, so ``import lukener`` stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Document", "Example", "TaggedEntity", "Tagger", "evaluate", "load", "train"]

if TYPE_CHECKING:
    from lukener.api import TaggedEntity, Tagger, evaluate, load, train
    from lukener.data.documents import Document, Example


def __getattr__(name: str) -> Any:
    if name in ("TaggedEntity", "Tagger", "evaluate", "load", "train"):
        from lukener import api

        return getattr(api, name)
    if name in ("Document", "Example"):
        from lukener.data import documents

        return getattr(documents, name)
    raise AttributeError(f"module 'lukener' has no attribute {name!r}")
