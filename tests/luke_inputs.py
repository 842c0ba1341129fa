"""Small random LUKE span models and padded inputs for exactness tests."""

from __future__ import annotations

import copy
from typing import Any

import torch
from transformers import LukeConfig, LukeForEntitySpanClassification

from lukener.modeling.fused_attention import install_fused_attention

BATCH, WORDS, ENTITIES, MENTION = 3, 9, 6, 4
TOLERANCE = {"atol": 1e-5, "rtol": 0.0}


def make_config(**overrides: Any) -> LukeConfig:
    values: dict[str, Any] = {
        "vocab_size": 100,
        "entity_vocab_size": 4,
        "hidden_size": 32,
        "entity_emb_size": 16,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "intermediate_size": 64,
        "max_position_embeddings": 130,
        "type_vocab_size": 1,
        "use_entity_aware_attention": True,
        "num_labels": 5,
    }
    values.update(overrides)
    return LukeConfig(**values)


def span_models(**overrides: Any) -> tuple[Any, Any]:
    """A random span model and a deep copy of it with the fused attention installed."""
    torch.manual_seed(0)
    original = LukeForEntitySpanClassification(make_config(**overrides)).eval()
    fused = copy.deepcopy(original)
    assert install_fused_attention(fused) == original.config.num_hidden_layers
    return original, fused


def word_inputs() -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    input_ids = torch.randint(3, 100, (BATCH, WORDS), generator=generator)
    attention_mask = torch.ones(BATCH, WORDS, dtype=torch.long)
    for row, length in enumerate((WORDS, 6, 4)):
        attention_mask[row, length:] = 0
        input_ids[row, length:] = 1
    return {"input_ids": input_ids, "attention_mask": attention_mask}


def span_inputs() -> dict[str, torch.Tensor]:
    """Word and entity inputs, both padded, entity positions padded with -1."""
    inputs = word_inputs()
    generator = torch.Generator().manual_seed(2)
    entity_ids = torch.randint(1, 4, (BATCH, ENTITIES), generator=generator)
    entity_attention_mask = torch.ones(BATCH, ENTITIES, dtype=torch.long)
    entity_position_ids = torch.full((BATCH, ENTITIES, MENTION), -1, dtype=torch.long)
    starts = torch.zeros(BATCH, ENTITIES, dtype=torch.long)
    ends = torch.zeros(BATCH, ENTITIES, dtype=torch.long)
    for row, (words, spans) in enumerate(((WORDS, ENTITIES), (6, 4), (4, 2))):
        entity_attention_mask[row, spans:] = 0
        entity_ids[row, spans:] = 0
        for span in range(spans):
            start = int(torch.randint(1, words - 1, (1,), generator=generator))
            end = min(words - 1, start + span % MENTION)
            starts[row, span], ends[row, span] = start, end
            entity_position_ids[row, span, : end - start + 1] = torch.arange(start, end + 1)
    return inputs | {
        "entity_ids": entity_ids,
        "entity_attention_mask": entity_attention_mask,
        "entity_position_ids": entity_position_ids,
        "entity_start_positions": starts,
        "entity_end_positions": ends,
    }


def without_dropout(model: Any) -> Any:
    """``model`` in train mode with every dropout off (its computation is then exact)."""
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
    return model.train()


def assert_packed_training_matches(reference: Any, packed_model: Any) -> torch.Tensor:
    """Train-mode loss and every gradient of lukener's packed forward equal transformers'
    padded forward and backward on :func:`span_inputs` (pass both models with dropout
    off); returns the loss."""
    import torch.nn.functional as F

    from lukener.modeling.packed_inference import PackedSpanClassifier

    inputs = span_inputs()
    real = (inputs["entity_position_ids"] != -1).any(dim=-1)
    generator = torch.Generator().manual_seed(3)
    labels = torch.randint(0, reference.config.num_labels, real.shape, generator=generator)
    labels[~real] = -100

    expected = reference(**inputs, labels=labels).loss
    expected.backward()
    logits = PackedSpanClassifier(packed_model)(**inputs)
    loss = F.cross_entropy(logits.view(-1, logits.size(-1)), labels.view(-1))
    loss.backward()

    torch.testing.assert_close(loss, expected, **TOLERANCE)
    reference_grads = dict(reference.named_parameters())
    compared = 0
    for name, parameter in packed_model.named_parameters():
        twin = reference_grads.get(name)
        if twin is None or twin.grad is None:
            continue
        assert parameter.grad is not None, name
        torch.testing.assert_close(parameter.grad, twin.grad, **TOLERANCE, msg=name)
        compared += 1
    assert compared >= len(list(reference.parameters())) - 8
    return loss
