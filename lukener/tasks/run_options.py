"""How a model runs over documents: batches, precision, speed, decoding (see
``lukener.declared_options``). Light on purpose: no torch, so the command line builds its
flags without loading a model library."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, ClassVar, Literal

from lukener.declared_options import Option

Precision = Literal["fp32", "bf16", "fp16"]
Quantization = Literal["none", "int8"]
LinearProducts = Literal["auto", "onednn", "blas"]

SPEED_PANEL = "Speed"
DECODING_PANEL = "Decoding"


@dataclass(frozen=True)
class RunOptions:
    """How to run a model over documents (not how to encode them)."""

    PANEL: ClassVar[str] = "Batches and device"

    batch_size: Annotated[
        int | None,
        Option(
            "Most model inputs (span chunks) per batch. Default: 32 on a CPU, 256 on a GPU.", min=1
        ),
    ] = None
    max_batch_tokens: Annotated[
        int | None,
        Option(
            "Most padded tokens (words + spans) per batch; inputs are sorted by length. "
            "Default on a CPU: 1024 for a LUKE-base-sized model, more for smaller ones "
            "(up to 16384); 65536 on a GPU.",
            min=1,
        ),
    ] = None
    max_padding: Annotated[
        float | None,
        Option(
            "Most padding per real token before a batch is cut (only attention computes "
            "it). Default: 1.0 on a CPU; no limit on a GPU, where fuller batches pay.",
            min=0.0,
        ),
    ] = None
    precision: Annotated[
        Precision,
        Option(
            "fp32, or bf16/fp16 autocast (for GPUs; bf16 also runs on CPUs).", panel=SPEED_PANEL
        ),
    ] = "fp32"
    compile_model: Annotated[
        bool, Option("torch.compile the model first.", flags=("--compile",), panel=SPEED_PANEL)
    ] = False
    onnx: Annotated[
        bool,
        Option(
            "Run the checkpoint's exported model.onnx (lukener export) in ONNX Runtime.",
            panel=SPEED_PANEL,
        ),
    ] = False
    quantize: Annotated[
        Quantization,
        Option(
            "int8: dynamic int8 quantization of the linear layers (CPU only; faster, with a "
            "small F1 change).",
            panel=SPEED_PANEL,
        ),
    ] = "none"
    nested: Annotated[
        bool, Option("Keep overlapping entity spans (no greedy decoding).", panel=DECODING_PANEL)
    ] = False
    threshold: Annotated[
        float,
        Option(
            "Drop entity candidates scored (probability) below this, before decoding.",
            min=0.0,
            max=1.0,
            panel=DECODING_PANEL,
        ),
    ] = 0.0
    device: Annotated[
        str | None, Option("torch device, e.g. cpu or cuda:0. Default: cuda if present.")
    ] = None
    threads: Annotated[
        int | None,
        Option(
            "CPU threads. Default: the idle cores (all of them on an idle machine; fewer "
            "when other processes keep some busy).",
            min=1,
            panel=SPEED_PANEL,
        ),
    ] = None
    linear_products: Annotated[
        LinearProducts,
        Option(
            "How the linear layers multiply on a CPU (fp32): auto (oneDNN where it measures "
            "clearly faster than torch's BLAS for this model's shape on this CPU, else BLAS), "
            "onednn, or blas.",
            panel=SPEED_PANEL,
        ),
    ] = "auto"
