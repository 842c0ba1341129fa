"""Options shared by the commands that run a model."""

from __future__ import annotations

from typing import Annotated

import typer

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
BatchSize = Annotated[int, typer.Option(min=1, help="Model inputs (span chunks) per batch.")]
Nested = Annotated[
    bool, typer.Option("--nested", help="Keep overlapping entity spans (no greedy decoding).")
]
Device = Annotated[
    str | None, typer.Option(help="torch device, e.g. cpu or cuda:0. Default: cuda if present.")
]
NoSpace = Annotated[
    bool, typer.Option("--no-space", help="CoNLL input: join words without spaces (ja, zh).")
]


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
