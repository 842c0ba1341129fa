"""Reading a checkpoint's parts, from a directory or the hub: its config and fast tokenizer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lukener.errors import LukenerError


def first_line(error: BaseException) -> str:
    """The first line of a library's error: hub errors run over many lines."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def check_source(name_or_path: str) -> None:
    path = Path(name_or_path)
    if path.exists():
        if not path.is_dir():
            raise LukenerError("not a checkpoint directory (it is a file)", path)
        if not (path / "config.json").is_file():
            raise LukenerError("not a checkpoint directory: it has no config.json", path)
    elif name_or_path.startswith((".", "/", "~")) or name_or_path.count("/") > 1:
        raise LukenerError("no such checkpoint directory", path)


def load_config(name_or_path: str) -> Any:
    """A checkpoint's configuration, from a directory or the hub."""
    from transformers import AutoConfig

    check_source(name_or_path)
    try:
        return AutoConfig.from_pretrained(name_or_path)
    except (OSError, ValueError) as error:
        raise LukenerError(
            f"cannot load the checkpoint {name_or_path!r}: {first_line(error)}"
        ) from None


def load_tokenizer(name_or_path: str) -> Any:
    from transformers import AutoTokenizer

    check_source(name_or_path)
    try:
        tokenizer = AutoTokenizer.from_pretrained(name_or_path)
    except (OSError, ValueError) as error:
        raise LukenerError(
            f"cannot load the tokenizer of {name_or_path!r}: {first_line(error)}"
        ) from None
    if not tokenizer.is_fast:
        raise LukenerError(f"{name_or_path!r} has no fast tokenizer; lukener needs offsets")
    return tokenizer
