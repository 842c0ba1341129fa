"""The `lukener` Typer app: one command per module under lukener/cli."""

from __future__ import annotations

import signal
from types import FrameType

import typer

from . import compare, convert, demo, evaluate, export, predict, prepare_data, train

app = typer.Typer(
    name="lukener",
    help="Named entity recognition with LUKE-style span classification.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)

app.command("demo", help=demo.HELP)(demo.demo_command)
app.command("convert", help=convert.HELP, no_args_is_help=True)(convert.convert_command)
app.command("prepare-data", help=prepare_data.HELP)(prepare_data.prepare_data_command)
app.command("train", help=train.HELP, no_args_is_help=True)(train.train_command)
app.command("evaluate", help=evaluate.HELP, no_args_is_help=True)(evaluate.evaluate_command)
app.command("predict", help=predict.HELP, no_args_is_help=True)(predict.predict_command)
app.command("compare", help=compare.HELP, no_args_is_help=True)(compare.compare_command)
app.command("export", help=export.HELP, no_args_is_help=True)(export.export_command)


def _terminate(signum: int, frame: FrameType | None) -> None:
    # As Ctrl-C does: unwind, so temporary files are removed and no partial output stays.
    raise SystemExit(128 + signum)


def main() -> None:
    signal.signal(signal.SIGTERM, _terminate)
    app()
