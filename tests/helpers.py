from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def jsonl_records(path: Path) -> list[dict[str, Any]]:
    """The JSON objects of a JSONL file, read independently of lukener's reader."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
