"""Shared rendering for the commands: the console, one-line errors, tables."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import typer
from rich.console import Console

from lukener.errors import LukenerError

console = Console(stderr=True, highlight=False)
P = ParamSpec("P")
R = TypeVar("R")
DEBUG_VARIABLE = "LUKENER_DEBUG"


def fail(message: str) -> typer.Exit:
    """Print ``error: message`` as one line on stderr; return the exit to raise."""
    sys.stderr.write(f"error: {message}\n")
    sys.stderr.flush()
    return typer.Exit(1)


def reports_user_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn a :class:`LukenerError` into one line on stderr and exit code 1.

    Set ``LUKENER_DEBUG=1`` to get the traceback instead.
    """

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except LukenerError as error:
            if os.environ.get(DEBUG_VARIABLE):
                raise
            raise fail(str(error)) from None

    return wrapper
