"""Every tag format users bring: BMES, CLUENER/spaCy/Label Studio span JSON, Hugging Face
datasets, and --label-map over all of them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lukener.data.documents import read_jsonl
from lukener.data.label_map import LabelMap
from lukener.data.reading_options import ReadingOptions
from lukener.data.schemes import WordSpan, detect_scheme, spans_to_tags, tags_to_spans
from lukener.data.sources import input_kind, read_documents
from lukener.errors import LukenerError


def entity_texts(path: Path) -> list[tuple[str, str]]:
    return [
        (e.label, x.text[e.start : e.end])
        for d in read_jsonl(path)
        for x in d.examples
        for e in x.entities
    ]


# BMES -----------------------------------------------------------------------------------


BMES_ROWS = "中 B-LOC\n国 E-LOC\n的 O\n张 B-PER\n小 M-PER\n明 E-PER\n在 O\n京 S-LOC\n\n"


def test_bmes_is_detected_and_decoded(invoke, tmp_path: Path) -> None:
    sentences = [[row.split()[1] for row in BMES_ROWS.strip().splitlines()]]
    assert detect_scheme(sentences) == "bmes"
    spans, repairs = tags_to_spans(sentences[0], "bmes")
    assert spans == [WordSpan(0, 2, "LOC"), WordSpan(3, 6, "PER"), WordSpan(7, 8, "LOC")]
    assert repairs == []
    assert spans_to_tags(spans, 8, "bmes") == sentences[0]
    source = tmp_path / "msra.bmes"
    source.write_text(BMES_ROWS, encoding="utf-8")
    output = tmp_path / "out.jsonl"
    result = invoke("convert", source, output, "--language", "zh")
    assert result.exit_code == 0, result.output
    assert "BMES (detected)" in result.stderr
    assert entity_texts(output) == [("LOC", "中国"), ("PER", "张小明"), ("LOC", "京")]
    back = tmp_path / "back.conll"
    assert invoke("convert", output, back, "--scheme", "bmeo").exit_code == 0
    assert back.read_text(encoding="utf-8").split() == BMES_ROWS.split()


def test_bmeo_lone_b_is_a_one_word_entity_counted_as_a_repair() -> None:
    spans, repairs = tags_to_spans(["B-PER", "O", "B-LOC", "M-LOC", "E-LOC"], "bmes")
    assert spans == [WordSpan(0, 1, "PER"), WordSpan(2, 5, "LOC")]
    assert repairs == [0]


def test_i_tags_in_bmes_are_an_error() -> None:
    with pytest.raises(ValueError, match="outside the BMES scheme"):
        tags_to_spans(["B-PER", "I-PER"], "bmes")


# Span JSON ------------------------------------------------------------------------------


def write_lines(path: Path, records: list[object]) -> Path:
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n")
    return path


CLUENER = [
    {"text": "浙商银行企业信贷部叶老桂博士", "label": {"name": {"叶老桂": [[9, 11]]},
                                          "company": {"浙商银行": [[0, 3]]}}},
    {"text": "生生不息CSOL生化狂潮让你填弹狂扫", "label": {"game": {"CSOL": [[4, 7]]}}},
]  # fmt: skip


def test_cluener_json_converts_with_inclusive_ends(invoke, tmp_path: Path) -> None:
    source = write_lines(tmp_path / "cluener.json", CLUENER)
    assert input_kind(source) == "span-json"
    output = tmp_path / "out.jsonl"
    result = invoke("convert", source, output)
    assert result.exit_code == 0, result.output
    assert sorted(entity_texts(output)) == [
        ("company", "浙商银行"), ("game", "CSOL"), ("name", "叶老桂"),
    ]  # fmt: skip
    example = next(read_jsonl(output)).examples[0]
    assert all(end - start == 1 for start, end in example.word_spans())  # character words


def test_cluener_mention_that_does_not_match_the_text_names_the_line(invoke, tmp_path) -> None:
    bad = [CLUENER[0], {"text": "北京欢迎你", "label": {"address": {"上海": [[0, 1]]}}}]
    source = write_lines(tmp_path / "bad.json", bad)
    result = invoke("convert", source, tmp_path / "out.jsonl")
    assert result.exit_code == 1
    assert f"{source}:2: label 'address': text[0:2] is '北京', not the mention '上海'" in (
        result.stderr
    )
    assert not (tmp_path / "out.jsonl").exists()


TEXT = "Jane Smith visited New York."


@pytest.mark.parametrize(
    "record",
    [
        {"text": TEXT, "entities": [[0, 10, "PER"], [19, 27, "LOC"]]},
        [TEXT, {"entities": [[0, 10, "PER"], [19, 27, "LOC"]]}],
        {"text": TEXT, "ents": [{"start": 0, "end": 10, "label": "PER"},
                                {"start": 19, "end": 27, "label": "LOC"}]},
        {"text": TEXT, "label": [{"start": 0, "end": 10, "text": "Jane Smith", "labels": ["PER"]},
                                 {"start": 19, "end": 27, "labels": ["LOC"]}]},
    ],
    ids=["spacy-dict", "spacy-tuple", "spacy-doc-json", "label-studio-min"],
)  # fmt: skip
def test_span_json_lines_layouts(record: object, tmp_path: Path) -> None:
    source = write_lines(tmp_path / "spans.jsonl", [record, record])
    documents = read_documents(source)
    assert len(documents) == 2
    example = documents[0].examples[0]
    assert [(e.label, example.text[e.start : e.end]) for e in example.entities] == [
        ("PER", "Jane Smith"), ("LOC", "New York"),
    ]  # fmt: skip
    assert example.words() == ["Jane", "Smith", "visited", "New", "York", "."]


def test_label_studio_export_array(tmp_path: Path) -> None:
    tasks = [
        {
            "id": 1,
            "data": {"text": "Acme hired Bob."},
            "annotations": [
                {"was_cancelled": True, "result": []},
                {"result": [
                    {"type": "labels", "value": {"start": 0, "end": 4, "labels": ["ORG"]}},
                    {"type": "labels", "value": {"start": 11, "end": 14, "labels": ["PER"]}},
                ]},
            ],
        },
        {"id": 2, "data": {"text": "Nothing here."}, "annotations": [{"result": []}]},
    ]  # fmt: skip
    source = tmp_path / "export.json"
    source.write_text(json.dumps(tasks, indent=2))
    documents = read_documents(source)
    assert [[(e.label, x.text[e.start : e.end]) for e in x.entities] for d in documents
            for x in d.examples] == [[("ORG", "Acme"), ("PER", "Bob")], []]  # fmt: skip


def test_entity_inside_a_word_cuts_the_word(tmp_path: Path) -> None:
    source = write_lines(
        tmp_path / "s.jsonl", [{"text": "iPhone15 sold", "entities": [[0, 6, "PRODUCT"]]}]
    )
    example = read_documents(source)[0].examples[0]
    assert example.words() == ["iPhone", "15", "sold"]


def test_span_outside_the_text_names_the_line(tmp_path: Path) -> None:
    source = write_lines(tmp_path / "s.jsonl", [{"text": "abc", "entities": [[1, 9, "X"]]}])
    with pytest.raises(LukenerError, match=r"s.jsonl:1: entity 'X' \[1, 9\) is outside"):
        read_documents(source)


# Label map ------------------------------------------------------------------------------


def test_label_map_renames_merges_and_drops() -> None:
    mapping = LabelMap.parse("PER=person, ORG=group,GPE=group ,MISC=-")
    assert mapping.labels(["PER", "ORG", "GPE", "MISC", "LOC"]) == ["person", "group", "LOC"]
    for bad, message in (("PER", "not OLD=NEW"), ("PER=a,PER=b", "mapped twice"), ("=x", "not")):
        with pytest.raises(LukenerError, match=message):
            LabelMap.parse(bad)


def test_convert_and_evaluate_take_a_label_map(invoke, trained_luke, wnut_small, tmp_path):
    output = tmp_path / "mapped.jsonl"
    result = invoke("convert", wnut_small, tmp_path / "x.conll")
    assert result.exit_code == 0
    result = invoke("convert", tmp_path / "x.conll", output, "--label-map", "person=PER,company=-")
    assert result.exit_code == 0, result.output
    labels = {label for label, _ in entity_texts(output)}
    assert "PER" in labels
    assert not labels & {"person", "company"}
    # Evaluate: gold and predictions go through the same map, so dropping a type
    # removes it from both sides.
    plain = tmp_path / "plain.json"
    dropped = tmp_path / "dropped.json"
    base = ["evaluate", "--checkpoint", trained_luke, "--data", wnut_small]
    assert invoke(*base, "--output", plain).exit_code == 0
    result = invoke(*base, "--output", dropped, "--label-map", "person=-")
    assert result.exit_code == 0, result.output
    plain_scores, dropped_scores = (json.loads(p.read_text()) for p in (plain, dropped))
    assert "person" in plain_scores["per_type"]
    assert "person" not in dropped_scores["per_type"]
    person = plain_scores["per_type"]["person"]
    assert dropped_scores["counts"]["gold"] == plain_scores["counts"]["gold"] - person["gold"]


# Hugging Face datasets ------------------------------------------------------------------


@pytest.fixture
def ner_dataset(tmp_path: Path) -> Path:
    import datasets

    names = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
    features = datasets.Features(
        {
            "tokens": datasets.Sequence(datasets.Value("string")),
            "ner_tags": datasets.Sequence(datasets.ClassLabel(names=names)),
        }
    )
    rows = {
        "tokens": [["-DOCSTART-"], ["Jane", "Smith", "left"], ["to", "New", "York"],
                   ["-DOCSTART-"], ["Bob", "stayed"]],
        "ner_tags": [[0], [1, 2, 0], [0, 3, 4], [0], [1, 0]],
    }  # fmt: skip
    train = datasets.Dataset.from_dict(rows, features=features)
    test = datasets.Dataset.from_dict(
        {"tokens": [["Paris", "is", "big"]], "ner_tags": [[3, 0, 0]]}, features=features
    )
    directory = tmp_path / "ds"
    datasets.DatasetDict({"train": train, "test": test}).save_to_disk(str(directory))
    train.to_parquet(str(tmp_path / "train.parquet"))
    return directory


def test_dataset_directory_split_and_documents(ner_dataset: Path, invoke, tmp_path) -> None:
    documents = read_documents(f"{ner_dataset}:train")
    assert [len(d.examples) for d in documents] == [2, 1]  # -DOCSTART- rows split documents
    found = [(e.label, x.text[e.start : e.end]) for d in documents for x in d.examples
             for e in x.entities]  # fmt: skip
    assert found == [("PER", "Jane Smith"), ("LOC", "New York"), ("PER", "Bob")]
    output = tmp_path / "test.jsonl"
    result = invoke("convert", f"{ner_dataset}:test", output)
    assert result.exit_code == 0, result.output
    assert entity_texts(output) == [("LOC", "Paris")]
    with pytest.raises(LukenerError, match="splits train, test: name one as PATH:SPLIT"):
        read_documents(ner_dataset)
    with pytest.raises(LukenerError, match="no split 'dev'"):
        read_documents(f"{ner_dataset}:dev")


def test_parquet_file_reads_like_the_dataset(ner_dataset: Path) -> None:
    parquet = ner_dataset.parent / "train.parquet"
    assert input_kind(parquet) == "dataset"
    from_parquet = read_documents(parquet)
    from_directory = read_documents(f"{ner_dataset}:train")
    assert from_directory[0].id == "ds.train-0"
    assert from_parquet[0].id == "train.parquet-0"
    assert [[x.to_json() | {"id": ""} for x in d.examples] for d in from_parquet] == [
        [x.to_json() | {"id": ""} for x in d.examples] for d in from_directory
    ]
    assert (
        read_documents(parquet, ReadingOptions(label_map="PER=person"))[1]
        .examples[0]
        .entities[0]
        .label
        == "person"
    )
