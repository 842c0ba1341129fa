"""Packed inference gives transformers' span logits, with no padding in the products."""

from __future__ import annotations

from typing import Any

import pytest
import torch
import torch.nn.functional as F

from lukener.modeling.packed_inference import PackedSpanClassifier
from tests.luke_inputs import (
    ENTITIES,
    TOLERANCE,
    assert_packed_training_matches,
    span_inputs,
    span_models,
    without_dropout,
)


def reference_logits(model: Any, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
    with torch.no_grad():
        result: torch.Tensor = model(**inputs).logits
    return result


def real_spans(inputs: dict[str, torch.Tensor]) -> torch.Tensor:
    return (inputs["entity_position_ids"] != -1).any(dim=-1)


def assert_packed_equal(original: Any, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
    expected = reference_logits(original, inputs)
    with torch.no_grad():
        packed = PackedSpanClassifier(original)(**inputs)
    real = real_spans(inputs)
    assert packed.shape == expected.shape
    torch.testing.assert_close(packed[real], expected[real], **TOLERANCE)
    assert not packed[~real].any()
    return packed


def test_words_and_spans_padded_differently_per_input() -> None:
    original, _ = span_models()
    inputs = span_inputs()
    assert real_spans(inputs).sum(dim=1).tolist() == [ENTITIES, 4, 2]
    assert_packed_equal(original, inputs)


def test_same_logits_whichever_attention_the_model_has() -> None:
    original, fused = span_models()
    inputs = span_inputs()
    with torch.no_grad():
        torch.testing.assert_close(
            PackedSpanClassifier(fused)(**inputs), PackedSpanClassifier(original)(**inputs)
        )


def test_legacy_all_zero_entity_mask() -> None:
    original, _ = span_models()
    inputs = span_inputs()
    inputs["entity_attention_mask"] = torch.zeros_like(inputs["entity_attention_mask"])
    standard = reference_logits(original, span_inputs())
    legacy = assert_packed_equal(original, inputs)
    real = real_spans(inputs)
    assert not torch.allclose(legacy[real], standard[real], atol=1e-4)


def test_without_entity_aware_attention() -> None:
    original, _ = span_models(use_entity_aware_attention=False)
    assert not hasattr(original.luke.encoder.layer[0].attention.self, "e2e_query")
    assert_packed_equal(original, span_inputs())


def test_one_input_alone_as_in_a_batch() -> None:
    original, _ = span_models()
    inputs = span_inputs()
    # The second input has 6 words and 4 spans: unpadded, alone.
    alone = {
        name: value[1:2, :6] if name in ("input_ids", "attention_mask") else value[1:2, :4]
        for name, value in inputs.items()
    }
    with torch.no_grad():
        batched = PackedSpanClassifier(original)(**inputs)
        single = PackedSpanClassifier(original)(**alone)
    torch.testing.assert_close(single[0], batched[1, :4], **TOLERANCE)


def test_inputs_without_spans() -> None:
    original, _ = span_models()
    inputs = span_inputs()
    inputs["entity_position_ids"][2] = -1  # the third input: no span at all
    inputs["entity_attention_mask"][2] = 0
    assert real_spans(inputs).sum(dim=1).tolist() == [ENTITIES, 4, 0]
    assert_packed_equal(original, inputs)
    inputs["entity_position_ids"][:] = -1  # no span in the whole batch
    with torch.no_grad():
        logits = PackedSpanClassifier(original)(**inputs)
    assert logits.shape == (3, ENTITIES, 5)
    assert not logits.any()


def test_logits_follow_parameter_changes() -> None:
    original, _ = span_models()
    inputs = span_inputs()
    packed = PackedSpanClassifier(original)
    with torch.no_grad():
        before = packed(**inputs)
        original.luke.encoder.layer[0].attention.self.e2e_query.weight.mul_(1.5)
        original.luke.encoder.layer[1].attention.self.value.bias.add_(0.5)
        after = packed(**inputs)
    real = real_spans(inputs)
    assert not torch.allclose(after[real], before[real], atol=1e-4)
    torch.testing.assert_close(after[real], reference_logits(original, inputs)[real], **TOLERANCE)


def test_padding_only_in_attention(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every product runs over real tokens only; attention sees each input padded: without
    gradients as four blocks (word and span queries against word and span keys, the last
    layer's word queries only those the classifier reads), with gradients as one call over
    the widened heads."""
    from lukener.modeling import packed_inference

    original, _ = span_models()
    inputs = span_inputs()
    real_tokens = int(inputs["attention_mask"].sum()) + int(real_spans(inputs).sum())
    rows: list[int] = []
    linear, sdpa = F.linear, F.scaled_dot_product_attention
    blockwise = packed_inference._FLASH_WITH_LSE
    assert blockwise is not None
    widened_shapes: list[tuple[int, ...]] = []
    block_shapes: list[tuple[tuple[int, ...], tuple[int, ...]]] = []

    def counting_linear(x: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        rows.append(x.shape[:-1].numel())
        return linear(x, *args, **kwargs)

    def recording_sdpa(query: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        widened_shapes.append(tuple(query.shape))
        return sdpa(query, *args, **kwargs)

    def recording_blocks(query: torch.Tensor, key: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
        block_shapes.append((tuple(query.shape), tuple(key.shape)))
        return blockwise(query, key, *args, **kwargs)

    monkeypatch.setattr(F, "linear", counting_linear)
    monkeypatch.setattr(F, "scaled_dot_product_attention", recording_sdpa)
    monkeypatch.setattr(packed_inference, "_FLASH_WITH_LSE", recording_blocks)
    with torch.no_grad():
        PackedSpanClassifier(original)(**inputs)
    words, spans = inputs["input_ids"].shape[1], inputs["entity_ids"].shape[1]
    assert widened_shapes == []
    to_words, to_spans = (3, 4, words, 8), (3, 4, spans, 8)
    # Words read by the classifier, per input: those where a real span starts or ends.
    real = real_spans(inputs)
    read = max(
        len(set(inputs["entity_start_positions"][i][real[i]].tolist())
            | set(inputs["entity_end_positions"][i][real[i]].tolist()))
        for i in range(3)
    )  # fmt: skip
    assert read < words
    last_words = (3, 4, read, 8)
    assert block_shapes == [
        (to_words, to_words), (to_words, to_spans), (to_spans, to_words), (to_spans, to_spans),
        (last_words, to_words), (last_words, to_spans), (to_spans, to_words), (to_spans, to_spans),
    ]  # fmt: skip
    assert max(rows) == real_tokens
    assert inputs["input_ids"].numel() + inputs["entity_ids"].numel() > real_tokens

    rows.clear()
    block_shapes.clear()
    PackedSpanClassifier(original)(**inputs)  # gradients on: the widened heads
    assert block_shapes == []
    assert widened_shapes == [(3, 4, words + spans, 16)] * 2
    assert max(rows) == real_tokens


def test_blockwise_and_widened_attention_agree() -> None:
    """The two attention paths give the same logits, and each transformers'."""
    original, _ = span_models()
    inputs = span_inputs()
    packed = PackedSpanClassifier(original)
    with torch.no_grad():
        blockwise = packed(**inputs)
    widened = packed(**inputs).detach()
    real = real_spans(inputs)
    torch.testing.assert_close(blockwise[real], widened[real], **TOLERANCE)
    torch.testing.assert_close(widened[real], reference_logits(original, inputs)[real], **TOLERANCE)


def test_bf16_autocast_runs_close_to_fp32() -> None:
    original, _ = span_models()
    inputs = span_inputs()
    packed = PackedSpanClassifier(original)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        low = packed(**inputs)
    real = real_spans(inputs)
    expected = reference_logits(original, inputs)
    torch.testing.assert_close(low[real].float(), expected[real], atol=0.1, rtol=0.05)


@pytest.mark.parametrize("fused", [False, True])
def test_training_loss_and_every_gradient_match_transformers(fused: bool) -> None:
    """Packed training: the same loss and gradients as transformers' forward and backward
    (train mode, dropout off), within 1e-5 in fp32."""
    import copy

    models = span_models()
    reference = without_dropout(copy.deepcopy(models[0]))
    packed_model = without_dropout(copy.deepcopy(models[1] if fused else models[0]))
    loss = assert_packed_training_matches(reference, packed_model)
    assert loss.item() > 0


def test_training_dropout_applies() -> None:
    original, _ = span_models()
    model = original.train()
    inputs = span_inputs()
    first = PackedSpanClassifier(model)(**inputs)
    second = PackedSpanClassifier(model)(**inputs)
    real = real_spans(inputs)
    assert not torch.allclose(first[real], second[real])  # dropout on: two draws differ
    model.eval()
    with torch.no_grad():
        assert_packed_equal(model, inputs)
