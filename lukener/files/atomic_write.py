"""Write output files completely or not at all."""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from lukener.errors import LukenerError

# Temporary files are ``.NAME.PID.RANDOM.lukener-tmp`` beside their target: a later run finds
# the ones whose process is gone (killed with SIGKILL, where no cleanup can run) and removes them.
TEMP_SUFFIX = ".lukener-tmp"


def temp_path(target: Path) -> Path:
    return target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}{TEMP_SUFFIX}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temp_files(target: Path) -> list[Path]:
    """Remove temporary files of ``target`` left by lukener processes that no longer run."""
    removed = []
    prefix = f".{target.name}."
    with contextlib.suppress(OSError):
        for candidate in target.parent.iterdir():
            name = candidate.name
            if not (name.startswith(prefix) and name.endswith(TEMP_SUFFIX)):
                continue
            pid = name[len(prefix) : -len(TEMP_SUFFIX)].split(".")[0]
            if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
                with contextlib.suppress(OSError):
                    candidate.unlink()
                    removed.append(candidate)
    return removed


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def new_file_mode(target: Path) -> int:
    """The mode a plain ``open(target, "w")`` would give: the existing file's, or 0666
    less the umask."""
    try:
        return target.stat().st_mode & 0o7777
    except OSError:
        return 0o666 & ~_umask()


def write_error(target: Path, error: OSError) -> LukenerError:
    """A user-facing error for a failed write (disk full, no permission, ...)."""
    reason = error.strerror or str(error)
    if error.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        reason += " (nothing was written)"
    return LukenerError(f"cannot write the file: {reason}", target)


@contextlib.contextmanager
def atomic_text_writer(path: str | Path) -> Iterator[TextIO]:
    """Yield a text stream whose content replaces ``path`` only if the block succeeds.

    The data goes to a temporary file in the same directory, which is renamed over
    ``path`` at the end, so readers never see a half-written file and a failure (an error,
    Ctrl-C or SIGTERM) leaves nothing behind. The file gets the usual permissions.
    """
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise write_error(target, error) from None
    remove_stale_temp_files(target)
    tmp = temp_path(target)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as error:
        raise write_error(target, error) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as stream:
            yield stream
            stream.flush()
            os.fchmod(stream.fileno(), new_file_mode(target))
            os.fsync(stream.fileno())
        tmp.replace(target)
    except OSError as error:
        tmp.unlink(missing_ok=True)
        raise write_error(target, error) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def output_stream(path: str | Path | None) -> Iterator[TextIO]:
    """Standard output for ``None`` or ``-``, else :func:`atomic_text_writer`."""
    if path is None or str(path) == "-":
        yield sys.stdout
        sys.stdout.flush()
        return
    with atomic_text_writer(path) as stream:
        yield stream
