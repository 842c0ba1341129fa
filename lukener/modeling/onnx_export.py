"""ONNX: a span model exported as transformers' plain graph with entity inputs, and run
with ONNX Runtime.

The graph takes the seven inputs the collator makes (``input_ids``, ``attention_mask``,
``entity_ids``, ``entity_attention_mask``, ``entity_position_ids``,
``entity_start_positions``, ``entity_end_positions``), with the batch, word and span
dimensions dynamic, and returns ``logits`` ``(batch, spans, labels)``. It is written by
``torch.onnx.export`` (dynamo) from transformers' forward (not lukener's packed one, which
is shaped by each batch) and checked against torch's logits before it is kept.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

ONNX_FILE = "model.onnx"
INPUT_NAMES = (
    "input_ids",
    "attention_mask",
    "entity_ids",
    "entity_attention_mask",
    "entity_position_ids",
    "entity_start_positions",
    "entity_end_positions",
)
# Largest |ONNX - torch| logit difference accepted at export (fp32).
TOLERANCE = 1e-4


class _LogitsOnly(torch.nn.Module):
    def __init__(self, model: Any):
        super().__init__()
        self.model = model

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        entity_ids: torch.Tensor,
        entity_attention_mask: torch.Tensor,
        entity_position_ids: torch.Tensor,
        entity_start_positions: torch.Tensor,
        entity_end_positions: torch.Tensor,
    ) -> torch.Tensor:
        logits: torch.Tensor = self.model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            entity_ids=entity_ids,
            entity_attention_mask=entity_attention_mask,
            entity_position_ids=entity_position_ids,
            entity_start_positions=entity_start_positions,
            entity_end_positions=entity_end_positions,
        ).logits
        return logits


def export_onnx(model: Any, sample: dict[str, torch.Tensor], path: Path) -> float:
    """Write ``model``'s graph to ``path`` and return the largest logit difference between
    ONNX Runtime and torch on ``sample`` (a collated batch)."""
    import warnings

    batch, words, spans = (torch.export.Dim(n) for n in ("batch", "words", "spans"))
    dimensions: dict[str, dict[int, Any]] = {
        "input_ids": {0: batch, 1: words},
        "attention_mask": {0: batch, 1: words},
        **{name: {0: batch, 1: spans} for name in INPUT_NAMES[2:]},
    }
    model = model.eval()
    inputs = tuple(sample[name] for name in INPUT_NAMES)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's notes on its own internals
        torch.onnx.export(
            _LogitsOnly(model),
            inputs,
            str(path),
            input_names=list(INPUT_NAMES),
            output_names=["logits"],
            dynamic_shapes=dimensions,
            dynamo=True,
            verbose=False,
        )
    with torch.no_grad():
        expected = model(**sample).logits
    got = OnnxSpanClassifier(path)(**sample)
    real = (sample["entity_position_ids"] != -1).any(dim=-1)
    return float((got[real] - expected[real]).abs().max())


class OnnxSpanClassifier:
    """Span logits from an exported graph through ONNX Runtime (CPU), called like the
    model with the collator's batch."""

    def __init__(self, path: Path, threads: int | None = None):
        import onnxruntime

        options = onnxruntime.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        self.session = onnxruntime.InferenceSession(
            str(path), options, providers=["CPUExecutionProvider"]
        )

    def __call__(self, **inputs: torch.Tensor) -> torch.Tensor:
        feed = {name: inputs[name].cpu().numpy() for name in INPUT_NAMES}
        (logits,) = self.session.run(["logits"], feed)
        return torch.from_numpy(logits)
