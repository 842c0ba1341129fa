"""Options declared once: each task's settings are dataclass fields annotated with an
:class:`Option` (help text, bounds, flag names).

The Python API takes the dataclasses as they are; ``lukener.cli.flags`` builds every
command's flags from the same fields, so adding an option to a command is one edit, and two
commands that share a dataclass share its options word for word. Each dataclass is a group
of options, whose ``PANEL`` class attribute names the section of ``--help`` it appears in.
A field typed as a ``Literal`` of strings is a choice: help lists the values and the
command line refuses others. Nothing here knows Typer.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Option:
    """How a dataclass field appears on the command line.

    - ``help``: the text ``--help`` shows.
    - ``flags``: the flag names; by default ``--field-name`` (a bool gives a plain switch).
    - ``min``/``max``: bounds the command line enforces.
    - ``argument``: a positional argument instead of a flag.
    - ``metavar``: the placeholder shown in the usage line.
    - ``panel``: the section of ``--help`` for this field, instead of its group's ``PANEL``.
    - ``case_sensitive``: for a choice, whether ``IOB2`` is refused where ``iob2`` is one.
    """

    help: str
    flags: tuple[str, ...] = ()
    min: float | None = None
    max: float | None = None
    argument: bool = False
    metavar: str | None = None
    panel: str | None = None
    case_sensitive: bool = True


@dataclass(frozen=True)
class DeclaredOption:
    """One field of an options dataclass, resolved: its name, type, default and :class:`Option`."""

    name: str
    type: Any
    option: Option
    required: bool
    default: Any = None


def panel_of(cls: type) -> str | None:
    """The ``--help`` section of an options group (its ``PANEL``), if it names one."""
    panel = getattr(cls, "PANEL", None)
    return panel if isinstance(panel, str) else None


def declared_options(cls: type) -> list[DeclaredOption]:
    """The fields of the dataclass ``cls`` that carry an :class:`Option`, in field order."""
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls!r} is not a dataclass")
    hints = typing.get_type_hints(cls, include_extras=True)
    declared = []
    for field in dataclasses.fields(cls):
        hint = hints[field.name]
        if typing.get_origin(hint) is not typing.Annotated:
            continue
        base, *extras = typing.get_args(hint)
        found = [extra for extra in extras if isinstance(extra, Option)]
        if not found:
            continue
        if field.default is not dataclasses.MISSING:
            declared.append(DeclaredOption(field.name, base, found[0], False, field.default))
        elif field.default_factory is not dataclasses.MISSING:
            declared.append(
                DeclaredOption(field.name, base, found[0], False, field.default_factory())
            )
        else:
            declared.append(DeclaredOption(field.name, base, found[0], True))
    return declared
