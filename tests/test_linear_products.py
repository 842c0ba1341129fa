"""Linear layers through oneDNN: the same products as torch's BLAS, chosen by measurement."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import torch
from torch import nn

from lukener.errors import LukenerError
from lukener.modeling import linear_products
from lukener.modeling.linear_products import (
    set_linear_products,
    use_linear_products,
)
from lukener.modeling.loading import load_span_model
from lukener.modeling.packed_inference import PackedSpanClassifier
from lukener.modeling.quantization import quantize_int8
from lukener.tasks.predictor import Predictor
from lukener.tasks.run_options import RunOptions
from tests.luke_inputs import (
    TOLERANCE,
    assert_packed_training_matches,
    span_inputs,
    span_models,
    without_dropout,
)

pytestmark = pytest.mark.skipif(
    linear_products._ONEDNN_LINEAR is None, reason="this torch build has no oneDNN linear"
)


def linear_classes(model: nn.Module) -> set[str]:
    return {type(m).__name__ for m in model.modules() if isinstance(m, nn.Linear)}


def test_packed_training_through_onednn_matches_transformers() -> None:
    """Loss and every gradient of the packed forward with oneDNN products equal
    transformers' forward and backward (BLAS products) within 1e-5, dropout off."""
    original, _ = span_models()
    reference = without_dropout(copy.deepcopy(original))
    model = without_dropout(copy.deepcopy(original))
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert set_linear_products(model, "onednn") == len(linears)
    assert linear_classes(model) == {"OneDnnLinear"}
    calls = {"n": 0}
    onednn = linear_products._ONEDNN_LINEAR

    def counted(*args: Any) -> Any:
        calls["n"] += 1
        return onednn(*args)

    linear_products._ONEDNN_LINEAR = counted
    try:
        assert_packed_training_matches(reference, model)
    finally:
        linear_products._ONEDNN_LINEAR = onednn
    layers = original.config.num_hidden_layers
    # forward, input and weight gradients of each layer's 9 linear layers, and the classifier
    assert calls["n"] >= 3 * 9 * layers


def test_inference_through_onednn_matches_and_follows_weight_changes() -> None:
    original, _ = span_models()
    model = copy.deepcopy(original)
    set_linear_products(model, "onednn")
    inputs = span_inputs()
    real = (inputs["entity_position_ids"] != -1).any(dim=-1)
    with torch.no_grad():
        torch.testing.assert_close(
            PackedSpanClassifier(model)(**inputs)[real],
            original(**inputs).logits[real],
            **TOLERANCE,
        )
        model.luke.encoder.layer[0].intermediate.dense.weight.mul_(1.5)
        original.luke.encoder.layer[0].intermediate.dense.weight.mul_(1.5)
        torch.testing.assert_close(
            PackedSpanClassifier(model)(**inputs)[real],
            original(**inputs).logits[real],
            **TOLERANCE,
        )


def test_other_dtypes_and_autocast_take_torchs_own_linear(monkeypatch: pytest.MonkeyPatch) -> None:
    layer = nn.Linear(8, 4)
    set_linear_products(layer, "onednn")

    def refuse(*args: Any) -> Any:
        raise AssertionError("oneDNN's fp32 product called")

    monkeypatch.setattr(linear_products, "_ONEDNN_LINEAR", refuse)
    x = torch.randn(3, 8)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert layer(x).dtype == torch.bfloat16
    assert layer.double()(x.double()).dtype == torch.float64
    assert layer.float()(torch.randn(0, 8)).shape == (0, 4)


def test_set_and_reset_keep_the_parameters_and_int8_still_quantizes() -> None:
    original, _ = span_models()
    model = copy.deepcopy(original)
    names = list(model.state_dict())
    set_linear_products(model, "onednn")
    assert list(model.state_dict()) == names
    quantized = quantize_int8(model)
    assert "OneDnnLinear" not in linear_classes(quantized)
    assert any(type(m).__module__.startswith("torch.ao.nn.quantized") for m in quantized.modules())
    assert linear_classes(model) == {"OneDnnLinear"}  # the original is left as it was
    set_linear_products(model, "blas")
    assert linear_classes(model) == {"Linear"}
    with pytest.raises(ValueError, match="onednn or blas"):
        set_linear_products(model, "fast")


