"""Options are declared once, on the core's dataclasses, and every command builds its flags
from them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import pytest
import typer
from typer.testing import CliRunner

from lukener.cli.flags import Fields, expand_options
from lukener.data.reading_options import ReadingOptions
from lukener.declared_options import Option, declared_options
from lukener.spans.settings import EncodingOverrides
from lukener.tasks.command_options import (
    DEMO_FLAGS,
    CompareOptions,
    DemoOptions,
    EvaluateOptions,
    PredictOptions,
)
from lukener.tasks.run_options import RunOptions
from lukener.tasks.train_options import (
    ModelCardOptions,
    Optimization,
    TrainData,
    TrainEncoding,
    TrainOptions,
    TrainOutput,
    TrainSpeed,
    train_option_names,
)

TRAIN_GROUPS = (TrainData, TrainEncoding, Optimization, TrainSpeed, TrainOutput, ModelCardOptions)


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
        (
            "train",
            [TrainData, TrainEncoding, Optimization, TrainSpeed, TrainOutput, ModelCardOptions],
            set(),
        ),
        ("demo", [DemoOptions], set()),
        ("evaluate", [EvaluateOptions, EncodingOverrides, RunOptions], set()),
        ("predict", [PredictOptions, EncodingOverrides, RunOptions], set()),
        ("compare", [CompareOptions, RunOptions], {"nested", "threshold", "onnx"}),
        ("convert", [ReadingOptions], set()),
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


def test_every_train_option_has_help_and_reaches_the_core(invoke) -> None:
    """Train's groups are the declarations: every field of every group it takes is an
    option with help text, shown by ``train --help``, and ``TrainOptions.of`` takes each."""
    names = train_option_names()
    declared = {
        d.name: d
        for group in (ReadingOptions, EncodingOverrides, RunOptions, *TRAIN_GROUPS)
        for d in declared_options(group)
        if d.name in names
    }
    assert set(declared) == names
    assert all(d.option.help.strip() for d in declared.values())
    shown = invoke("train", "--help").stdout
    for name in names:
        assert flag(name) in shown, name
    with pytest.raises(TypeError, match=r"unknown option.*precision"):
        TrainOptions.of(train=Path("t"), model="m", output_dir=Path("o"), precision="bf16")
    options = TrainOptions.of(
        train=Path("t"), model="m", output_dir=Path("o"), threads=2, no_space=True, epochs=1.0
    )
    assert (options.run.threads, options.reading.no_space) == (2, True)
    assert options.optimization.epochs == 1.0


def test_no_option_field_is_declared_in_two_groups() -> None:
    """Each option field is declared by one dataclass across the package (each command's
    own checkpoint, data and output arguments aside, and the inference batch beside the
    training batch)."""
    groups = [ReadingOptions, EncodingOverrides, RunOptions, *TRAIN_GROUPS, DemoOptions,
              EvaluateOptions, PredictOptions, CompareOptions]  # fmt: skip
    owners: dict[str, list[str]] = {}
    for group in groups:
        for declared in declared_options(group):
            owners.setdefault(declared.name, []).append(group.__name__)
    allowed = {"checkpoint", "data", "output", "output_dir", "batch_size", "language"}
    twice = {name: where for name, where in owners.items() if len(where) > 1}
    assert set(twice) <= allowed, twice


def test_train_help_reads_in_sections(invoke) -> None:
    shown = invoke("train", "--help").stdout
    for panel in ("Data", "Encoding", "Optimization", "Speed", "Output", "Model card and hub"):
        assert f"─ {panel} " in shown, panel


def test_choices_are_listed_and_refused_by_the_parser(invoke, trained_luke) -> None:
    shown = invoke("predict", "--help").stdout
    assert "fp32|bf16|fp16" in shown
    result = invoke("predict", "--checkpoint", trained_luke, "-", "--precision", "fp64")
    assert result.exit_code == 2
    assert "'fp64' is not one of 'fp32', 'bf16', 'fp16'" in result.output
    assert invoke("convert", "in.conll", "out.jsonl", "--scheme", "iob3").exit_code == 2


def test_demo_takes_train_options_with_its_own_defaults(invoke) -> None:
    shown = invoke("demo", "--help").stdout
    for name in DEMO_FLAGS:
        assert flag(name) in shown, name
    assert "[default: 0.0002]" in shown  # the demo's rate, not train's 1e-05


def test_choice_types_match_what_the_core_accepts() -> None:
    """The parser's choices are the values the core knows (aliases of tag schemes too)."""
    from typing import get_args

    from lukener.data.reading_options import Scheme
    from lukener.data.schemes import ALIASES, SCHEMES
    from lukener.data.text_input import LANGUAGES
    from lukener.modeling.forward_choice import PRECISIONS
    from lukener.modeling.linear_products import LINEAR_PRODUCTS
    from lukener.modeling.quantization import QUANTIZATIONS
    from lukener.modeling.span_attention import SPAN_ATTENTION_MODES
    from lukener.spans.settings import (
        ENTITY_ATTENTION_MASKS,
        TOKENIZATION_UNITS,
        EntityAttentionMask,
    )
    from lukener.tasks.command_options import InputFormat, OutputFormat, TextLanguage
    from lukener.tasks.prediction import INPUT_FORMATS, OUTPUT_FORMATS
    from lukener.tasks.run_options import LinearProducts, Precision, Quantization
    from lukener.tasks.train_options import SpanAttention, Tokenization

    assert set(get_args(Scheme)) == {"auto", *SCHEMES, *ALIASES}
    assert get_args(Precision) == tuple(PRECISIONS)
    assert get_args(Quantization) == QUANTIZATIONS
    assert get_args(LinearProducts) == LINEAR_PRODUCTS
    assert get_args(SpanAttention) == SPAN_ATTENTION_MODES
    assert get_args(Tokenization) == TOKENIZATION_UNITS
    assert get_args(EntityAttentionMask) == ENTITY_ATTENTION_MASKS
    assert get_args(TextLanguage) == LANGUAGES
    assert get_args(InputFormat) == INPUT_FORMATS
    assert get_args(OutputFormat) == OUTPUT_FORMATS
