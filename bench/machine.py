"""What every bench script records beside its figures: the machine and the command.

Imports nothing of bench, so any script can use it without an import circle.
"""

from __future__ import annotations

import argparse
import platform
from pathlib import Path


def cpu_name() -> str:
    """The CPU's model name (figures differ between machines: name it beside them)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_name_and_vectors() -> str:
    """The CPU's model name and its widest vector instructions, as Linux reports them."""
    try:
        info = Path("/proc/cpuinfo").read_text(encoding="utf-8")
    except OSError:
        return platform.processor() or "unknown CPU"
    name = next(
        (
            line.split(":", 1)[1].strip()
            for line in info.splitlines()
            if line.startswith("model name")
        ),
        "unknown CPU",
    )
    flags = set(info.split())
    vectors = [f for f in ("avx512f", "avx512_bf16", "amx_bf16") if f in flags]
    return f"{name} ({', '.join(vectors) or 'no AVX-512'})"


def command_line(module: str, args: argparse.Namespace) -> str:
    """The command that reproduces a bench run, from its parsed arguments."""
    return f"python -m {module} " + " ".join(
        f"--{k.replace('_', '-')} {v}"
        for k, v in vars(args).items()
        if k not in ("output", "markdown", "tables_only")
    )
