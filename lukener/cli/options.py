"""Options shared by the commands that run a model."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from lukener.inference import RunOptions

EntityAttentionMask = Annotated[
    str | None,
    typer.Option(
        help="standard, or legacy to reproduce the mask of the original LUKE training code "
        "(all zero for lite entity vocabularies; needed by mluke-large-lite-finetuned-conll-2003). "
        "Default: the checkpoint's.",
    ),
]
MaxEntityLength = Annotated[
    int | None,
    typer.Option(min=1, help="Spans per model input. Default: the checkpoint's (64)."),
]
MaxMentionLength = Annotated[
    int | None,
    typer.Option(min=1, help="Longest span in subwords. Default: the checkpoint's (16)."),
]
BatchSize = Annotated[int, typer.Option(min=1, help="Most model inputs (span chunks) per batch.")]
MaxBatchTokens = Annotated[
    int | None,
    typer.Option(
        min=1,
        help="Most padded tokens (words + spans) per batch; inputs are sorted by length. "
        "Default: 1024 on a CPU, 16384 on a GPU.",
    ),
]
MaxPadding = Annotated[
    float | None,
    typer.Option(
        min=0.0,
        help="Most padding per real token before a batch is cut (only attention computes "
        "it). Default: 1.0 on a CPU; no limit on a GPU, where fuller batches pay.",
    ),
]
Precision = Annotated[
    str, typer.Option(help="fp32, or bf16/fp16 autocast (for GPUs; bf16 also runs on CPUs).")
]
Compile = Annotated[bool, typer.Option("--compile", help="torch.compile the model first.")]
Nested = Annotated[
    bool, typer.Option("--nested", help="Keep overlapping entity spans (no greedy decoding).")
]
Device = Annotated[
    str | None, typer.Option(help="torch device, e.g. cpu or cuda:0. Default: cuda if present.")
]
NoSpace = Annotated[
    bool, typer.Option("--no-space", help="CoNLL input: join words without spaces (ja, zh).")
]


def run_options(
    batch_size: int,
    max_batch_tokens: int | None,
    nested: bool,
    precision: str,
    compile_model: bool,
    max_padding: float | None = None,
) -> RunOptions:
    from lukener.inference import RunOptions

    return RunOptions(batch_size, max_batch_tokens, nested, precision, compile_model, max_padding)


def overrides(
    entity_attention_mask: str | None,
    max_entity_length: int | None,
    max_mention_length: int | None,
) -> dict[str, object]:
    return {
        "entity_attention_mask": entity_attention_mask,
        "max_entity_length": max_entity_length,
        "max_mention_length": max_mention_length,
    }
