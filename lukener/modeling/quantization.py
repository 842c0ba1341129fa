"""int8 inference on CPUs: dynamic quantization of a model's linear layers.

Weights are stored as int8 with one scale per output channel, activations are quantized on
the fly (7 bits, as fbgemm needs to rule out int16 saturation on CPUs without VNNI), and
products run on the CPU's int8 kernels (fbgemm/onednn); embeddings, LayerNorms and attention
stay fp32. Not exact: F1 changes a little. One scale per output channel costs less F1 than
torch's default of one scale per tensor, and none of 8-bit activations, 7-bit weights or an
fp32 feed-forward did better where measured (bench/results/int8.md).

torch marks ``torch.ao.quantization`` deprecated in favour of torchao, whose CPU path is not
available in every build; the eager dynamic path is the one every CPU build of torch ships,
so it is used here, its deprecation warning silenced.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable
from typing import Any

import torch

from lukener.modeling.linear_products import set_linear_products

QUANTIZATIONS = ("none", "int8")


def quantize_int8(model: Any) -> Any:
    """A copy of ``model`` (in eval mode) with every ``nn.Linear`` dynamically quantized,
    one weight scale per output channel."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.filterwarnings("ignore", message=r".*quantized tensor creation functions")
        plain = copy.deepcopy(model).eval()
        set_linear_products(plain, "blas")  # quantize_dynamic knows nn.Linear only
        return torch.ao.quantization.quantize_dynamic(  # type: ignore[no-untyped-call]
            plain,
            {torch.nn.Linear: torch.ao.quantization.per_channel_dynamic_qconfig},
            dtype=torch.qint8,
        )


def quiet(forward: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
    """``forward`` without the deprecation notice torch's quantized kernels raise on every
    call (the deprecation is said once, in this module's docstring and the README)."""

    def call(*args: Any, **kwargs: Any) -> torch.Tensor:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r".*quantized tensor creation functions")
            return forward(*args, **kwargs)

    return call
