"""The Trainer's own switches (--trainer-arg), the encoding switches, the model card and
the hub upload (checked without the network)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

import lukener
from lukener.errors import LukenerError
from lukener.tasks.model_card import push_to_hub, upload_plan
from lukener.tasks.trainer_args import parse_trainer_args, training_arguments


def test_trainer_args_are_parsed_and_reach_training_arguments(tmp_path: Path) -> None:
    extra = parse_trainer_args(
        ["adam_beta2=0.999", "lr_scheduler_type=cosine", "label_smoothing_factor=0.1",
         "activation_checkpointing=true", "report_to=[\"none\"]"]
    )  # fmt: skip
    assert extra == {
        "adam_beta2": 0.999, "lr_scheduler_type": "cosine", "label_smoothing_factor": 0.1,
        "activation_checkpointing": True, "report_to": ["none"],
    }  # fmt: skip
    arguments = training_arguments({"output_dir": str(tmp_path), "adam_beta2": 0.98}, extra)
    assert arguments.adam_beta2 == 0.999
    assert str(arguments.lr_scheduler_type.value) == "cosine"
    assert arguments.activation_checkpointing is True


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("max_grad_nrom=1", "no setting 'max_grad_nrom' (did you mean max_grad_norm"),
        ("learning_rate=1e-3", "has its own flag, --learning-rate"),
        ("max_grad_norm=0", "has its own flag, --max-grad-norm"),
        ("remove_unused_columns=true", "set by lukener's span training"),
        ("no-equals", "is not KEY=VALUE"),
    ],
)
def test_bad_trainer_args_are_one_clear_error(item: str, message: str) -> None:
    with pytest.raises(LukenerError, match=re.escape(message)):
        parse_trainer_args([item])


def test_a_hub_token_is_never_taken_saved_or_echoed(
    invoke, tiny_luke, wnut_small, tmp_path
) -> None:
    """A token given as --trainer-arg is refused before any work: nothing can write it to
    the card, pickle it into training_args.bin or print it."""
    output = tmp_path / "run"
    result = invoke(
        "train", "--train", wnut_small, "--model", tiny_luke, "--output-dir", output,
        "--max-steps", "1", "--trainer-arg", "hub_token=hf_SECRET123",
        "--trainer-arg", "lr_scheduler_type=sideways",
    )  # fmt: skip
    assert result.exit_code == 1
    assert "hub_token is a secret" in result.stderr
    assert "HF_TOKEN" in result.stderr
    assert "hf_SECRET123" not in result.output
    assert not (output / "README.md").exists()
    assert not list(tmp_path.rglob("training_args.bin"))
    with pytest.raises(LukenerError, match="is a secret") as error:
        parse_trainer_args(["lr_scheduler_type=cosine", "hub_token=hf_SECRET123"])
    assert "hf_SECRET123" not in str(error.value)


def test_invalid_values_name_the_argument(tmp_path: Path) -> None:
    extra = parse_trainer_args(["lr_scheduler_type=sideways"])
    with pytest.raises(LukenerError, match="lr_scheduler_type='sideways'"):
        training_arguments({"output_dir": str(tmp_path)}, extra)


def test_train_writes_a_model_card_and_takes_the_switches(
    invoke, tiny_luke, wnut_small, tmp_path
) -> None:
    output = tmp_path / "run"
    result = invoke(
        "train", "--train", wnut_small, "--validation", wnut_small, "--model", tiny_luke,
        "--output-dir", output, "--epochs", "1", "--batch-size", "8",
        "--max-grad-norm", "0.5", "--trainer-arg", "lr_scheduler_type=cosine",
        "--no-document-context", "--no-span-chunking", "--language", "en",
        "--label-map", "company=organization", "--span-attention", "one-way",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    encoding = json.loads((output / "lukener.json").read_text())["encoding"]
    assert encoding["document_context"] is False
    assert encoding["span_chunking"] is False
    config = json.loads((output / "config.json").read_text())
    assert "organization" in config["label2id"]
    assert "company" not in config["label2id"]
    assert config["span_attention"] == "one-way"  # pretrained LUKE's "full", as asked
    card = (output / "README.md").read_text()
    header, body = card.split("---\n")[1], card.split("---\n", 2)[2]
    assert 'language:\n- "en"' in header
    assert "license: other" in header
    assert 'datasets:\n- "small.jsonl"' in header
    assert "- {type: f1, value:" in header
    assert "`organization`" in body
    assert "| gradient norm clipped to | `0.5` |" in body
    assert "| TrainingArguments.lr_scheduler_type | `cosine` |" in body
    assert "LukeForEntitySpanClassification.from_pretrained" in body
    assert "| span attention | `one-way` |" in body
    assert "transformers' own forward does not apply that" in body
    metrics = json.loads((output / "metrics.json").read_text())
    assert f"{100 * metrics['micro']['f1']:.2f} |" in body
    # The upload would send the model, tokenizer, settings and card, not lukener's
    # bookkeeping.
    plan = upload_plan(output)
    assert {"README.md", "config.json", "lukener.json", "model.safetensors"} <= set(plan)
    assert not any(name.startswith(".lukener") for name in plan)


def test_push_to_hub_uploads_the_plan(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "README.md").write_text("card")
    (tmp_path / ".lukener-output").write_text("")

    class FakeApi:
        def __init__(self) -> None:
            self.calls: list[tuple[str, dict[str, Any]]] = []

        def create_repo(self, **kwargs: Any) -> None:
            self.calls.append(("create_repo", kwargs))

        def upload_folder(self, **kwargs: Any) -> None:
            self.calls.append(("upload_folder", kwargs))

    api = FakeApi()
    files = push_to_hub(tmp_path, "me/ner", api=api)
    assert files == ["README.md", "config.json"]
    assert api.calls[0] == ("create_repo", {"repo_id": "me/ner", "exist_ok": True})
    assert api.calls[1][1]["allow_patterns"] == files
    assert api.calls[1][1]["repo_id"] == "me/ner"


def test_predict_overrides_document_context(invoke, trained_luke, wnut_small, tmp_path) -> None:
    result = invoke("predict", wnut_small, "--checkpoint", trained_luke, "--no-document-context")
    assert result.exit_code == 0, result.output
    assert invoke("predict", wnut_small, "--checkpoint", trained_luke,
                  "--document-context").exit_code == 0  # fmt: skip


def test_unknown_span_attention_is_one_clear_error(invoke, tiny_luke, wnut_small, tmp_path):
    result = invoke(
        "train", "--train", wnut_small, "--model", tiny_luke, "--output-dir", tmp_path / "x",
        "--span-attention", "sideways",
    )  # fmt: skip
    assert result.exit_code == 2  # the parser names the values
    assert "'sideways' is not one of 'full', 'one-way', 'isolated', 'inside'" in result.stderr
    assert not (tmp_path / "x").exists()
    with pytest.raises(LukenerError, match="--span-attention: span attention must be one of"):
        lukener.train(
            train=wnut_small, model=tiny_luke, output_dir=tmp_path / "y", max_steps=1,
            span_attention="sideways",
        )  # fmt: skip
    assert not (tmp_path / "y" / "config.json").exists()


@pytest.mark.parametrize("span_attention", ["full", "isolated", "inside"])
def test_packed_training_matches_the_padded_forward(
    invoke, tiny_luke, wnut_small, tmp_path, monkeypatch, span_attention
):
    """`lukener train` on a CPU runs the packed forward by default (and with
    --packed-forward); with dropout off, its losses step by step are transformers' padded
    forward's (whose fused attention applies the span attention)."""
    import shutil

    from lukener.modeling import packed_inference

    model = tmp_path / "no-dropout"
    shutil.copytree(tiny_luke, model)
    config = json.loads((model / "config.json").read_text())
    config.update(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    (model / "config.json").write_text(json.dumps(config))
    calls = {"n": 0}
    original = packed_inference.PackedSpanClassifier.__call__

    def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls["n"] += int(self.model.training)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(packed_inference.PackedSpanClassifier, "__call__", counted)
    losses = {}
    packed_flags = ["--packed-forward"] if span_attention == "full" else []
    for name, extra in (("packed", packed_flags), ("padded", ["--padded-forward"])):
        output = tmp_path / name
        result = invoke(
            "train", "--train", wnut_small, "--model", model, "--output-dir", output,
            "--max-steps", "4", "--batch-size", "8", "--learning-rate", "1e-3",
            "--logging-steps", "1", "--warmup-ratio", "0", "--span-attention", span_attention,
            *extra,
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        log = [json.loads(x) for x in (output / "training_log.jsonl").read_text().splitlines()]
        losses[name] = [entry["loss"] for entry in log if "loss" in entry]
        if name == "packed":
            assert calls["n"] == 4  # every training step went through the packed forward
            calls["n"] = 0
    assert calls["n"] == 0
    assert len(losses["packed"]) == 4
    assert losses["packed"] == pytest.approx(losses["padded"], abs=1e-4)


@pytest.fixture(scope="module")
def japanese_200(tmp_path_factory) -> Path:
    """200 documents of the Japanese corpus (text without spaces, each character a word),
    enough that the tiny SentencePiece model's merged pieces cross entity boundaries."""
    from lukener.data.convert import conll_to_documents
    from lukener.data.corpora import japanese_source
    from lukener.data.documents import write_jsonl
    from lukener.data.reading_options import ReadingOptions

    documents, _ = conll_to_documents(japanese_source(), ReadingOptions(no_space=True))
    path = tmp_path_factory.mktemp("ja200") / "train.jsonl"
    with path.open("w", encoding="utf-8") as stream:
        write_jsonl(stream, documents[:200])
    return path


def test_pretokenize_is_chosen_when_pieces_cross_entity_boundaries(
    tiny_mluke, japanese_200, tiny_luke, wnut_small
) -> None:
    """Japanese text without spaces (every character a word): SentencePiece pieces that
    merge characters across an entity's boundary leave it unencodable, so tokenizing word
    by word encodes more training entities and is chosen; English tweets keep the
    sentence-at-once default."""
    from lukener.data.documents import read_jsonl
    from lukener.modeling.loading import load_span_model
    from lukener.tasks.pretokenize_choice import unencodable_gold, with_chosen_pretokenize

    japanese = list(read_jsonl(japanese_200))
    raw = load_span_model(str(tiny_mluke), labels=["x"], device="cpu")
    chosen = with_chosen_pretokenize(raw, japanese)
    assert not raw.settings.pretokenize
    assert chosen.settings.pretokenize
    raw_missing, total = unencodable_gold(raw, japanese)
    word_missing, _ = unencodable_gold(chosen, japanese)
    assert word_missing < raw_missing <= total
    assert f"leaves {raw_missing} of the {total} training entities" in chosen.notes[-1]

    english = list(read_jsonl(wnut_small))
    luke = load_span_model(str(tiny_luke), labels=["x"], device="cpu")
    kept = with_chosen_pretokenize(luke, english)
    assert kept is luke
    assert not kept.settings.pretokenize


@pytest.mark.parametrize(("flags", "expected"), [([], True), (["--no-pretokenize"], False)])
def test_train_saves_the_chosen_pretokenize(
    invoke, tiny_mluke, japanese_200, tmp_path, flags, expected
) -> None:
    output = tmp_path / "run"
    result = invoke(
        "train", "--train", japanese_200, "--model", tiny_mluke, "--output-dir", output,
        "--max-steps", "1", "--batch-size", "8", *flags,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    settings = json.loads((output / "lukener.json").read_text())["encoding"]
    assert settings["pretokenize"] is expected
    assert ("--pretokenize chosen" in result.output) is expected
