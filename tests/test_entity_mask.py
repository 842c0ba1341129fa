"""The mLUKE quirk: the `legacy` entity attention mask (issue #166 / PR #172 of LUKE)."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from lukener.data.documents import read_jsonl
from lukener.modeling.loading import load_span_model
from lukener.spans.encoding import SpanEncoder
from lukener.tasks.predictor import collator_for
from tests.tiny_models import build_checkpoint


def logits_for(span_model, golden, legacy: bool, zero_mask: bool = False) -> torch.Tensor:
    settings = dataclasses.replace(
        span_model.settings, entity_attention_mask="legacy" if legacy else "standard"
    )
    model = dataclasses.replace(span_model, settings=settings)
    document = next(read_jsonl(golden / "iob1_adjacent.jsonl"))
    chunks, _ = SpanEncoder(model.tokenizer, settings).encode_document(document)
    batch = collator_for(model)(chunks)
    if zero_mask:
        batch["entity_attention_mask"] = torch.zeros_like(batch["entity_attention_mask"])
    model.model.eval()
    with torch.no_grad():
        return model.model(**batch).logits


@pytest.fixture(scope="module")
def lite_model(tmp_path_factory, mluke_tokenizer):
    path = build_checkpoint(tmp_path_factory.mktemp("lite"), mluke_tokenizer, ["LOC", "PER"])
    return load_span_model(str(path), device="cpu")


@pytest.fixture(scope="module")
def full_model(tmp_path_factory, luke_tokenizer):
    path = build_checkpoint(tmp_path_factory.mktemp("full"), luke_tokenizer, ["LOC", "PER"])
    return load_span_model(str(path), device="cpu")


def test_lite_vocabulary_legacy_equals_an_all_zero_mask(lite_model, golden) -> None:
    assert lite_model.entity_mask_id == 0
    legacy = logits_for(lite_model, golden, legacy=True)
    zero = logits_for(lite_model, golden, legacy=False, zero_mask=True)
    standard = logits_for(lite_model, golden, legacy=False)
    assert torch.equal(legacy, zero)
    assert not torch.allclose(legacy, standard, atol=1e-4)


def test_full_vocabulary_legacy_equals_standard(full_model, golden) -> None:
    assert full_model.entity_mask_id == 2
    assert torch.equal(
        logits_for(full_model, golden, legacy=True), logits_for(full_model, golden, legacy=False)
    )
