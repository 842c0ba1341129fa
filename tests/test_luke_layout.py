"""The one coupling to transformers' LUKE code: checked, and a changed layout falls back."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import torch
import transformers
from torch import nn

from lukener.modeling.fused_attention import FusedLukeSelfAttention, install_fused_attention
from lukener.modeling.luke_layout import (
    CHECKED_TRANSFORMERS_VERSIONS,
    layout_problems,
    layout_report,
)
from lukener.modeling.packed_inference import PackedSpanClassifier
from tests.luke_inputs import TOLERANCE, span_inputs, span_models


def test_installed_transformers_has_the_layout_the_fast_layers_use() -> None:
    """Fails loudly, naming what moved, when transformers reshapes LUKE's layers."""
    original, fused = span_models()
    for model in (original, fused):
        problems = layout_problems(model)
        assert not problems, layout_report(problems)


def test_checked_versions_are_written_down() -> None:
    assert CHECKED_TRANSFORMERS_VERSIONS
    assert all(version.count(".") == 2 for version in CHECKED_TRANSFORMERS_VERSIONS)
    assert transformers.__version__.split(".")[0] == CHECKED_TRANSFORMERS_VERSIONS[0][0]


def broken_models() -> dict[str, tuple[Any, str]]:
    original, _ = span_models()
    renamed = copy.deepcopy(original)
    del renamed.luke.encoder.layer[1].attention.self.w2e_query
    moved = copy.deepcopy(original)
    moved.luke.encoder.layer[0].intermediate = nn.Identity()
    no_classifier = copy.deepcopy(original)
    del no_classifier.classifier
    return {
        "renamed query": (renamed, "luke.encoder.layer.1.attention.self.w2e_query"),
        "other submodule": (moved, "luke.encoder.layer.0.intermediate is a Identity"),
        "no classifier": (no_classifier, "classifier is missing"),
    }


@pytest.mark.parametrize("case", ["renamed query", "other submodule", "no classifier"])
def test_a_changed_layout_is_named(case: str) -> None:
    model, expected = broken_models()[case]
    problems = layout_problems(model)
    assert any(expected in problem for problem in problems), problems
    report = layout_report(problems)
    assert transformers.__version__ in report
    assert CHECKED_TRANSFORMERS_VERSIONS[0] in report


def test_a_changed_forward_signature_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    from transformers.models.luke import modeling_luke

    original, _ = span_models()

    def forward(self: Any, hidden_states: Any, residual: Any) -> Any:
        raise AssertionError("not called")

    monkeypatch.setattr(modeling_luke.LukeSelfOutput, "forward", forward)
    problems = layout_problems(original)
    expected = (
        "LukeSelfOutput.forward takes (hidden_states, residual), "
        "expected (hidden_states, input_tensor)"
    )
    assert problems == [expected]


def test_fused_attention_is_not_installed_on_a_changed_layout() -> None:
    model, _ = broken_models()["renamed query"]
    assert install_fused_attention(model) == 0
    assert not any(isinstance(m, FusedLukeSelfAttention) for m in model.modules())


def test_predictor_falls_back_to_transformers_forward_with_a_warning(
    trained_luke, wnut_small, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lukener.data.documents import read_jsonl
    from lukener.modeling import forward_choice
    from lukener.modeling.loading import load_span_model
    from lukener.tasks.predictor import Predictor

    documents = list(read_jsonl(wnut_small))[:8]
    span_model = load_span_model(str(trained_luke), device="cpu")
    expected = [d.to_json() for d in Predictor(span_model).predict(documents)]
    monkeypatch.setattr(
        forward_choice,
        "layout_problems",
        lambda model: ["luke.encoder.layer.0.output is missing"],
    )
    with pytest.warns(RuntimeWarning, match="changed LUKE's layers: luke.encoder.layer.0"):
        predictor = Predictor(span_model)
    assert not isinstance(predictor.forward, PackedSpanClassifier)
    assert predictor.chosen_forward.variant == "padded"
    assert "LUKE layout" in predictor.chosen_forward.describe()
    training = forward_choice.choose_training_forward(span_model, "cpu")
    assert training.variant == "padded"  # the packed one was asked for by default, and refused
    found = [d.to_json() for d in predictor.predict(documents)]
    assert sum(len(x["entities"]) for d in expected for x in d["examples"]) > 0
    for got, want in zip(found, expected, strict=True):
        for got_example, want_example in zip(got["examples"], want["examples"], strict=True):
            spans = [(e["start"], e["end"], e["label"]) for e in got_example["entities"]]
            assert spans == [(e["start"], e["end"], e["label"]) for e in want_example["entities"]]
            for a, b in zip(got_example["entities"], want_example["entities"], strict=True):
                assert a["score"] == pytest.approx(b["score"], abs=1e-4)


def test_packed_inference_reads_the_model_through_the_layout() -> None:
    original, _ = span_models()
    inputs = span_inputs()
    with torch.no_grad():
        before = PackedSpanClassifier(original)(**inputs)
        # The layout gives the model's own layers: a change to them shows at once.
        original.classifier.bias.add_(1.0)
        after = PackedSpanClassifier(original)(**inputs)
    real = (inputs["entity_position_ids"] != -1).any(dim=-1)
    torch.testing.assert_close(after[real], before[real] + 1.0, **TOLERANCE)
