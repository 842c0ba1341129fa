"""Which forward computes a span model's logits: the one place that decides.

Prediction, evaluation, comparison, the Python API and training all ask here; each variant
is built in its own module and only wired up here:

- ``packed`` (packed_inference.py): products over real tokens only; without gradients on
  a CPU its attention goes block by block, with gradients by widened heads. Exact: logits,
  loss and gradients match transformers' forward within 1e-5 in fp32 (tests).
- ``padded``: transformers' own forward (with the fused attention of fused_attention.py
  when it is installed, also exact within 1e-5). Taken when transformers' LUKE layout is not
  the one the packed forward was written for (luke_layout.py), and in training where the
  Trainer must run the model itself (several processes, label smoothing, a custom loss).
- ``onnx`` (onnx_export.py): the exported fp32 graph in ONNX Runtime.
- ``int8`` (quantization.py): the packed forward over a copy whose linear layers are
  dynamically quantized; not exact (a small change in F1).
- linear products (linear_products.py): on a CPU, fp32, the linear layers multiply through
  oneDNN or torch's BLAS; the same arithmetic, ``auto`` takes whichever measures faster.
- ``compile``: ``torch.compile`` of the chosen forward, one graph for all batch shapes.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import torch

from lukener.errors import LukenerError
from lukener.modeling.linear_products import LINEAR_PRODUCTS, use_linear_products
from lukener.modeling.luke_layout import layout_problems, layout_report
from lukener.modeling.onnx_export import OnnxSpanClassifier
from lukener.modeling.packed_inference import PackedSpanClassifier
from lukener.modeling.quantization import QUANTIZATIONS, quantize_int8, quiet
from lukener.modeling.span_attention import span_attention_of
from lukener.modeling.span_model import SpanModel

__all__ = [
    "PRECISIONS",
    "ChosenForward",
    "PaddedSpanClassifier",
    "choose_inference_forward",
    "choose_training_forward",
]

PRECISIONS: dict[str, torch.dtype] = {
    "fp32": torch.float32,
    "bf16": torch.bfloat16,
    "fp16": torch.float16,
}
Forward = Callable[..., torch.Tensor]


class PaddedSpanClassifier:
    """transformers' padded forward of the model, called with the collator's batch."""

    def __init__(self, model: Any):
        self.model = model

    def __call__(self, **inputs: torch.Tensor) -> torch.Tensor:
        logits: torch.Tensor = self.model(**inputs).logits
        return logits


@dataclass(frozen=True)
class ChosenForward:
    """The forward that runs, the span model it runs (an int8 copy, for one), and why."""

    forward: Forward
    span_model: SpanModel
    variant: str
    # The linear products set on the model for a CPU run (None: not set, e.g. on a GPU).
    linear_products: str | None = None
    reasons: tuple[str, ...] = field(default_factory=tuple)

    def describe(self) -> str:
        """One line for a progress display or ``--verbose``."""
        products = f", {self.linear_products} products" if self.linear_products else ""
        why = f" ({'; '.join(self.reasons)})" if self.reasons else ""
        return f"{self.variant} forward{products}{why}"


def _check_choice(name: str, value: str, allowed: tuple[str, ...] | dict[str, Any]) -> None:
    if value not in allowed:
        raise LukenerError(f"{name} must be one of {', '.join(allowed)}, not {value!r}")


def choose_inference_forward(
    span_model: SpanModel,
    *,
    precision: str = "fp32",
    quantize: str = "none",
    linear_products: str = "auto",
    compile_model: bool = False,
    threads: int | None = None,
) -> ChosenForward:
    """The forward for prediction and evaluation (no gradients).

    Call after the CPU threads are set: ``auto`` linear products are measured at the
    current thread count. ``threads`` goes to ONNX Runtime.
    """
    _check_choice("precision", precision, PRECISIONS)
    _check_choice("quantize", quantize, QUANTIZATIONS)
    _check_choice("linear products", linear_products, LINEAR_PRODUCTS)
    on_cpu = span_model.device.type == "cpu"
    reasons: list[str] = []
    if quantize == "int8":
        if not on_cpu:
            raise LukenerError("--quantize int8 runs on the CPU only (pass --device cpu)")
        span_model = replace(span_model, model=quantize_int8(span_model.model))
    products = (
        use_linear_products(span_model.model, linear_products)
        if on_cpu and quantize == "none" and span_model.onnx_path is None
        else None
    )
    forward: Forward
    if span_model.onnx_path is not None:
        if quantize != "none" or compile_model or precision != "fp32":
            raise LukenerError("--onnx runs the exported fp32 graph as it is")
        return ChosenForward(
            OnnxSpanClassifier(span_model.onnx_path, threads), span_model, "onnx", None
        )
    problems = layout_problems(span_model.model)
    if problems:
        if span_attention_of(span_model.model.config) != "full":
            raise LukenerError(
                "this model's span attention needs lukener's own forward, which this "
                "transformers version's LUKE layout does not allow: " + layout_report(problems)
            )
        # Same results through transformers' own forward, only slower.
        warnings.warn(layout_report(problems), RuntimeWarning, stacklevel=3)
        forward, variant = PaddedSpanClassifier(span_model.model), "padded"
        reasons.append("transformers' LUKE layout is not the one the packed forward knows")
    else:
        forward, variant = PackedSpanClassifier(span_model.model), "packed"
    if quantize == "int8":
        forward, variant = quiet(forward), f"int8 {variant}"
    if compile_model:
        # Batches differ in shape by design: one graph for all of them.
        forward, variant = torch.compile(forward, dynamic=True), f"compiled {variant}"
    return ChosenForward(forward, span_model, variant, products, tuple(reasons))


TrainingVariant = Literal["packed", "padded"]


def choose_training_forward(
    span_model: SpanModel,
    device_type: str,
    packed: bool | None = None,
    linear_products: str = "auto",
) -> ChosenForward:
    """The forward of a training run on ``device_type``, set once for the whole run.

    ``packed`` None takes the faster where measured: packed on a CPU, where padding's
    products are most of the time, padded on a GPU, where they are cheap and the packing's
    gathers cost more. A LUKE layout the packed forward does not know keeps transformers'.
    The linear products are chosen on a CPU (at the training's thread count) and kept by
    the run's evaluations.
    """
    _check_choice("linear products", linear_products, LINEAR_PRODUCTS)
    reasons: list[str] = []
    if packed is None:
        packed = device_type == "cpu"
        reasons.append(f"the default on a {'CPU' if packed else 'GPU'}")
    if packed and layout_problems(span_model.model):
        packed = False
        reasons.append("transformers' LUKE layout is not the one the packed forward knows")
    products = (
        use_linear_products(span_model.model, linear_products) if device_type == "cpu" else "blas"
    )
    model = span_model.model
    forward: Forward = PackedSpanClassifier(model) if packed else PaddedSpanClassifier(model)
    variant: TrainingVariant = "packed" if packed else "padded"
    return ChosenForward(forward, span_model, variant, products, tuple(reasons))


def packed_training_applies(
    chosen: ChosenForward, model: Any, unwrapped: Any, custom_loss: bool
) -> bool:
    """Whether a training step may run the packed forward itself: the run chose it, and the
    Trainer needs nothing of its own (a wrapper that must run the forward to synchronise
    gradients across processes, label smoothing or a custom loss)."""
    return chosen.variant == "packed" and model is unwrapped and not custom_loss
