"""One module picks the forward: what each command and the trainer run, and why."""

from __future__ import annotations

import pytest
import torch

from lukener.errors import LukenerError
from lukener.modeling.forward_choice import (
    PaddedSpanClassifier,
    choose_inference_forward,
    choose_training_forward,
)
from lukener.modeling.linear_products import OneDnnLinear
from lukener.modeling.loading import load_span_model
from lukener.modeling.packed_inference import PackedSpanClassifier


@pytest.fixture
def span_model(trained_luke):
    return load_span_model(str(trained_luke), device="cpu")


def test_inference_takes_the_packed_forward_and_says_so(span_model) -> None:
    chosen = choose_inference_forward(span_model, linear_products="blas")
    assert isinstance(chosen.forward, PackedSpanClassifier)
    assert chosen.forward.model is span_model.model
    assert (chosen.variant, chosen.linear_products) == ("packed", "blas")
    assert chosen.describe() == "packed forward, blas products"
    assert not any(isinstance(m, OneDnnLinear) for m in span_model.model.modules())


def test_int8_runs_a_quantized_copy(span_model) -> None:
    chosen = choose_inference_forward(span_model, quantize="int8")
    assert chosen.variant == "int8 packed"
    assert chosen.linear_products is None  # products are the int8 kernels'
    assert type(chosen.span_model.model.classifier) is not torch.nn.Linear
    assert type(span_model.model.classifier) is torch.nn.Linear  # the original is untouched


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"precision": "fp64"}, "precision must be one of fp32, bf16, fp16"),
        ({"quantize": "int4"}, "quantize must be one of none, int8"),
        ({"linear_products": "fast"}, "linear products must be one of auto, onednn, blas"),
    ],
)
def test_unknown_values_are_one_clear_error(span_model, settings, message) -> None:
    with pytest.raises(LukenerError, match=message):
        choose_inference_forward(span_model, **settings)


def test_training_forward_follows_the_device_unless_told(span_model) -> None:
    on_cpu = choose_training_forward(span_model, "cpu", linear_products="blas")
    assert on_cpu.variant == "packed"
    assert isinstance(on_cpu.forward, PackedSpanClassifier)
    assert "the default on a CPU" in on_cpu.describe()
    on_gpu = choose_training_forward(span_model, "cuda", linear_products="onednn")
    assert on_gpu.variant == "padded"
    assert isinstance(on_gpu.forward, PaddedSpanClassifier)
    assert on_gpu.linear_products == "blas"  # oneDNN products are a CPU matter
    asked = choose_training_forward(span_model, "cpu", packed=False, linear_products="blas")
    assert (asked.variant, asked.reasons) == ("padded", ())
