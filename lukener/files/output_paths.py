"""Checks made before any long work: an output never replaces an input, and can be written."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from lukener.errors import LukenerError

STDIO = "-"


def same_file(first: Path, second: Path) -> bool:
    """Whether two paths name one file (symlinks and hard links resolved)."""
    try:
        return first.resolve() == second.resolve() or first.samefile(second)
    except OSError:
        return False


def inside_directory(path: Path, directory: Path) -> bool:
    """Whether ``path`` is ``directory`` or lies under it (symlinks resolved)."""
    try:
        resolved, folder = path.resolve(), directory.resolve()
    except OSError:
        return False
    return resolved == folder or folder in resolved.parents


def check_not_an_input(output: Path, inputs: Iterable[str | Path | None], flag: str) -> None:
    """Refuse an output path that is one of the inputs, or would replace a file of an input
    directory (a checkpoint, a dataset), any of which may be read. A new file beside them
    (metrics next to the model) is allowed."""
    for source in inputs:
        if source is None or str(source) == STDIO:
            continue
        if same_file(output, Path(source)):
            raise LukenerError(
                f"{flag} is the input file {source}: writing it would destroy the input; "
                "choose another output path",
                output,
            )
        if output.exists() and Path(source).is_dir() and inside_directory(output, Path(source)):
            raise LukenerError(
                f"{flag} is a file of the input directory {source}: writing it would destroy "
                "what is read there; choose another output path",
                output,
            )


def check_writable_file(output: Path, flag: str) -> None:
    """Refuse, before any work, an output file that cannot be written: a directory, a path
    under a file, or a directory without write permission."""
    if output.is_dir():
        raise LukenerError(f"{flag} is a directory; give a file name", output)
    parent = output.parent
    while not parent.exists():
        if parent.parent == parent:
            break
        parent = parent.parent
    if not parent.is_dir():
        raise LukenerError(f"{flag}: {parent} is a file, not a directory", output)
    if not os.access(parent, os.W_OK | os.X_OK):
        raise LukenerError(f"{flag}: the directory {parent} is not writable", output)


def check_output_file(
    output: str | Path | None, inputs: Iterable[str | Path | None], flag: str
) -> None:
    """Both checks, for a file output (``None`` or ``-``: standard output, nothing to check)."""
    if output is None or str(output) == STDIO:
        return
    path = Path(output)
    check_not_an_input(path, inputs, flag)
    check_writable_file(path, flag)


def checked_inside(path: Path, root: Path, what: str) -> Path:
    """``path``, refused when it (a symlink, say) leads out of ``root``: a command copying or
    uploading a checkpoint's files never takes a file from elsewhere."""
    if not inside_directory(path, root):
        raise LukenerError(
            f"{path.name} leads out of the {what} (to {path.resolve()}); replace the link "
            "with the file itself",
            path,
        )
    return path
