"""`lukener export`: a checkpoint as an ONNX graph for ONNX Runtime."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .render import console, reports_user_errors

HELP = """Export a checkpoint as an ONNX graph, checked against torch's logits.

The graph is transformers' forward with entity inputs; batch, word and span dimensions are
dynamic.

The output directory holds model.onnx beside the checkpoint's config, tokenizer and
lukener.json; `lukener predict --onnx` and `evaluate --onnx` run it with ONNX Runtime.

Examples:

  lukener export runs/demo runs/demo-onnx

  lukener predict text.txt --checkpoint runs/demo-onnx --onnx
"""


@reports_user_errors
def export_command(
    checkpoint: Annotated[str, typer.Argument(help="Checkpoint directory or hub id.")],
    output_dir: Annotated[Path, typer.Argument(help="Directory to write.")],
    export_format: Annotated[str, typer.Option("--format", help="onnx.")] = "onnx",
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace what an earlier export wrote there.")
    ] = False,
) -> None:
    from lukener.tasks.export import export_checkpoint

    with console.status("exporting"):
        result = export_checkpoint(checkpoint, output_dir, export_format, overwrite)
    console.print(
        f"{result.path} written; ONNX Runtime logits within {result.max_difference:.1e} "
        "of torch's on a sample"
    )
