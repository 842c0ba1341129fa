from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lukener.cli.app import app

GOLDEN = Path(__file__).parent / "golden"


@pytest.fixture
def runner() -> CliRunner:
    # A fixed, wide terminal so tables and errors render the same everywhere.
    return CliRunner(env={"COLUMNS": "200", "TERM": "dumb", "NO_COLOR": "1"})


@pytest.fixture
def invoke(runner: CliRunner):
    def run(*args: str | os.PathLike[str], input: str | None = None):
        return runner.invoke(app, [str(a) for a in args], input=input)

    return run


@pytest.fixture
def golden() -> Path:
    return GOLDEN


@pytest.fixture(scope="session")
def luke_tokenizer():
    from tests.tiny_models import build_luke_tokenizer

    return build_luke_tokenizer(lite=False)


@pytest.fixture(scope="session")
def luke_lite_tokenizer():
    from tests.tiny_models import build_luke_tokenizer

    return build_luke_tokenizer(lite=True)


@pytest.fixture(scope="session")
def mluke_tokenizer():
    from tests.tiny_models import build_mluke_tokenizer

    return build_mluke_tokenizer(lite=True)


@pytest.fixture(scope="session")
def tiny_luke(tmp_path_factory, luke_tokenizer) -> Path:
    """A tiny random pretrained LUKE (full entity vocabulary): no span head yet."""
    from tests.tiny_models import build_checkpoint

    return build_checkpoint(tmp_path_factory.mktemp("tiny-luke"), luke_tokenizer)


@pytest.fixture(scope="session")
def tiny_mluke(tmp_path_factory, mluke_tokenizer) -> Path:
    """A tiny random pretrained mLUKE (lite entity vocabulary, [MASK] = 0)."""
    from tests.tiny_models import build_checkpoint

    return build_checkpoint(tmp_path_factory.mktemp("tiny-mluke"), mluke_tokenizer)


@pytest.fixture(scope="session")
def wnut_small(tmp_path_factory) -> Path:
    """The first 32 tweets of WNUT-16 as JSONL (the overfit set)."""
    from lukener.data.convert import conll_to_documents
    from lukener.data.corpora import wnut16_source
    from lukener.data.documents import write_jsonl
    from lukener.data.reading_options import ReadingOptions

    documents, _ = conll_to_documents(wnut16_source(), ReadingOptions())
    path = tmp_path_factory.mktemp("wnut") / "small.jsonl"
    with path.open("w", encoding="utf-8") as stream:
        write_jsonl(stream, documents[:32])
    return path


@pytest.fixture(scope="session")
def japanese_small(tmp_path_factory) -> Path:
    from lukener.data.convert import conll_to_documents
    from lukener.data.corpora import japanese_source
    from lukener.data.documents import write_jsonl
    from lukener.data.reading_options import ReadingOptions

    documents, _ = conll_to_documents(japanese_source(), ReadingOptions(no_space=True))
    path = tmp_path_factory.mktemp("ja") / "small.jsonl"
    with path.open("w", encoding="utf-8") as stream:
        write_jsonl(stream, documents[:16])
    return path


def _train(runner: CliRunner, *args: str | os.PathLike[str]) -> None:
    result = runner.invoke(app, ["train", *(str(a) for a in args)])
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="session")
def trained_luke(tmp_path_factory, tiny_luke: Path, wnut_small: Path) -> Path:
    """A tiny LUKE span model overfit on 32 tweets through `lukener train`."""
    output = tmp_path_factory.mktemp("trained-luke") / "run"
    runner = CliRunner(env={"COLUMNS": "200", "NO_COLOR": "1"})
    _train(
        runner,
        "--train", wnut_small, "--validation", wnut_small, "--model", tiny_luke,
        "--output-dir", output, "--epochs", "40", "--learning-rate", "5e-3",
        "--warmup-ratio", "0", "--batch-size", "8",
    )  # fmt: skip
    return output


@pytest.fixture(scope="session")
def trained_mluke(tmp_path_factory, tiny_mluke: Path, japanese_small: Path) -> Path:
    """A tiny mLUKE span model (lite entity vocabulary) briefly trained on Japanese."""
    output = tmp_path_factory.mktemp("trained-mluke") / "run"
    runner = CliRunner(env={"COLUMNS": "200", "NO_COLOR": "1"})
    _train(
        runner,
        "--train", japanese_small, "--validation", japanese_small, "--model", tiny_mluke,
        "--output-dir", output, "--epochs", "3", "--learning-rate", "5e-3",
        "--pretokenize",
    )  # fmt: skip
    return output
