"""``lukener export``: a checkpoint as an ONNX graph, in a directory ``predict --onnx`` reads
(the graph beside the checkpoint's config, tokenizer and ``lukener.json``)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from lukener.data.documents import Document, Example
from lukener.errors import LukenerError
from lukener.files.output_directory import claimed_output_directory
from lukener.files.output_paths import checked_inside
from lukener.modeling.loading import load_span_model
from lukener.modeling.onnx_export import ONNX_FILE, TOLERANCE, export_onnx
from lukener.spans.encoding import SpanEncoder
from lukener.tasks.predictor import collator_for

FORMATS = ("onnx",)
# Checkpoint files copied beside the graph (the weights stay in the graph).
KEPT = ("config.json", "lukener.json", "tokenizer.json", "tokenizer_config.json",
        "special_tokens_map.json", "README.md")  # fmt: skip
SAMPLE = "Jane Smith met the Acme board in Berlin on Monday. Then she flew home."


@dataclass
class ExportResult:
    path: Path
    max_difference: float


def export_checkpoint(
    checkpoint: str, output_dir: Path, export_format: str = "onnx", overwrite: bool = False
) -> ExportResult:
    if export_format not in FORMATS:
        raise LukenerError(f"--format must be one of {', '.join(FORMATS)}")
    span_model = load_span_model(checkpoint, device="cpu", fused_attention=False)
    source = Path(checkpoint)
    # Checked before anything is written: a link out of the checkpoint is never copied.
    kept = [
        checked_inside(source / n, source, "checkpoint") for n in KEPT if (source / n).is_file()
    ]
    with claimed_output_directory(
        output_dir, [("CHECKPOINT", checkpoint)], overwrite, command="export"
    ):
        document = Document("sample", [Example("sample-0", SAMPLE)])
        chunks, _ = SpanEncoder(span_model.tokenizer, span_model.settings).encode_document(document)
        batch = {k: v for k, v in collator_for(span_model)(chunks).items() if k != "labels"}
        path = output_dir / ONNX_FILE
        difference = export_onnx(span_model.model, batch, path)
        if difference > TOLERANCE:
            path.unlink()
            raise LukenerError(
                f"the exported graph's logits differ from torch's by {difference:.2e}",
                output_dir,
            )
        for file in kept:
            shutil.copy2(file, output_dir / file.name)
        if not (output_dir / "tokenizer.json").exists():
            span_model.tokenizer.save_pretrained(str(output_dir))
        if not (output_dir / "config.json").exists():
            span_model.model.config.save_pretrained(str(output_dir))
    return ExportResult(path, difference)
