"""`lukener export --format onnx` and `predict --onnx`: the graph gives torch's logits."""

from __future__ import annotations

import json

import torch

from lukener.data.documents import read_jsonl
from lukener.modeling.loading import load_span_model
from lukener.modeling.onnx_export import OnnxSpanClassifier
from lukener.spans.encoding import SpanEncoder
from lukener.tasks.predictor import collator_for


def test_export_and_predict_with_onnx_runtime(invoke, trained_luke, wnut_small, tmp_path):
    exported = tmp_path / "onnx"
    result = invoke("export", trained_luke, exported)
    assert result.exit_code == 0, result.output
    assert "model.onnx written" in result.stderr
    for name in ("model.onnx", "config.json", "lukener.json", "tokenizer.json"):
        assert (exported / name).is_file(), name
    assert not (exported / "model.safetensors").exists()

    # Other batch, word and span sizes than the export's sample: the same logits as torch.
    span_model = load_span_model(str(trained_luke), device="cpu", fused_attention=False)
    encoder = SpanEncoder(span_model.tokenizer, span_model.settings)
    documents = list(read_jsonl(wnut_small))
    graph = OnnxSpanClassifier(exported / "model.onnx")
    for part in (documents[:3], documents[5:17]):
        chunks = [c for d in part for c in encoder.encode_document(d)[0]]
        batch = {k: v for k, v in collator_for(span_model)(chunks).items() if k != "labels"}
        with torch.no_grad():
            expected = span_model.model.eval()(**batch).logits
        real = (batch["entity_position_ids"] != -1).any(dim=-1)
        torch.testing.assert_close(graph(**batch)[real], expected[real], atol=1e-4, rtol=0)

    outputs = {}
    for name, extra in (("torch", []), ("onnx", ["--onnx"])):
        checkpoint = exported if extra else trained_luke
        output = tmp_path / f"{name}.jsonl"
        result = invoke(
            "predict", wnut_small, "--checkpoint", checkpoint, "--output", output, *extra
        )
        assert result.exit_code == 0, result.output
        outputs[name] = [
            [(e["start"], e["end"], e["label"]) for x in json.loads(line)["examples"]
             for e in x["entities"]]
            for line in output.read_text().splitlines()
        ]  # fmt: skip
    assert outputs["onnx"] == outputs["torch"]
    assert any(outputs["onnx"])


def test_onnx_needs_an_export_and_export_keeps_foreign_files(invoke, trained_luke, tmp_path):
    result = invoke("predict", "-", "--checkpoint", trained_luke, "--onnx", input="Hello.\n")
    assert result.exit_code == 1
    assert "no model.onnx here: export the checkpoint first" in result.stderr
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep")
    result = invoke("export", trained_luke, foreign, "--overwrite")
    assert result.exit_code == 1
    assert "lukener did not create this directory" in result.stderr
    assert (foreign / "notes.txt").read_text() == "keep"
