"""The linear layers' matrix products on a CPU: torch's BLAS, or oneDNN where it is faster.

torch multiplies fp32 matrices on a CPU through its BLAS library (Intel MKL in the x86
wheels), and MKL does not use every CPU's widest instructions; oneDNN, bundled with torch as
well, may. Which is faster depends on the CPU, the thread count and the product's shape, so
nothing is assumed: :func:`use_linear_products` times both on the model's own feed-forward
product, once per shape and thread count in a process, and swaps the model's ``nn.Linear``
layers to :class:`OneDnnLinear` only when oneDNN is clearly faster
(bench/results/throughput.md has the measurements).

:class:`OneDnnLinear` is an ``nn.Linear`` (same parameters and state dict) whose forward and
backward products run through oneDNN: the same three products as ``F.linear``'s forward and
backward (input gradient, weight gradient, bias gradient), on fp32 CPU tensors, the same
arithmetic (its error against float64 is of the order of BLAS's). Anything else (autocast,
another dtype or device, tracing, ONNX export, torch.compile) takes ``nn.Linear``'s own
forward.

oneDNN compiles and keeps a kernel for every shape it meets, and packed batches have a
different number of rows each, so a process's memory would grow with every new row count.
So the rows go through in blocks of :data:`BLOCK_ROWS`, the last block padded with zero rows
to a multiple of :data:`ROW_STEP`: eight shapes per product whatever the batches, at most 63
extra rows (a zero row adds nothing to the weight gradient's sum either).
"""

from __future__ import annotations

import time
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "LINEAR_PRODUCTS",
    "OneDnnLinear",
    "auto_linear_products",
    "onednn_is_faster",
    "set_linear_products",
    "use_linear_products",
]

LINEAR_PRODUCTS = ("auto", "onednn", "blas")
# oneDNN's linear product (x @ weight.T + bias), a private torch op (torch.compile's CPU
# backend uses it); absent from a build, BLAS serves.
_ONEDNN_LINEAR = getattr(torch.ops.mkldnn, "_linear_pointwise", None)
# oneDNN must beat BLAS by this factor to be chosen: a tie keeps torch's default.
_MARGIN = 1.1
_measured: dict[tuple[int, int, int], bool] = {}
ROW_STEP = 64
BLOCK_ROWS = 512


