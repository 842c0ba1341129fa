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
