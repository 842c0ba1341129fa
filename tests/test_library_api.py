"""The Python API: lukener.load / Tagger / pipe / train / evaluate, on the CLI's code path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import lukener
from lukener.data.documents import Document, read_jsonl
from lukener.modeling.loading import load_span_model
from lukener.tasks.evaluation import evaluate_documents
from lukener.tasks.predictor import Predictor
from lukener.tasks.run_options import RunOptions


def tweets(wnut_small: Path, count: int) -> list[str]:
    return [d.examples[0].text for d in list(read_jsonl(wnut_small))[:count]]


def test_tagger_gives_character_offsets_and_agrees_with_predict(
    invoke, trained_luke, wnut_small, tmp_path
) -> None:
    text = "\n".join(tweets(wnut_small, 6))
    tagger = lukener.load(trained_luke, device="cpu")
    entities = tagger(text)
    assert entities, "the overfit model finds entities in its training tweets"
    for entity in entities:
        assert text[entity.start : entity.end] == entity.text
        assert entity.label in tagger.labels
        assert 0.0 < entity.score <= 1.0
    gold = {
        (e.label, d.examples[0].text[e.start : e.end])
        for d in list(read_jsonl(wnut_small))[:6]
        for e in d.examples[0].entities
    }
    assert {(e.label, e.text) for e in entities} & gold

    # The same text through `lukener predict`: the same entities at the same places.
    source = tmp_path / "text.txt"
    source.write_text(text, encoding="utf-8")
    output = tmp_path / "out.jsonl"
    result = invoke("predict", source, "--checkpoint", trained_luke, "--output", output)
    assert result.exit_code == 0, result.output
    from_cli = set()
    cursor = 0
    for line in output.read_text(encoding="utf-8").splitlines():
        for example in json.loads(line)["examples"]:
            offset = text.find(example["text"], cursor)
            cursor = offset + len(example["text"])
            for e in example["entities"]:
                from_cli.add((offset + e["start"], offset + e["end"], e["label"]))
    assert {(e.start, e.end, e.label) for e in entities} == from_cli


def test_pipe_streams_texts_and_documents_in_order(trained_luke, wnut_small) -> None:
    documents = list(read_jsonl(wnut_small))[:5]
    tagger = lukener.load(trained_luke, device="cpu")
    items: list[str | Document] = []
    for document in documents:
        items += [document.examples[0].text, document]
    out = list(tagger.pipe(items, batch_size=2))  # type: ignore[call-overload]
    assert [type(x) for x in out] == [list, Document] * 5
    expected = list(Predictor(load_span_model(str(trained_luke), device="cpu")).predict(documents))

    def entities(document: Document) -> list[tuple[str, int, int, str, float]]:
        return [
            (x.id, e.start, e.end, e.label, pytest.approx(e.score, abs=1e-4))
            for x in document.examples
            for e in x.entities
        ]

    # Batches differ (so scores may in the 6th decimal), entities do not.
    assert [entities(x) for x in out[1::2]] == [entities(d) for d in expected]
    # A text and its document give the same entities when the text is one sentence.
    for entities, document in zip(out[0::2], out[1::2], strict=True):
        if len(tagger._document(document.examples[0].text, "t")[0].examples) == 1:
            assert [(e.start, e.end, e.label) for e in entities] == [
                (e.start, e.end, e.label) for e in document.examples[0].entities
            ]


def test_load_takes_the_run_options_of_predict(trained_luke, wnut_small) -> None:
    text = "\n".join(tweets(wnut_small, 6))
    everything = lukener.load(trained_luke, device="cpu")(text)
    confident = lukener.load(trained_luke, device="cpu", threshold=0.9)(text)
    assert all(e.score >= 0.9 for e in confident)
    assert {(e.start, e.end) for e in confident} <= {(e.start, e.end) for e in everything}
    assert len(confident) < len(everything) or all(e.score >= 0.9 for e in everything)
    with pytest.raises(TypeError, match=r"unknown option.*bogus"):
        lukener.load(trained_luke, bogus=1)


def test_evaluate_keeps_a_taggers_options_unless_given(trained_luke, wnut_small) -> None:
    documents = list(read_jsonl(wnut_small))
    span_model = load_span_model(str(trained_luke), device="cpu")
    expected = {
        t: evaluate_documents(span_model, documents, run=RunOptions(threshold=t)).metrics
        for t in (0.0, 0.95)
    }
    assert expected[0.95].predicted < expected[0.0].predicted  # the threshold matters here
    confident = lukener.load(trained_luke, device="cpu", threshold=0.95)
    # Another run option given: the tagger's threshold stays.
    kept = lukener.evaluate(confident, wnut_small, batch_size=3)
    assert kept.metrics.to_json() == expected[0.95].to_json()
    replaced = lukener.evaluate(confident, wnut_small, threshold=0.0)
    assert replaced.metrics.to_json() == expected[0.0].to_json()
    # Encoding options apply to a loaded tagger as they do to a checkpoint path.
    shorter = lukener.evaluate(confident, wnut_small, max_mention_length=2)
    from_path = lukener.evaluate(trained_luke, wnut_small, max_mention_length=2, threshold=0.95)
    assert shorter.metrics.to_json() == from_path.metrics.to_json()
    assert shorter.metrics.unencodable_gold > kept.metrics.unencodable_gold


def test_a_sentence_longer_than_the_model_loses_no_span(trained_luke) -> None:
    words = ("Apple opened an office in London with Jane Smith and " * 60).split()
    text = " ".join(words)  # one sentence of ~600 words, far past the 512 subwords
    tagger = lukener.load(trained_luke, device="cpu")
    entities = tagger(text)
    for entity in entities:
        assert text[entity.start : entity.end] == entity.text
    span_model = tagger.span_model
    predictor = Predictor(span_model, RunOptions(device="cpu"))
    document, _ = tagger._document(text, "long")
    list(predictor.predict([document]))
    assert predictor.stats.windowed_sentences == 1
    # Every candidate span of the sentence was scored (none is lost past a cut).
    chunks, _ = predictor.encoder.encode_document(document)
    scored = [span for chunk in chunks for span in chunk.char_spans]
    assert len(scored) == len(set(scored)) == predictor.stats.candidate_spans
    last_word_start = text.rindex(" ") + 1
    assert any(start == last_word_start for start, _ in scored)


def test_thresholds_from_one_run_match_separate_runs(trained_luke, wnut_small) -> None:
    documents = list(read_jsonl(wnut_small))
    span_model = load_span_model(str(trained_luke), device="cpu")
    swept = evaluate_documents(span_model, documents, thresholds=[0.0, 0.6, 0.95])
    assert swept.by_threshold[0.0].to_json() == swept.metrics.to_json()
    for threshold in (0.6, 0.95):
        alone = evaluate_documents(span_model, documents, run=RunOptions(threshold=threshold))
        assert swept.by_threshold[threshold].to_json() == alone.metrics.to_json()
    predicted = [swept.by_threshold[t].predicted for t in (0.0, 0.6, 0.95)]
    assert predicted == sorted(predicted, reverse=True)


def test_evaluate_thresholds_on_the_command_line(invoke, trained_luke, wnut_small, tmp_path):
    output = tmp_path / "metrics.json"
    result = invoke(
        "evaluate", "--checkpoint", trained_luke, "--data", wnut_small,
        "--thresholds", "0.2,0.9", "--output", output,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "by threshold" in result.stderr  # tables go to stderr, data to stdout
    data = json.loads(output.read_text())
    assert set(data["by_threshold"]) == {"0.2", "0.9"}
    bad = invoke(
        "evaluate", "--checkpoint", trained_luke, "--data", wnut_small, "--thresholds", "2"
    )
    assert bad.exit_code == 1
    assert "--thresholds: 2.0 is outside [0, 1]" in bad.stderr


def test_train_and_evaluate_from_python(tiny_luke, wnut_small, tmp_path, invoke) -> None:
    result = lukener.train(
        train=str(wnut_small), validation=str(wnut_small), model=str(tiny_luke),
        output_dir=str(tmp_path / "run"), epochs=1, batch_size=8, learning_rate=5e-3,
        language="en",
    )  # fmt: skip
    assert result.global_steps > 0
    scored = lukener.evaluate(tmp_path / "run", wnut_small)
    cli = invoke(
        "evaluate", "--checkpoint", tmp_path / "run", "--data", wnut_small,
        "--output", tmp_path / "m.json",
    )  # fmt: skip
    assert cli.exit_code == 0, cli.output
    assert json.loads((tmp_path / "m.json").read_text()) == scored.metrics.to_json()
    documents = list(read_jsonl(wnut_small))
    assert lukener.evaluate(tmp_path / "run", documents).metrics.to_json() == (
        scored.metrics.to_json()
    )
    with pytest.raises(TypeError, match="unknown option"):
        lukener.train(train=wnut_small, model=tiny_luke, output_dir=tmp_path / "x", epoch=1)
