"""Span attention modes: words that do not read spans, spans that read only words and
themselves; the same in every forward path, and kept with the checkpoint."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import torch

from lukener.errors import LukenerError
from lukener.modeling.fused_attention import set_span_attention
from lukener.modeling.packed_inference import PackedSpanClassifier
from lukener.modeling.span_attention import allowed_attention, inside_words, span_attention_of
from tests.luke_inputs import (
    TOLERANCE,
    assert_packed_training_matches,
    span_inputs,
    span_models,
    without_dropout,
)


def with_mode(mode: str) -> Any:
    _, fused = span_models()
    set_span_attention(fused, mode)
    return fused


def padded_logits(model: Any, inputs: dict[str, torch.Tensor], **kwargs: Any) -> torch.Tensor:
    with torch.no_grad():
        result: torch.Tensor = model(**inputs, **kwargs).logits
    return result


def packed_logits(model: Any, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
    with torch.no_grad():
        return PackedSpanClassifier(model)(**inputs)


def real_spans(inputs: dict[str, torch.Tensor]) -> torch.Tensor:
    return (inputs["entity_position_ids"] != -1).any(dim=-1)


def test_allowed_attention_blocks() -> None:
    assert allowed_attention("full", 2, 4) is None
    one_way = allowed_attention("one-way", 2, 4)
    isolated = allowed_attention("isolated", 2, 4)
    assert one_way is not None
    assert isolated is not None
    assert one_way.int().tolist() == [[1, 1, 0, 0], [1, 1, 0, 0], [1, 1, 1, 1], [1, 1, 1, 1]]
    assert isolated.int().tolist() == [[1, 1, 0, 0], [1, 1, 0, 0], [1, 1, 1, 0], [1, 1, 0, 1]]


def test_inside_spans_see_only_their_own_words() -> None:
    positions = torch.tensor([[[1, 2, -1], [0, -1, -1], [-1, -1, -1]]])
    assert inside_words(positions, 4).int().tolist() == [
        [[0, 1, 1, 0], [1, 0, 0, 0], [1, 1, 1, 1]]  # a padding span keeps every word
    ]


def test_inside_span_state_reads_only_its_words() -> None:
    """With ``inside``, changing a word outside a span leaves the span's first-layer state as
    it was; under ``isolated`` it changes (the span reads every word)."""
    inputs = span_inputs()
    positions = inputs["entity_position_ids"][0, 0]
    words = range(int(inputs["attention_mask"][0].sum()))
    outside = max(set(words) - set(positions[positions >= 0].tolist()))
    changed = {**inputs, "input_ids": inputs["input_ids"].clone()}
    changed["input_ids"][0, outside] = changed["input_ids"][0, outside] % 97 + 3

    def first_layer_span(model: Any, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        with torch.no_grad():
            luke_inputs = {
                k: v for k, v in batch.items() if k not in ("entity_start_positions",
                                                             "entity_end_positions")
            }  # fmt: skip
            states = model.luke(**luke_inputs, output_hidden_states=True).entity_hidden_states[1]
        return states[0, 0]

    for mode, same in (("inside", True), ("isolated", False)):
        model = with_mode(mode).eval()
        before, after = first_layer_span(model, inputs), first_layer_span(model, changed)
        assert torch.allclose(before, after, atol=1e-6) is same, mode


def test_one_way_words_are_the_encoders_own() -> None:
    """With one-way attention the word states are those of the same model fed no spans."""
    model = with_mode("one-way")
    inputs = span_inputs()
    words = {k: inputs[k] for k in ("input_ids", "attention_mask")}
    spans = {k: v for k, v in inputs.items() if k.startswith("entity_")}
    with torch.no_grad():
        alone = model.luke(**words).last_hidden_state
        beside_spans = model.luke(**words, **spans).last_hidden_state
        full = copy.deepcopy(model)
        set_span_attention(full, "full")
        beside_spans_full = full.luke(**words, **spans).last_hidden_state
    real = inputs["attention_mask"].bool()
    torch.testing.assert_close(beside_spans[real], alone[real], **TOLERANCE)
    # Under LUKE's full attention the spans do change the words.
    assert not torch.allclose(beside_spans_full[real], alone[real], atol=1e-3)


def test_isolated_span_logits_do_not_depend_on_the_other_spans() -> None:
    model = with_mode("isolated")
    inputs = span_inputs()
    first_only = {k: v[:, :1] if k.startswith("entity_") else v for k, v in inputs.items()}
    together = packed_logits(model, inputs)[:, 0]
    alone = packed_logits(model, first_only)[:, 0]
    torch.testing.assert_close(together, alone, **TOLERANCE)
    one_way = with_mode("one-way")
    assert not torch.allclose(
        packed_logits(one_way, inputs)[:, 0], packed_logits(one_way, first_only)[:, 0], atol=1e-4
    )


@pytest.mark.parametrize("mode", ["one-way", "isolated", "inside"])
def test_every_forward_path_agrees(mode: str) -> None:
    """Fused SDPA, transformers' own attention code (with the restricted mask, reached through
    output_attentions) and packed inference give the same logits; they differ from full."""
    model = with_mode(mode)
    inputs = span_inputs()
    real = real_spans(inputs)
    fused = padded_logits(model, inputs)
    original_code = padded_logits(model, inputs, output_attentions=True)
    packed = packed_logits(model, inputs)
    torch.testing.assert_close(fused[real], original_code[real], **TOLERANCE)
    torch.testing.assert_close(packed[real], fused[real], **TOLERANCE)
    full = padded_logits(with_mode("full"), inputs)
    assert not torch.allclose(full[real], fused[real], atol=1e-3)


@pytest.mark.parametrize("mode", ["one-way", "isolated", "inside"])
def test_packed_training_gradients_match_the_padded_forward(mode: str) -> None:
    reference, packed_model = without_dropout(with_mode(mode)), without_dropout(with_mode(mode))
    assert assert_packed_training_matches(reference, packed_model).item() > 0


def test_mode_needs_the_fused_attention() -> None:
    original, _ = span_models()
    with pytest.raises(ValueError, match="fused attention"):
        set_span_attention(original, "one-way")
    assert span_attention_of(original.config) == "full"
    with pytest.raises(ValueError, match="must be one of"):
        set_span_attention(with_mode("full"), "sideways")


def test_pretrained_luke_keeps_full_attention_and_a_checkpoint_keeps_its_mode(
    tiny_luke: Path, tmp_path: Path
) -> None:
    from lukener.modeling.loading import load_span_model

    loaded = load_span_model(str(tiny_luke), labels=["PER", "LOC"])
    assert span_attention_of(loaded.model.config) == "full"
    set_span_attention(loaded.model, "isolated")
    loaded.model.save_pretrained(tmp_path)
    loaded.tokenizer.save_pretrained(tmp_path)
    again = load_span_model(str(tmp_path))
    assert span_attention_of(again.model.config) == "isolated"
    layers = [m for m in again.model.modules() if hasattr(m, "span_attention")]
    assert layers
    assert all(m.span_attention == "isolated" for m in layers)
    with pytest.raises(LukenerError, match="fused attention"):
        load_span_model(str(tmp_path), fused_attention=False)
    config = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**config, "span_attention": "sideways"}))
    with pytest.raises(LukenerError, match=r"config\.json: span_attention must be one of"):
        load_span_model(str(tmp_path))


@pytest.mark.parametrize("mode", ["one-way", "inside"])
def test_onnx_graph_applies_the_mode(mode: str, tmp_path: Path) -> None:
    from lukener.modeling.onnx_export import OnnxSpanClassifier, export_onnx

    model = with_mode(mode)
    inputs = span_inputs()
    assert export_onnx(model, inputs, tmp_path / "model.onnx") < 1e-4
    # Other word and span counts than the export's sample.
    # (rows 1 and 2 have 6 and 4 words, and at most 4 spans)
    other = {k: v[1:, :6] if k in ("input_ids", "attention_mask") else v[1:, :4]
             for k, v in inputs.items()}  # fmt: skip
    real = real_spans(other)
    graph = OnnxSpanClassifier(tmp_path / "model.onnx")(**other)
    torch.testing.assert_close(graph[real], packed_logits(model, other)[real], atol=1e-4, rtol=0)
    full = packed_logits(with_mode("full"), other)
    assert not torch.allclose(graph[real], full[real], atol=1e-3)
