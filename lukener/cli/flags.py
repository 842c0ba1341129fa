"""Command-line flags built from the core's option groups (see ``lukener.declared_options``).

A command parameter annotated with an options dataclass, for example ``run: RunOptions``,
becomes one flag per declared field of that dataclass, shown in the ``--help`` section the
group (or the field) names, and the command receives the dataclass built from them.
``Annotated[ReadingOptions, Fields("no_space")]`` takes some fields only (the others keep
their defaults); ``Fields(..., panel=..., defaults=...)`` shows them in another section or
with other defaults (a table of defaults may hold other groups' fields too). Every other
parameter is passed to Typer as written.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

import typer

from lukener.declared_options import DeclaredOption, declared_options, panel_of


@dataclass(frozen=True)
class Fields:
    """Only these fields of an options dataclass become flags of the command; ``panel``
    puts them in that ``--help`` section, ``defaults`` gives some of them other defaults."""

    names: tuple[str, ...]
    panel: str | None
    defaults: Mapping[str, Any]

    def __init__(
        self, *names: str, panel: str | None = None, defaults: Mapping[str, Any] | None = None
    ):
        object.__setattr__(self, "names", names)
        object.__setattr__(self, "panel", panel)
        object.__setattr__(self, "defaults", dict(defaults or {}))


def typer_parameter(declared: DeclaredOption, panel: str | None = None) -> Any:
    """The ``typer.Option`` or ``typer.Argument`` for one declared field."""
    spec = declared.option
    settings: dict[str, Any] = {"help": spec.help}
    if spec.panel or panel:
        settings["rich_help_panel"] = spec.panel or panel
    if not spec.case_sensitive:
        settings["case_sensitive"] = False
    if spec.min is not None:
        settings["min"] = spec.min
    if spec.max is not None:
        settings["max"] = spec.max
    if spec.metavar is not None:
        settings["metavar"] = spec.metavar
    if spec.argument:
        return typer.Argument(**settings)
    flags = spec.flags
    if not flags and declared.type is bool:
        # A plain switch (--pretokenize), not Typer's --x/--no-x pair.
        flags = ("--" + declared.name.replace("_", "-"),)
    return typer.Option(*flags, **settings)


def _group(hint: Any) -> tuple[type, Fields | None] | None:
    """The options dataclass a parameter stands for, and the fields it takes."""
    fields = None
    if typing.get_origin(hint) is Annotated:
        hint, *extras = typing.get_args(hint)
        for extra in extras:
            if isinstance(extra, Fields):
                fields = extra
    if isinstance(hint, type) and dataclasses.is_dataclass(hint) and declared_options(hint):
        return hint, fields
    return None


def expand_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """``command`` with each options-dataclass parameter expanded into its flags."""
    hints = typing.get_type_hints(command, include_extras=True)
    parameters: list[inspect.Parameter] = []
    groups: dict[str, tuple[type, list[str]]] = {}
    for name, parameter in inspect.signature(command).parameters.items():
        group = _group(hints.get(name))
        if group is None:
            parameters.append(
                parameter.replace(kind=inspect.Parameter.KEYWORD_ONLY, annotation=hints[name])
            )
            continue
        cls, wanted = group
        declared = declared_options(cls)
        panel: str | None = panel_of(cls)
        defaults: Mapping[str, Any] = {}
        if wanted is not None:
            unknown = set(wanted.names) - {d.name for d in declared}
            if unknown:
                raise TypeError(f"{cls.__name__} declares no option {', '.join(sorted(unknown))}")
            declared = [d for d in declared if d.name in wanted.names]
            panel, defaults = wanted.panel or panel, wanted.defaults
        for option in declared:
            default = defaults.get(option.name, option.default)
            parameters.append(
                inspect.Parameter(
                    option.name,
                    inspect.Parameter.KEYWORD_ONLY,
                    default=inspect.Parameter.empty if option.required else default,
                    annotation=Annotated[option.type, typer_parameter(option, panel)],
                )
            )
        groups[name] = (cls, [option.name for option in declared])
    names = [parameter.name for parameter in parameters]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise TypeError(f"{command.__name__}: options declared twice: {', '.join(repeated)}")

    def expanded(**values: Any) -> Any:
        for name, (cls, fields) in groups.items():
            values[name] = cls(**{field: values.pop(field) for field in fields})
        return command(**values)

    # Name and docstring only: no __wrapped__, so Typer reads the expanded signature.
    functools.update_wrapper(
        expanded,
        command,
        assigned=("__module__", "__name__", "__qualname__", "__doc__"),
        updated=(),
    )
    expanded.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    expanded.__annotations__ = {p.name: p.annotation for p in parameters}
    return expanded
