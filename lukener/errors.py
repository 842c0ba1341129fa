"""The one exception type for user mistakes: bad input files, flags or checkpoints."""

from __future__ import annotations

from pathlib import Path


def decode_line(raw: bytes, path: str | Path, line_number: int) -> str:
    """One line of a UTF-8 text file (a BOM on the first line is dropped)."""
    try:
        return raw.decode("utf-8-sig" if line_number == 1 else "utf-8")
    except UnicodeDecodeError as error:
        raise LukenerError(
            f"undecodable bytes at byte {error.start} (the file must be UTF-8)", path, line_number
        ) from None


class LukenerError(Exception):
    """A problem the user can fix; the CLI prints it as one line, without a traceback."""

    def __init__(self, message: str, path: str | Path | None = None, line: int | None = None):
        self.message = message
        self.path = None if path is None else str(path)
        self.line = line
        super().__init__(str(self))

    def __str__(self) -> str:
        where = ""
        if self.path is not None:
            where = self.path if self.line is None else f"{self.path}:{self.line}"
            where += ": "
        return where + self.message