@pytest.mark.parametrize("faster", [True, False])
def test_auto_takes_what_measures_faster(monkeypatch: pytest.MonkeyPatch, faster: bool) -> None:
    original, _ = span_models()
    measured: list[tuple[int, int]] = []

    def measure(in_features: int, out_features: int, rows: int) -> bool:
        measured.append((in_features, out_features))
        return faster

    monkeypatch.setattr(linear_products, "_measure", measure)
    monkeypatch.setattr(linear_products, "_measured", {})
    chosen = use_linear_products(original)
    assert chosen == ("onednn" if faster else "blas")
    assert linear_classes(original) == {"OneDnnLinear" if faster else "Linear"}
    config = original.config
    assert measured == [(config.hidden_size, config.intermediate_size)]
    use_linear_products(original)
    assert len(measured) == 1  # once per shape and thread count
    assert use_linear_products(original, "blas") == "blas"
    assert linear_classes(original) == {"Linear"}


def test_predict_and_train_take_the_option(
    invoke, tiny_luke, trained_luke, wnut_small, tmp_path, monkeypatch
) -> None:
    """``--linear-products`` reaches the model in predict and in train (and training's
    evaluation keeps training's choice); a wrong value is one clear error."""
    from lukener.modeling import forward_choice

    chosen: list[tuple[str, str]] = []
    original = forward_choice.use_linear_products

    def recording(model: Any, products: str = "auto") -> str:
        result = original(model, products)
        chosen.append((products, result))
        return result

    monkeypatch.setattr(forward_choice, "use_linear_products", recording)
    output = tmp_path / "out.jsonl"
    result = invoke(
        "predict", "--checkpoint", trained_luke, wnut_small, "--output", output,
        "--linear-products", "onednn",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert chosen == [("onednn", "onednn")]

    chosen.clear()
    result = invoke(
        "train", "--train", wnut_small, "--validation", wnut_small, "--model", tiny_luke,
        "--output-dir", tmp_path / "run", "--max-steps", "2", "--batch-size", "8",
        "--linear-products", "onednn",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    # The training's choice first, then each evaluation's Predictor keeps it.
    assert len(chosen) >= 2
    assert all(chosen_pair == ("onednn", "onednn") for chosen_pair in chosen)

    result = invoke(
        "predict", "--checkpoint", trained_luke, wnut_small, "--output",
        tmp_path / "other.jsonl", "--linear-products", "fast",
    )  # fmt: skip
    assert result.exit_code == 2  # refused by the parser, which names the values
    assert "'fast' is not one of 'auto', 'onednn', 'blas'" in result.output
    span_model = load_span_model(str(trained_luke), device="cpu")
    with pytest.raises(LukenerError, match="linear products must be one of auto, onednn, blas"):
        Predictor(span_model, RunOptions(linear_products="fast"))  # type: ignore[arg-type]


def test_row_counts_share_a_few_kernel_shapes(monkeypatch: pytest.MonkeyPatch) -> None:
    """oneDNN keeps a kernel per shape: rows go in blocks of 512, the last padded to a
    multiple of 64, so any row count makes at most 8 shapes, and the products stay exact,
    forward and backward."""
    shapes: set[tuple[int, ...]] = set()
    onednn = linear_products._ONEDNN_LINEAR

    def recording(x: torch.Tensor, *args: Any) -> Any:
        shapes.add(tuple(x.shape))
        return onednn(x, *args)

    monkeypatch.setattr(linear_products, "_ONEDNN_LINEAR", recording)
    plain = nn.Linear(16, 8)
    layer = copy.deepcopy(plain)
    set_linear_products(layer, "onednn")
    for rows in [*range(1, 130), 511, 512, 513, 1100, 2049]:
        x = torch.randn(rows, 16)
        with torch.no_grad():
            torch.testing.assert_close(layer(x), plain(x), **TOLERANCE)
    # 1-129 rows: one padded block; 511-2049: blocks of 512 and a padded rest of 1 or 76 rows
    assert shapes == {(64, 16), (128, 16), (192, 16), (512, 16)}
    for rows in (70, 1100):
        x = torch.randn(rows, 16, requires_grad=True)
        twin = x.detach().clone().requires_grad_()
        layer.zero_grad()
        plain.zero_grad()
        layer(x).square().sum().backward()
        plain(twin).square().sum().backward()
        torch.testing.assert_close(x.grad, twin.grad, **TOLERANCE)
        torch.testing.assert_close(layer.weight.grad, plain.weight.grad, atol=1e-4, rtol=1e-5)
        torch.testing.assert_close(layer.bias.grad, plain.bias.grad, atol=1e-4, rtol=1e-5)
