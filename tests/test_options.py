"""Options are declared once, on the core's dataclasses, and every command builds its flags
from them."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import pytest
import typer
from typer.testing import CliRunner

from lukener.cli.options import Fields, expand_options
from lukener.data.convert import ConllOptions
from lukener.options import Option, declared_options
from lukener.spans.settings import EncodingOverrides
from lukener.tasks.options import (
    CompareOptions,
    DemoOptions,
    EvaluateOptions,
    PredictOptions,
    RunOptions,
    TrainOptions,
)


@dataclass(frozen=True)
class Inner:
    size: Annotated[int, Option("How many.", min=1)] = 3
    name: Annotated[str, Option("A name.")] = "x"
    switch: Annotated[bool, Option("Turn it on.")] = False
    hidden: int = 7  # no Option: not a flag


@dataclass(frozen=True)
class Outer:
    source: Annotated[Path, Option("Input.", argument=True, metavar="INPUT")]
    required: Annotated[str, Option("Must be given.")]


def run_command(command, *args: str):
    app = typer.Typer()
    app.command()(expand_options(command))
    app.command("other")(lambda: None)  # two commands: the first is a named subcommand
    return CliRunner().invoke(app, [command.__name__, *args])


def test_dataclass_parameters_become_flags_and_come_back_as_dataclasses() -> None:
    seen = {}

    def demo(outer: Outer, inner: Inner, extra: Annotated[int, typer.Option()] = 1) -> None:
        seen.update(outer=outer, inner=inner, extra=extra)

    result = run_command(
        demo, "in.txt", "--required", "r", "--size", "5", "--switch", "--extra", "2"
    )
    assert result.exit_code == 0, result.output
    assert seen == {
        "outer": Outer(Path("in.txt"), "r"),
        "inner": Inner(size=5, name="x", switch=True),
        "extra": 2,
    }


def test_bounds_required_flags_and_undeclared_fields() -> None:
    def demo(outer: Outer, inner: Inner) -> None:
        pass

    assert run_command(demo, "in.txt", "--required", "r", "--size", "0").exit_code == 2
    assert run_command(demo, "in.txt").exit_code == 2  # --required is required
    assert run_command(demo, "in.txt", "--required", "r", "--hidden", "3").exit_code == 2
    assert run_command(demo, "in.txt", "--required", "r", "--no-switch").exit_code == 2


def test_fields_selects_some_options_and_the_rest_keep_defaults() -> None:
    seen = {}

    def demo(inner: Annotated[Inner, Fields("name")]) -> None:
        seen["inner"] = inner

    assert run_command(demo, "--name", "y").exit_code == 0
    assert seen["inner"] == Inner(name="y")
    assert run_command(demo, "--size", "4").exit_code == 2


def test_an_option_declared_twice_is_refused() -> None:
    def twice(inner: Inner, again: Inner) -> None:
        pass

    def unknown(inner: Annotated[Inner, Fields("nope")]) -> None:
        pass

    with pytest.raises(TypeError, match="options declared twice: name, size, switch"):
        expand_options(twice)
    with pytest.raises(TypeError, match="declares no option nope"):
        expand_options(unknown)


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


@pytest.mark.parametrize(
    ("command", "groups", "left_out"),
    [
        ("train", [TrainOptions], set()),
        ("demo", [DemoOptions], set()),
        ("evaluate", [EvaluateOptions, EncodingOverrides, RunOptions], set()),
        ("predict", [PredictOptions, EncodingOverrides, RunOptions], set()),
        ("compare", [CompareOptions, RunOptions], {"nested", "threshold", "onnx"}),
        ("convert", [ConllOptions], set()),
    ],
)
def test_every_declared_option_is_a_flag_of_its_command(
    invoke, command: str, groups: list[type], left_out: set[str]
) -> None:
    result = invoke(command, "--help")
    assert result.exit_code == 0
    for group in groups:
        for declared in declared_options(group):
            if declared.name in left_out:
                continue
            if declared.option.argument:
                assert (declared.option.metavar or declared.name.upper()) in result.stdout
            else:
                names = declared.option.flags or (flag(declared.name),)
                # "--x/--no-x" declares two flags, both shown.
                shown = [all(n in result.stdout for n in name.split("/")) for name in names]
                assert any(shown), (command, declared.name)
    for name in left_out:
        assert flag(name) not in result.stdout


def test_every_train_option_has_help_and_reaches_the_core() -> None:
    """TrainOptions is the single declaration: every field is an option with help text."""
    declared = {d.name for d in declared_options(TrainOptions)}
    assert declared == {f.name for f in dataclasses.fields(TrainOptions)}
    assert all(d.option.help.strip() for d in declared_options(TrainOptions))
