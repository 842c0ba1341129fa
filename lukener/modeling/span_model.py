"""The span model: a ``LukeForEntitySpanClassification`` with what encoding its input needs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from lukener.data.label_map import NON_ENTITY_NAMES
from lukener.spans.settings import EncodingSettings

NON_ENTITY_LABEL = "O"
__all__ = ["NON_ENTITY_LABEL", "NON_ENTITY_NAMES", "SpanModel"]


@dataclass
class SpanModel:
    """A ``LukeForEntitySpanClassification`` with what is needed to encode its input."""

    model: Any
    tokenizer: Any
    settings: EncodingSettings
    id2label: dict[int, str]
    entity_mask_id: int
    entity_pad_id: int
    source: str
    # What loading had to decide for the user (settings that fell back, a relabelled head).
    notes: list[str] = field(default_factory=list)
    # An exported graph (``lukener export``) that runs in ONNX Runtime instead of ``model``,
    # which then has the structure only (no weights, on the meta device).
    onnx_path: Path | None = None

    @property
    def labels(self) -> list[str]:
        """Entity labels, without the non-entity label 0."""
        return [self.id2label[i] for i in sorted(self.id2label) if i != 0]

    @property
    def device(self) -> torch.device:
        if self.onnx_path is not None:
            return torch.device("cpu")
        device: torch.device = next(self.model.parameters()).device
        return device
