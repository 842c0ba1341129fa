"""A directory that one lukener run writes: claimed with a marker, locked while in use, and
never emptied of anything lukener did not write there.

The marker ``.lukener-output`` lists the entries lukener wrote. ``--overwrite`` replaces
those entries only, and only in a directory that has the marker; a directory without it
is never overwritten, whatever it holds. The new run is built in a staging directory
beside it (:func:`staging_directory`) and swapped in only once complete, so a run that
fails leaves the old one as it was. An output directory that is, or contains, one
of the run's inputs is refused. A lock (``flock`` on ``.lukener-lock``, released by the
kernel even when the process is killed) keeps two runs out of one directory.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from lukener.errors import LukenerError

MARKER = ".lukener-output"
LOCK = ".lukener-lock"


def _inside(path: Path, directory: Path) -> bool:
    try:
        path.resolve().relative_to(directory.resolve())
    except ValueError:
        return False
    return True


def _read_marker(directory: Path) -> list[str] | None:
    found = _marker(directory)
    return None if found is None else found[1]


def _marker(directory: Path) -> tuple[str, list[str]] | None:
    """``(what wrote the directory, its entries)`` from the marker, if there is one."""
    marker = directory / MARKER
    if not marker.is_file():
        return None
    try:
        data = json.loads(marker.read_text(encoding="utf-8"))
        entries, written_by = data["entries"], str(data.get("written_by", ""))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        raise LukenerError(
            f"the {MARKER} marker is damaged; remove the directory yourself", directory
        ) from None
    if not isinstance(entries, list) or not all(isinstance(e, str) for e in entries):
        raise LukenerError(f"the {MARKER} marker is damaged", directory)
    return written_by, entries


@dataclass
class OutputDirectory:
    """A claimed output directory; :meth:`record` notes what the run wrote there."""

    path: Path
    command: str
    foreign: set[str] = field(default_factory=set)
    lock_fd: int | None = None

    def record(self) -> None:
        """Write the marker: every entry here that was not there before lukener came."""
        entries = sorted({p.name for p in self.path.iterdir()} - self.foreign | {MARKER, LOCK})
        payload = {"written_by": f"lukener {self.command}", "entries": entries}
        temporary = self.path / f"{MARKER}.{os.getpid()}.tmp"
        temporary.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
        temporary.replace(self.path / MARKER)

    def swap_in(self, staged: Path) -> None:
        """Replace what lukener wrote here with the entries of ``staged`` (a complete run),
        then remove the staging directory."""
        # What the marker lists: lukener's entries, never a file a user put here.
        _remove_entries(self.path, _read_marker(self.path) or [])
        for entry in staged.iterdir():
            entry.replace(self.path / entry.name)
        shutil.rmtree(_staging_root(self.path), ignore_errors=True)
        self.record()

    def release(self) -> None:
        if self.lock_fd is not None:
            os.close(self.lock_fd)  # closing the descriptor releases the flock
            self.lock_fd = None


def _staging_root(path: Path) -> Path:
    return path.parent / f".{path.name}.lukener-staging"


def staging_directory(path: Path) -> Path:
    """Where an ``--overwrite`` run of ``path`` is built: beside it, under the same name (so
    the run's files name themselves alike), the same for every process of the run."""
    return _staging_root(path) / path.name


@contextlib.contextmanager
def staged_run(claimed: OutputDirectory) -> Iterator[Path]:
    """A fresh staging directory for the block's run; swapped into ``claimed`` when the block
    succeeds, removed when it fails (the old run stays as it was)."""
    root = _staging_root(claimed.path)
    shutil.rmtree(root, ignore_errors=True)  # one a killed run left: the lock is ours
    staged = staging_directory(claimed.path)
    staged.mkdir(parents=True)
    try:
        yield staged
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    claimed.swap_in(staged)


def _lock(directory: Path) -> int:
    import fcntl

    fd = os.open(directory / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        os.close(fd)
        raise LukenerError(
            "another lukener run"
            + (f" (process {holder})" if holder else "")
            + " is writing to this directory; wait for it or choose another --output-dir",
            directory,
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)
    return fd


def _remove_entries(directory: Path, entries: Iterable[str]) -> None:
    for name in entries:
        if name in (MARKER, LOCK) or "/" in name or name in ("", ".", ".."):
            continue
        target = directory / name
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        elif target.exists() or target.is_symlink():
            target.unlink()


@contextlib.contextmanager
def claimed_output_directory(
    path: Path,
    inputs: Iterable[tuple[str, str | Path | None]],
    overwrite: bool = False,
    resume: bool = False,
    command: str = "train",
) -> Iterator[OutputDirectory]:
    """Check, lock and prepare ``path`` for a run whose inputs are ``(flag, path)`` pairs, for
    the length of a block; the marker is brought up to date and the lock released at the end,
    whatever happens.

    Refused: a path that is a file; a directory that is or contains an input; a non-empty
    directory without ``--overwrite``/``--resume``; overwriting or resuming a directory
    without lukener's marker; a directory another run holds.
    """
    if path.exists() and not path.is_dir():
        raise LukenerError("--output-dir is a file, not a directory", path)
    for flag, source in inputs:
        if source is None or not Path(source).exists():
            continue
        if _inside(Path(source), path):
            raise LukenerError(
                f"--output-dir holds the input {flag} {source}; training would overwrite or "
                "delete it: choose another --output-dir",
                path,
            )
    existing = path.is_dir() and any(path.iterdir())
    marker = _marker(path) if existing else None
    entries = None if marker is None else marker[1]
    if marker is not None and marker[0] and marker[0] != f"lukener {command}" and overwrite:
        raise LukenerError(
            f"refusing to overwrite: this directory holds the output of `{marker[0]}`, not of "
            f"`lukener {command}`; choose another directory",
            path,
        )
    if existing and entries is None and (resume or overwrite):
        what = "resume" if resume else "overwrite"
        raise LukenerError(
            f"refusing to {what}: lukener did not create this directory (no {MARKER} "
            "marker); choose another --output-dir",
            path,
        )
    if existing and not (resume or overwrite):
        raise LukenerError(
            "the output directory exists and is not empty; pass --overwrite to replace what "
            "lukener wrote there or --resume to continue its training",
            path,
        )
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise LukenerError(f"cannot create the directory: {error.strerror}", path) from None
    lock_fd = _lock(path)
    try:
        owned = set(entries or [])
        foreign = {p.name for p in path.iterdir()} - owned - {MARKER, LOCK}
        claimed = OutputDirectory(path, command, foreign, lock_fd)
        claimed.record()
    except BaseException:
        os.close(lock_fd)
        raise
    try:
        yield claimed
    finally:
        with contextlib.suppress(OSError):
            claimed.record()
        claimed.release()
