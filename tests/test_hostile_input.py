"""Input that used to be read silently wrong is now read right or refused in one line."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from lukener.data.label_map import LabelMap
from lukener.data.sources import read_documents
from lukener.errors import LukenerError


def entities(path: Path) -> list[list[tuple[str, str]]]:
    return [
        [(e.label, x.text[e.start : e.end]) for e in x.entities]
        for d in read_documents(path)
        for x in d.examples
    ]


def label_studio(path: Path, text: str, *spans: dict) -> Path:
    task = {"data": {"text": text}, "annotations": [{"result": [{"value": s} for s in spans]}]}
    path.write_text(json.dumps([task]), encoding="utf-8")
    return path


def test_label_studio_spans_are_checked_against_their_text(tmp_path: Path) -> None:
    wrong = label_studio(
        tmp_path / "wrong.json", "Hello Paris", {"start": 0, "end": 5, "text": "Paris",
                                                 "labels": ["LOC"]}
    )  # fmt: skip
    with pytest.raises(LukenerError, match="is 'Hello' in the text, not the span's own text"):
        read_documents(wrong)
    # UTF-16 offsets, as exports carry them after an emoji: converted, not misplaced.
    emoji = label_studio(
        tmp_path / "emoji.json", "🙂 Paris and 🙂 Rome",
        {"start": 3, "end": 8, "text": "Paris", "labels": ["LOC"]},
        {"start": 16, "end": 20, "text": "Rome", "labels": ["LOC"]},
    )  # fmt: skip
    assert entities(emoji) == [[("LOC", "Paris"), ("LOC", "Rome")]]
    plain = label_studio(
        tmp_path / "plain.json", "🙂 Paris", {"start": 2, "end": 7, "text": "Paris",
                                              "labels": ["LOC"]}
    )  # fmt: skip
    assert entities(plain) == [[("LOC", "Paris")]]


@pytest.fixture
def dataset_with(tmp_path: Path):
    import datasets

    def build(tags: list[list[int]]) -> str:
        names = ["O", "B-PER", "I-PER", "B-LOC"]
        features = datasets.Features(
            {
                "tokens": datasets.Sequence(datasets.Value("string")),
                "ner_tags": datasets.Sequence(datasets.ClassLabel(names=names)),
            }
        )
        rows = {"tokens": [["w"] * len(t) for t in tags], "ner_tags": tags}
        directory = tmp_path / "ds"
        datasets.Dataset.from_dict(rows, features=features).save_to_disk(str(directory))
        return str(directory)

    return build


def test_a_class_label_of_minus_one_is_no_label_not_the_last_name(dataset_with) -> None:
    with pytest.raises(LukenerError, match=r"row 0, token 2: tag id -1, datasets' 'no label'"):
        read_documents(dataset_with([[1, 2, -1, 3]]))


def test_the_non_entity_label_is_never_an_entity_label(
    invoke, tiny_luke, wnut_small, tmp_path
) -> None:
    with pytest.raises(LukenerError, match="maps to O, the name of the non-entity label"):
        LabelMap.parse("person=O")
    output = tmp_path / "run"
    result = invoke(
        "train", "--train", wnut_small, "--model", tiny_luke, "--output-dir", output,
        "--max-steps", "1", "--label-map", "person=NIL",
    )  # fmt: skip
    assert result.exit_code == 1
    assert "person=NIL" in result.stderr
    conll = tmp_path / "gold.conll"
    conll.write_text("Jane B-O\nleft O\n\nBob B-PER\n", encoding="utf-8")
    other = tmp_path / "other"
    result = invoke(
        "train", "--train", conll, "--model", tiny_luke, "--output-dir", other,
        "--max-steps", "1",
    )  # fmt: skip
    assert result.exit_code == 1
    assert "entities labelled O, the name of the non-entity label" in result.stderr
    assert not (other / "config.json").exists()


def test_a_checkpoint_file_is_written_whole_or_not_at_all(trained_luke, tmp_path) -> None:
    """metrics, log, settings and card go through atomic writes: a write that fails half-way
    leaves no partial file (and no temporary file) behind."""
    from types import SimpleNamespace

    from lukener.modeling.loading import load_span_model
    from lukener.tasks.run_checkpoints import LOG_FILE, save_checkpoint
    from lukener.tasks.train_options import TrainOptions

    span_model = load_span_model(str(trained_luke), device="cpu")
    output = tmp_path / "out"
    output.mkdir()
    trainer = SimpleNamespace(
        save_model=lambda directory: None,
        state=SimpleNamespace(log_history=[{"loss": 1.0}, {"loss": object()}]),
    )
    options = TrainOptions.of(train=tmp_path / "t.jsonl", model="m", output_dir=output)
    with pytest.raises(TypeError, match="not JSON serializable"):
        save_checkpoint(trainer, span_model, options, None)
    assert not (output / LOG_FILE).exists()
    assert not [p for p in output.iterdir() if p.name.startswith(f".{LOG_FILE}")]
    assert (output / "lukener.json").is_file()  # written before, whole


def test_a_hostile_settings_file_is_refused_at_once(invoke, trained_luke, wnut_small, tmp_path):
    """A lukener.json asking for unbounded work is refused before any is done."""
    import shutil
    import time

    checkpoint = tmp_path / "ck"
    shutil.copytree(trained_luke, checkpoint)
    settings_path = checkpoint / "lukener.json"
    saved = json.loads(settings_path.read_text(encoding="utf-8"))
    saved["encoding"] |= {"max_entity_length": 100_000_000, "max_mention_length": 400}
    settings_path.write_text(json.dumps(saved), encoding="utf-8")
    started = time.perf_counter()
    result = invoke("predict", wnut_small, "--checkpoint", checkpoint, "--output", tmp_path / "o")
    assert result.exit_code == 1
    assert "lukener.json: encoding: max-entity-length 100000000 is more than lukener takes" in (
        result.stderr
    )
    assert time.perf_counter() - started < 60
    assert not (tmp_path / "o").exists()
    assert invoke("predict", wnut_small, "--checkpoint", trained_luke, "--max-entity-length",
                  "5000").exit_code == 1  # fmt: skip


def test_a_one_megabyte_line_is_split_in_linear_time(wnut_small) -> None:
    """Sentence splitting of one long line finishes in bounded time (pysbd alone is
    quadratic: a 0.9 MB line ran past 600 s), its sentences in order and within the text."""
    import time

    from lukener.data.documents import read_jsonl
    from lukener.data.text_input import sentence_offsets

    tweets = [f"{x.text.rstrip('.!? ')}. " for d in read_jsonl(wnut_small) for x in d.examples]
    text = "".join(tweets * (1_000_000 // len("".join(tweets)) + 1))[:1_000_000]
    started = time.perf_counter()
    spans = sentence_offsets(text, no_space=False)
    assert time.perf_counter() - started < 60
    assert len(spans) > 1_000
    assert all(0 <= a < b <= c < d <= len(text) for (a, b), (c, d) in itertools.pairwise(spans))
    assert text[spans[-1][0] : spans[-1][1]] == text[spans[-1][0] :].strip()


def test_export_never_overwrites_a_training_run(invoke, trained_luke, tmp_path) -> None:
    """--overwrite replaces what the same command wrote: an export onto a `lukener train`
    directory (or a train onto an export) is refused, and nothing there is removed."""
    import shutil

    run = tmp_path / "run"
    shutil.copytree(trained_luke, run)
    before = sorted(p.name for p in run.iterdir())
    result = invoke("export", trained_luke, run, "--overwrite")
    assert result.exit_code == 1
    assert "holds the output of `lukener train`, not of `lukener export`" in result.stderr
    assert sorted(p.name for p in run.iterdir()) == before
    assert (run / "model.safetensors").is_file()


def test_checkpoint_links_out_of_it_are_never_copied_or_uploaded(
    invoke, trained_luke, tmp_path
) -> None:
    import shutil

    from lukener.tasks.model_card import upload_plan

    checkpoint = tmp_path / "ck"
    shutil.copytree(trained_luke, checkpoint)
    secret = tmp_path / "secret.txt"
    secret.write_text("not for the hub", encoding="utf-8")
    (checkpoint / "README.md").unlink()
    (checkpoint / "README.md").symlink_to(secret)
    with pytest.raises(LukenerError, match=r"README\.md leads out of the checkpoint"):
        upload_plan(checkpoint)
    result = invoke("export", checkpoint, tmp_path / "exported")
    assert result.exit_code == 1
    assert "README.md leads out of the checkpoint" in result.stderr
    assert not (tmp_path / "exported").exists()  # refused before anything was written
