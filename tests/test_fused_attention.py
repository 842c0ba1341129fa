"""The fused LUKE self-attention matches transformers' ``LukeSelfAttention`` exactly."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from transformers import LukeForEntitySpanClassification, LukeModel
from transformers.models.luke.modeling_luke import LukeSelfAttention

from lukener.modeling.fused_attention import FusedLukeSelfAttention, install_fused_attention
from tests.luke_inputs import (
    BATCH,
    ENTITIES,
    TOLERANCE,
    WORDS,
    make_config,
    span_inputs,
    span_models,
    word_inputs,
)


@pytest.fixture
def sdpa_calls(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The ``dropout_p`` of every SDPA call: proves the fused path ran, and with what dropout."""
    calls: list[float] = []
    sdpa = F.scaled_dot_product_attention

    def spy(*args: Any, **kwargs: Any) -> torch.Tensor:
        calls.append(kwargs.get("dropout_p", 0.0))
        return sdpa(*args, **kwargs)

    monkeypatch.setattr(F, "scaled_dot_product_attention", spy)
    return calls


def logits(model: Any, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
    with torch.no_grad():
        result: torch.Tensor = model(**inputs).logits
    return result


def test_eval_with_word_and_entity_padding(sdpa_calls: list[float]) -> None:
    original, fused = span_models()
    inputs = span_inputs()
    expected = logits(original, inputs)
    assert sdpa_calls == []
    torch.testing.assert_close(logits(fused, inputs), expected, **TOLERANCE)
    assert sdpa_calls == [0.0, 0.0]


def test_legacy_all_zero_entity_mask(sdpa_calls: list[float]) -> None:
    original, fused = span_models()
    inputs = span_inputs()
    inputs["entity_attention_mask"] = torch.zeros_like(inputs["entity_attention_mask"])
    expected = logits(original, inputs)
    assert not torch.allclose(expected, logits(original, span_inputs()), atol=1e-4)
    torch.testing.assert_close(logits(fused, inputs), expected, **TOLERANCE)
    assert len(sdpa_calls) == 2


def test_training_logits_and_gradients(sdpa_calls: list[float]) -> None:
    original, fused = span_models(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    inputs = span_inputs()
    labels = torch.randint(0, 5, (BATCH, ENTITIES), generator=torch.Generator().manual_seed(3))
    outputs = []
    for model in (original, fused):
        model.train()
        output = model(**inputs, labels=labels)
        output.loss.backward()
        outputs.append(output)
    torch.testing.assert_close(outputs[1].logits, outputs[0].logits, **TOLERANCE)
    torch.testing.assert_close(outputs[1].loss, outputs[0].loss, **TOLERANCE)
    gradients = {name: p.grad for name, p in original.named_parameters() if p.grad is not None}
    fused_gradients = {name: p.grad for name, p in fused.named_parameters() if p.grad is not None}
    assert gradients.keys() == fused_gradients.keys()
    assert "luke.encoder.layer.0.attention.self.e2e_query.weight" in gradients
    for name, gradient in gradients.items():
        torch.testing.assert_close(fused_gradients[name], gradient, **TOLERANCE, msg=name)
    assert sdpa_calls == [0.0, 0.0]


def test_attention_dropout_only_in_training(sdpa_calls: list[float]) -> None:
    _, fused = span_models(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.25)
    inputs = span_inputs()
    logits(fused, inputs)
    fused.train()
    first, second = logits(fused, inputs), logits(fused, inputs)
    assert sdpa_calls == [0.0, 0.0, 0.25, 0.25, 0.25, 0.25]
    assert not torch.allclose(first, second)


def test_no_entities(sdpa_calls: list[float]) -> None:
    torch.manual_seed(0)
    original = LukeModel(make_config()).eval()
    fused = copy.deepcopy(original)
    assert install_fused_attention(fused) == 2
    inputs = word_inputs()
    with torch.no_grad():
        expected, actual = original(**inputs), fused(**inputs)
    assert actual.entity_last_hidden_state is None
    torch.testing.assert_close(actual.last_hidden_state, expected.last_hidden_state, **TOLERANCE)
    torch.testing.assert_close(actual.pooler_output, expected.pooler_output, **TOLERANCE)
    assert len(sdpa_calls) == 2


def test_without_entity_aware_attention(sdpa_calls: list[float]) -> None:
    original, fused = span_models(use_entity_aware_attention=False)
    assert not hasattr(original.luke.encoder.layer[0].attention.self, "e2e_query")
    inputs = span_inputs()
    torch.testing.assert_close(logits(fused, inputs), logits(original, inputs), **TOLERANCE)
    assert len(sdpa_calls) == 2


def test_output_attentions_falls_back_to_the_original(sdpa_calls: list[float]) -> None:
    original, fused = span_models()
    inputs = span_inputs()
    with torch.no_grad():
        expected = original(**inputs, output_attentions=True)
        actual = fused(**inputs, output_attentions=True)
    assert len(actual.attentions) == 2
    assert actual.attentions[0].shape == (BATCH, 4, WORDS + ENTITIES, WORDS + ENTITIES)
    for fused_weights, weights in zip(actual.attentions, expected.attentions, strict=True):
        torch.testing.assert_close(fused_weights, weights, **TOLERANCE)
    torch.testing.assert_close(actual.logits, expected.logits, **TOLERANCE)
    assert sdpa_calls == []


def test_arbitrary_additive_mask_on_one_module() -> None:
    original, _ = span_models()
    module = original.luke.encoder.layer[0].attention.self
    fused = copy.deepcopy(module)
    fused.__class__ = FusedLukeSelfAttention
    generator = torch.Generator().manual_seed(4)
    words = torch.randn(BATCH, WORDS, 32, generator=generator)
    entities = torch.randn(BATCH, ENTITIES, 32, generator=generator)
    size = WORDS + ENTITIES
    mask = torch.randn(BATCH, 1, size, size, generator=generator)
    mask[torch.rand(BATCH, 1, size, size, generator=generator) < 0.3] = torch.finfo(mask.dtype).min
    mask[0, 0, 2] = torch.finfo(mask.dtype).min
    with torch.no_grad():
        expected, actual = module(words, entities, mask), fused(words, entities, mask)
    assert len(actual) == 2
    torch.testing.assert_close(actual[0], expected[0], **TOLERANCE)
    torch.testing.assert_close(actual[1], expected[1], **TOLERANCE)


def test_query_layer_hooks_still_run(sdpa_calls: list[float]) -> None:
    original, fused = span_models()

    def shift(module: torch.nn.Module, args: Any, output: torch.Tensor) -> torch.Tensor:
        return output + 0.5

    for model in (original, fused):
        for layer in model.luke.encoder.layer:
            layer.attention.self.w2e_query.register_forward_hook(shift)
            layer.attention.self.e2e_query.register_forward_hook(shift)
            layer.attention.self.value.register_forward_hook(shift)
    inputs = span_inputs()
    torch.testing.assert_close(logits(fused, inputs), logits(original, inputs), **TOLERANCE)
    assert len(sdpa_calls) == 2


def test_install_counts_and_is_idempotent() -> None:
    original, fused = span_models()
    assert type(original.luke.encoder.layer[0].attention.self) is LukeSelfAttention
    kinds = [type(m) for m in fused.modules() if isinstance(m, LukeSelfAttention)]
    assert kinds == [FusedLukeSelfAttention, FusedLukeSelfAttention]
    assert install_fused_attention(fused) == 0
    assert install_fused_attention(fused.luke) == 0
    assert install_fused_attention(copy.deepcopy(original.luke)) == 2
    inputs = span_inputs()
    torch.testing.assert_close(logits(fused, inputs), logits(original, inputs), **TOLERANCE)


def test_save_and_reload_keeps_the_checkpoint(tmp_path: Path) -> None:
    original, fused = span_models()
    fused.save_pretrained(tmp_path)
    reloaded = LukeForEntitySpanClassification.from_pretrained(tmp_path).eval()
    expected = original.state_dict()
    state = reloaded.state_dict()
    assert list(fused.state_dict()) == list(expected)
    assert list(state) == list(expected)
    for name, tensor in expected.items():
        assert torch.equal(state[name], tensor), name
    inputs = span_inputs()
    assert install_fused_attention(reloaded) == 2
    torch.testing.assert_close(logits(reloaded, inputs), logits(original, inputs), **TOLERANCE)