def _call(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    assert _ONEDNN_LINEAR is not None
    result: torch.Tensor = _ONEDNN_LINEAR(x, weight, bias, "none", [], "")
    return result


def _blocks(x: torch.Tensor) -> list[torch.Tensor]:
    """``x``'s rows (2-D) in blocks of :data:`BLOCK_ROWS`, the last padded with zero rows to
    a multiple of :data:`ROW_STEP`."""
    blocks = list(torch.split(x, BLOCK_ROWS))
    last = blocks[-1]
    rows = -(-last.size(0) // ROW_STEP) * ROW_STEP
    if rows != last.size(0):
        padded = last.new_zeros((rows, last.size(1)))
        padded[: last.size(0)] = last
        blocks[-1] = padded
    return blocks


def _onednn(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """``x @ weight.T + bias`` for 2-D ``x``, block by block (see above)."""
    parts = [_call(block, weight, bias) for block in _blocks(x)]
    return (parts[0] if len(parts) == 1 else torch.cat(parts))[: x.size(0)]


def _onednn_weight_gradient(grad: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """``grad.T @ rows``, summed block by block over the rows."""
    total: torch.Tensor | None = None
    for grad_block, block in zip(_blocks(grad), _blocks(rows), strict=True):
        part = _call(grad_block.t(), block.t(), None)
        total = part if total is None else total.add_(part)
    assert total is not None
    return total


class _OneDnnProducts(torch.autograd.Function):
    """``F.linear`` with its forward and backward products through oneDNN."""

    @staticmethod
    def forward(
        ctx: Any, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None
    ) -> torch.Tensor:
        rows = x.reshape(-1, x.size(-1))
        ctx.save_for_backward(rows, weight)
        ctx.input_shape = x.shape
        ctx.has_bias = bias is not None
        return _onednn(rows, weight, bias).view(*x.shape[:-1], weight.size(0))

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> Any:
        rows, weight = ctx.saved_tensors
        grad_rows = grad.reshape(-1, grad.size(-1))
        grad_input = grad_weight = grad_bias = None
        if ctx.needs_input_grad[0]:  # grad @ weight: weight.T's transpose is weight
            grad_input = _onednn(grad_rows, weight.t(), None).view(ctx.input_shape)
        if ctx.needs_input_grad[1]:
            grad_weight = _onednn_weight_gradient(grad_rows, rows)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_bias = grad_rows.sum(dim=0)
        return grad_input, grad_weight, grad_bias


def _onednn_applies(x: torch.Tensor, weight: torch.Tensor) -> bool:
    return (
        _ONEDNN_LINEAR is not None
        and x.device.type == "cpu"
        and x.dtype == torch.float32
        and weight.dtype == torch.float32
        and x.numel() > 0
        and not torch.is_autocast_enabled("cpu")
        and not torch.jit.is_tracing()  # type: ignore[attr-defined,no-untyped-call]
        and not torch.onnx.is_in_onnx_export()
        and not torch.compiler.is_compiling()
    )


class OneDnnLinear(nn.Linear):
    """``nn.Linear`` computing its products through oneDNN (fp32 on a CPU); installed by
    swapping ``__class__`` (:func:`set_linear_products`)."""

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if not _onednn_applies(input, self.weight):
            return super().forward(input)
        if not torch.is_grad_enabled() or not (
            input.requires_grad or any(p.requires_grad for p in self.parameters())
        ):
            rows = input.reshape(-1, input.size(-1))
            return _onednn(rows, self.weight, self.bias).view(*input.shape[:-1], -1)
        result: torch.Tensor = _OneDnnProducts.apply(input, self.weight, self.bias)  # type: ignore[no-untyped-call]
        return result


def set_linear_products(model: nn.Module, products: str) -> int:
    """Make ``model``'s plain linear layers compute through ``products`` (``onednn`` or
    ``blas``); returns how many layers now do."""
    if products not in ("onednn", "blas"):
        raise ValueError(f"linear products must be onednn or blas, not {products!r}")
    if products == "onednn" and _ONEDNN_LINEAR is None:
        raise ValueError("this torch build has no oneDNN linear product")
    source, target = (
        (nn.Linear, OneDnnLinear) if products == "onednn" else (OneDnnLinear, nn.Linear)
    )
    count = 0
    for module in model.modules():
        if type(module) in (source, target):
            module.__class__ = target
            count += 1
    return count


def _best_seconds(run: Any, rounds: int = 3, calls: int = 2) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(calls):
            run()
        best = min(best, time.perf_counter() - started)
    return best


def onednn_is_faster(in_features: int, out_features: int) -> bool:
    """Whether oneDNN's product of a block of rows (:data:`BLOCK_ROWS`, the shape it runs
    at) by an ``in_features`` x ``out_features`` weight beats BLAS's by :data:`_MARGIN` here,
    at torch's current thread count (measured once per process for each shape and thread
    count; tens of ms)."""
    key = (in_features, out_features, torch.get_num_threads())
    if key not in _measured:
        _measured[key] = _ONEDNN_LINEAR is not None and _measure(
            in_features, out_features, BLOCK_ROWS
        )
    return _measured[key]


def _measure(in_features: int, out_features: int, rows: int) -> bool:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(rows, in_features, generator=generator)
    weight = torch.randn(out_features, in_features, generator=generator)
    bias = torch.randn(out_features, generator=generator)
    with torch.no_grad():
        try:
            _onednn(x, weight, bias)  # warm-up: the kernels are made on first use
        except RuntimeError:
            return False
        F.linear(x, weight, bias)
        blas = _best_seconds(lambda: F.linear(x, weight, bias))
        onednn = _best_seconds(lambda: _onednn(x, weight, bias))
    return onednn * _MARGIN < blas


def use_linear_products(model: nn.Module, products: str = "auto") -> str:
    """Set ``model``'s linear products for a CPU run and say which: ``auto`` measures the
    model's feed-forward product (hidden x intermediate size) and takes oneDNN only when it
    is clearly faster on this CPU (the value is checked where the forward is chosen, and
    :func:`set_linear_products` refuses any other)."""
    if products == "auto":
        products = auto_linear_products(getattr(model, "config", None))
    set_linear_products(model, products)
    return products


def auto_linear_products(config: Any) -> str:
    """What ``auto`` takes for a model of this config here: ``onednn`` when its
    feed-forward product (hidden x intermediate size) measures clearly faster, else
    ``blas``."""
    hidden = int(getattr(config, "hidden_size", 0) or 0)
    intermediate = int(getattr(config, "intermediate_size", 0) or 4 * hidden)
    return "onednn" if hidden > 0 and onednn_is_faster(hidden, intermediate) else "blas"
