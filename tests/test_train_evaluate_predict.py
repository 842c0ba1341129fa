"""`lukener train`, `evaluate` and `predict` end to end on tiny LUKE and mLUKE models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import jsonl_records


def test_overfit_tiny_luke_tags_its_training_tweets_back(trained_luke: Path) -> None:
    metrics = json.loads((trained_luke / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["micro"]["f1"] >= 0.9
    assert metrics["counts"]["gold"] >= 15
    assert set(metrics) == {"micro", "macro", "per_type", "counts"}


def test_output_is_a_plain_transformers_checkpoint(trained_luke: Path) -> None:
    from transformers import AutoTokenizer, LukeForEntitySpanClassification

    model = LukeForEntitySpanClassification.from_pretrained(trained_luke)
    tokenizer = AutoTokenizer.from_pretrained(trained_luke)
    assert model.config.id2label[0] == "O"
    assert "person" in model.config.label2id
    assert tokenizer.entity_mask_token_id == 2
    # naist-nlp/luke-ner's loading path: the LUKE tokenizer from the checkpoint's files, with
    # a finite maximum (the model's positions), not 1e30.
    from transformers import LukeTokenizer

    limit = model.config.max_position_embeddings - model.config.pad_token_id - 1
    naist = LukeTokenizer.from_pretrained(trained_luke)
    assert naist.model_max_length == tokenizer.model_max_length == limit
    saved = json.loads((trained_luke / "tokenizer_config.json").read_text(encoding="utf-8"))
    assert saved["model_max_length"] == limit
    settings = json.loads((trained_luke / "lukener.json").read_text(encoding="utf-8"))
    assert settings["encoding"]["max_entity_length"] == 64
    log = (trained_luke / "training_log.jsonl").read_text(encoding="utf-8").splitlines()
    assert any("eval_f1" in json.loads(line) for line in log)
    assert not (trained_luke / "checkpoints").exists()


def test_evaluate_equals_the_training_metrics(invoke, trained_luke, wnut_small, tmp_path) -> None:
    output = tmp_path / "metrics.json"
    result = invoke(
        "evaluate", "--checkpoint", trained_luke, "--data", wnut_small, "--output", output
    )
    assert result.exit_code == 0, result.output
    assert json.loads(output.read_text()) == json.loads((trained_luke / "metrics.json").read_text())
    assert "micro" in result.output
    assert "person" in result.output


def test_evaluate_reads_conll_gold(invoke, trained_luke, wnut_small, tmp_path) -> None:
    conll = tmp_path / "gold.conll"
    assert invoke("convert", wnut_small, conll).exit_code == 0
    from_jsonl, from_conll = tmp_path / "a.json", tmp_path / "b.json"
    assert (
        invoke(
            "evaluate", "--checkpoint", trained_luke, "--data", wnut_small, "--output", from_jsonl
        ).exit_code
        == 0
    )
    assert (
        invoke(
            "evaluate", "--checkpoint", trained_luke, "--data", conll, "--output", from_conll
        ).exit_code
        == 0
    )
    assert json.loads(from_jsonl.read_text()) == json.loads(from_conll.read_text())


def test_overrides_change_the_evaluation(invoke, trained_luke, wnut_small, tmp_path) -> None:
    output = tmp_path / "m.json"
    result = invoke(
        "evaluate", "--checkpoint", trained_luke, "--data", wnut_small,
        "--max-mention-length", "1", "--output", output,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    counts = json.loads(output.read_text())["counts"]
    assert counts["unencodable_gold"] > 0
    assert "cannot be encoded" in result.output


def test_predict_raw_english_from_stdin(invoke, trained_luke: Path) -> None:
    text = "Empire State Building is in New York .\n\nJustin Bieber sings ."
    result = invoke("predict", "--checkpoint", trained_luke, "-", input=text)
    assert result.exit_code == 0, result.output
    documents = [json.loads(line) for line in result.stdout.splitlines()]
    assert [len(d["examples"]) for d in documents] == [1, 1]
    for document in documents:
        for example in document["examples"]:
            for entity in example["entities"]:
                assert 0 <= entity["start"] < entity["end"] <= len(example["text"])
                assert 0.0 < entity["score"] <= 1.0


def test_predict_tags_known_tweets_like_their_gold(
    invoke, trained_luke, wnut_small, tmp_path
) -> None:
    output = tmp_path / "tagged.jsonl"
    result = invoke("predict", "--checkpoint", trained_luke, wnut_small, "--output", output)
    assert result.exit_code == 0, result.output
    predicted = {
        (e["id"], x["start"], x["end"], x["label"])
        for d in jsonl_records(output)
        for e in d["examples"]
        for x in e["entities"]
    }
    gold = {
        (e["id"], x["start"], x["end"], x["label"])
        for d in jsonl_records(wnut_small)
        for e in d["examples"]
        for x in e["entities"]
    }
    assert len(predicted & gold) >= 0.9 * len(gold)


def test_predict_raw_japanese_with_mluke(invoke, trained_mluke: Path, tmp_path) -> None:
    source = tmp_path / "ja.txt"
    source.write_text("東京都に住む田中です。明日は大阪へ行く。\n", encoding="utf-8")
    output = tmp_path / "ja.jsonl"
    result = invoke("predict", "--checkpoint", trained_mluke, source, "--output", output)
    assert result.exit_code == 0, result.output
    [document] = jsonl_records(output)
    assert [e["text"] for e in document["examples"]] == [
        "東京都に住む田中です。",
        "明日は大阪へ行く。",
    ]
    first = document["examples"][0]
    assert [first["text"][s:t] for s, t in first["word_positions"]][:3] == ["東", "京", "都"]


def test_predict_conll_output(invoke, trained_luke, wnut_small, tmp_path) -> None:
    output = tmp_path / "tagged.conll"
    result = invoke(
        "predict",
        "--checkpoint",
        trained_luke,
        wnut_small,
        "--output",
        output,
        "--output-format",
        "conll",
    )
    assert result.exit_code == 0, result.output
    back = tmp_path / "back.jsonl"
    assert invoke("convert", output, back).exit_code == 0
    assert sum(len(d["examples"]) for d in jsonl_records(back)) == 32


def test_prediction_streams(trained_luke: Path, wnut_small: Path) -> None:
    from lukener.data.documents import read_jsonl
    from lukener.modeling.loading import load_span_model
    from lukener.tasks.predictor import WINDOW_BATCHES, Predictor
    from lukener.tasks.run_options import RunOptions

    consumed = []

    def documents():
        for document in read_jsonl(wnut_small):
            consumed.append(document.id)
            yield document

    predictor = Predictor(
        load_span_model(str(trained_luke), device="cpu"), RunOptions(batch_size=1)
    )
    stream = predictor.predict(documents())
    first = next(stream)
    assert first.id == consumed[0]
    # Output comes once a window of chunks is full, long before the input's end.
    assert len(consumed) <= WINDOW_BATCHES + 1
    assert len(consumed) < 32
    assert len([first, *stream]) == 32


# Bad input -------------------------------------------------------------------------


def one_error_line(result) -> str:
    assert result.exit_code == 1, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def test_unknown_labels_at_evaluation(invoke, trained_luke, tmp_path) -> None:
    data = tmp_path / "odd.jsonl"
    data.write_text(
        json.dumps(
            {
                "id": "d",
                "examples": [
                    {
                        "id": "e",
                        "text": "Paris",
                        "entities": [{"start": 0, "end": 5, "label": "CITY"}],
                    }
                ],
            }
        )
        + "\n"
    )
    line = one_error_line(invoke("evaluate", "--checkpoint", trained_luke, "--data", data))
    assert line.startswith(f"error: {data}: labels CITY are not among the model's labels (company")


@pytest.mark.parametrize("command", ["evaluate", "predict"])
def test_checkpoint_directory_that_is_not_one(invoke, tmp_path, wnut_small, command) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    args = ["--data", wnut_small] if command == "evaluate" else [wnut_small]
    line = one_error_line(invoke(command, "--checkpoint", empty, *args))
    assert line == f"error: {empty}: not a checkpoint directory: it has no config.json"


def test_pretrained_encoder_without_span_head_is_refused_clearly(
    invoke, tiny_luke, wnut_small
) -> None:
    line = one_error_line(invoke("evaluate", "--checkpoint", tiny_luke, "--data", wnut_small))
    assert "non-entity label 0" in line or "labels" in line


def test_data_file_in_the_wrong_format(invoke, trained_luke, tmp_path) -> None:
    data = tmp_path / "data.jsonl"
    data.write_text("EU B-ORG\nrejects O\n")
    line = one_error_line(invoke("evaluate", "--checkpoint", trained_luke, "--data", data))
    assert line.startswith(f"error: {data}:1: broken JSON")
    data = tmp_path / "data.conll"
    data.write_text('{"id": "d", "examples": []}\n')
    line = one_error_line(invoke("evaluate", "--checkpoint", trained_luke, "--data", data))
    assert line.startswith(f"error: {data}:1: tag '[]}}' is not O nor a B-/I-/M-/E-/S-/L-/U-")


def test_existing_output_directory_is_refused(invoke, tiny_luke, wnut_small, tmp_path) -> None:
    output = tmp_path / "run"
    output.mkdir()
    (output / "keep.txt").write_text("mine")
    args = ["train", "--train", wnut_small, "--model", tiny_luke, "--output-dir", output]
    line = one_error_line(invoke(*args))
    assert "exists and is not empty; pass --overwrite" in line
    line = one_error_line(invoke(*args, "--overwrite"))
    assert "refusing to overwrite: lukener did not create this directory" in line
    assert (output / "keep.txt").read_text() == "mine"


def test_training_without_entities_is_refused(invoke, tiny_luke, tmp_path) -> None:
    data = tmp_path / "plain.jsonl"
    data.write_text(
        json.dumps({"id": "d", "examples": [{"id": "e", "text": "nothing here"}]}) + "\n"
    )
    line = one_error_line(
        invoke("train", "--train", data, "--model", tiny_luke, "--output-dir", tmp_path / "o")
    )
    assert line == f"error: {data}: the training data has no entities"


def test_batching_does_not_change_predictions(trained_luke: Path, wnut_small: Path) -> None:
    from lukener.data.documents import read_jsonl
    from lukener.modeling.loading import load_span_model
    from lukener.tasks.predictor import Predictor
    from lukener.tasks.run_options import RunOptions

    documents = list(read_jsonl(wnut_small))
    fused = load_span_model(str(trained_luke), device="cpu")
    plain = load_span_model(str(trained_luke), device="cpu", fused_attention=False)
    # The reference: transformers' own model, one chunk at a time.
    reference = Predictor(plain, RunOptions(batch_size=1))
    reference.forward = lambda **inputs: plain.model(**inputs).logits
    one_by_one = list(reference.predict(documents))
    budgeted = list(
        Predictor(fused, RunOptions(batch_size=64, max_batch_tokens=600)).predict(documents)
    )
    assert [d.id for d in budgeted] == [d.id for d in documents]

    def entities(predicted):
        return [
            (e.id, x.start, x.end, x.label)
            for d in predicted
            for e in d.examples
            for x in e.entities
        ]

    assert entities(budgeted) == entities(one_by_one)
    assert len(entities(budgeted)) > 10
    scores = [x.score for d in budgeted for e in d.examples for x in e.entities]
    reference = [x.score for d in one_by_one for e in d.examples for x in e.entities]
    assert scores == pytest.approx(reference, abs=1e-5)


# Inductor imports torch.utils.mkldnn, which uses a deprecated torch.jit decorator.
@pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated:DeprecationWarning")
def test_compiled_predictor_tags_alike(trained_luke: Path, wnut_small: Path) -> None:
    """``--compile``: torch.compile of the packed forward, one graph for all batch shapes."""
    from lukener.data.documents import read_jsonl
    from lukener.modeling.loading import load_span_model
    from lukener.modeling.packed_inference import PackedSpanClassifier
    from lukener.tasks.predictor import Predictor
    from lukener.tasks.run_options import RunOptions

    documents = list(read_jsonl(wnut_small))[:4]
    span_model = load_span_model(str(trained_luke), device="cpu")
    compiled = Predictor(span_model, RunOptions(compile_model=True, max_batch_tokens=300))
    assert not isinstance(compiled.forward, PackedSpanClassifier)  # the compiled wrapper

    def entities(predictor: Predictor) -> list[tuple[str, int, int, str, float]]:
        return [
            (e.id, x.start, x.end, x.label, x.score)
            for d in predictor.predict(documents)
            for e in d.examples
            for x in e.entities
        ]

    eager = entities(Predictor(span_model, RunOptions(max_batch_tokens=300)))
    tagged = entities(compiled)
    assert [x[:4] for x in tagged] == [x[:4] for x in eager]
    assert len(eager) > 3
    assert [x[4] for x in tagged] == pytest.approx([x[4] for x in eager], abs=1e-4)


def test_batch_limits_default_by_device(trained_luke: Path, monkeypatch) -> None:
    import math

    import torch

    from lukener.modeling.loading import load_span_model
    from lukener.modeling.span_model import SpanModel
    from lukener.tasks.predictor import (
        CPU_BATCH_SIZE,
        CPU_MAX_PADDING,
        GPU_BATCH_SIZE,
        GPU_BATCH_TOKENS,
        Predictor,
        cpu_batch_tokens,
    )
    from lukener.tasks.run_options import RunOptions

    span_model = load_span_model(str(trained_luke), device="cpu")
    on_cpu = Predictor(span_model)
    # The tiny model (2 x 32) does little work per token: the largest CPU budget.
    expected = cpu_batch_tokens(span_model.model.config)
    assert expected == 16384
    assert (on_cpu.max_padding, on_cpu.max_batch_tokens) == (CPU_MAX_PADDING, expected)
    assert on_cpu.batch_size == CPU_BATCH_SIZE == 32
    chosen = Predictor(span_model, RunOptions(max_padding=0.5, max_batch_tokens=99, batch_size=7))
    assert (chosen.max_padding, chosen.max_batch_tokens, chosen.batch_size) == (0.5, 99, 7)
    # On an accelerator only the (larger) token budget and batch size cut batches.
    monkeypatch.setattr(SpanModel, "device", property(lambda self: torch.device("cuda", 0)))
    on_gpu = Predictor(span_model)
    assert math.isinf(on_gpu.max_padding)
    assert (on_gpu.max_batch_tokens, on_gpu.batch_size) == (GPU_BATCH_TOKENS, GPU_BATCH_SIZE)
    assert GPU_BATCH_SIZE > CPU_BATCH_SIZE
    on_gpu_chosen = Predictor(span_model, RunOptions(batch_size=7))
    assert on_gpu_chosen.batch_size == 7


def test_head_learning_rate_applies_to_the_classifier_only(tiny_luke, wnut_small) -> None:
    from lukener.modeling.loading import load_span_model
    from lukener.tasks.optimizer import build_optimizer
    from lukener.tasks.train_options import Optimization

    span_model = load_span_model(str(tiny_luke), labels=["a", "b"], device="cpu")
    names = {id(p): n for n, p in span_model.model.named_parameters()}

    def rates(**extra) -> dict[str, tuple[float, float]]:
        optimization = Optimization(learning_rate=1e-5, **extra)
        optimizer = build_optimizer(span_model.model, optimization)
        return {
            names[id(p)]: (group["lr"], group["weight_decay"])
            for group in optimizer.param_groups
            for p in group["params"]
        }

    plain, headed = rates(), rates(head_learning_rate=1e-3)
    # One fused kernel per step on a CPU, as the Trainer's default optimizer.
    assert build_optimizer(span_model.model, Optimization()).defaults["fused"] is True
    assert set(plain) == set(names.values())  # every parameter is trained
    assert {lr for lr, _ in plain.values()} == {1e-5}
    assert headed["classifier.weight"] == (1e-3, 0.01)
    assert headed["classifier.bias"] == (1e-3, 0.0)
    others = {n: v for n, v in headed.items() if not n.startswith("classifier.")}
    assert {lr for lr, _ in others.values()} == {1e-5}
    assert others["luke.embeddings.LayerNorm.weight"][1] == 0.0
    assert others["luke.embeddings.word_embeddings.weight"][1] == 0.01
