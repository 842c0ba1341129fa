"""Benchmark specs (TOML): which checkpoints to evaluate, how, and what was published."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lukener.errors import LukenerError
from lukener.spans.settings import ENTITY_ATTENTION_MASKS, TOKENIZATION_UNITS

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

DECODINGS = ("greedy", "nested")
_ROW_KEYS = {
    "name", "checkpoint", "evaluated_with", "tokenization", "pretokenize",
    "entity_attention_mask", "max_entity_length", "max_mention_length", "decoding",
    "published", "recipe", "note",
}  # fmt: skip


@dataclass(frozen=True)
class Published:
    """Scores a source reports, in percent."""

    f1: float
    precision: float | None = None
    recall: float | None = None
    source: str = ""


@dataclass(frozen=True)
class BenchmarkRow:
    """One evaluation (a checkpoint with settings) or a reference row (no checkpoint).

    Settings left as None take the checkpoint's own (``lukener.json``) or lukener's defaults.
    """

    name: str
    checkpoint: str | None = None
    evaluated_with: str = "lukener"
    tokenization: str | None = None
    pretokenize: bool | None = None
    entity_attention_mask: str | None = None
    max_entity_length: int | None = None
    max_mention_length: int | None = None
    decoding: str = "greedy"
    published: Published | None = None
    recipe: dict[str, Any] | None = None
    note: str = ""

    @property
    def is_reference(self) -> bool:
        return self.checkpoint is None

    def overrides(self) -> dict[str, Any]:
        return {
            "tokenization": self.tokenization,
            "pretokenize": self.pretokenize,
            "entity_attention_mask": self.entity_attention_mask,
            "max_entity_length": self.max_entity_length,
            "max_mention_length": self.max_mention_length,
        }

    def settings_json(self) -> dict[str, Any]:
        return {**self.overrides(), "decoding": self.decoding}

    def recipe_command(self) -> str | None:
        """The `lukener train` call that makes this row's checkpoint, if it has a recipe."""
        if self.recipe is None:
            return None
        parts = ["lukener train"]
        for key, value in self.recipe.items():
            flag = "--" + key.replace("_", "-")
            if value is True:
                parts.append(flag)
            elif value is not False:
                parts.append(f"{flag} {value}")
        parts.append(f"--output-dir {self.checkpoint}")
        return " ".join(parts)


@dataclass(frozen=True)
class BenchmarkSpec:
    name: str
    data: str | None
    rows: list[BenchmarkRow] = field(default_factory=list)
    description: str = ""


def checkpoint_row(option: str) -> BenchmarkRow:
    """A row from ``--checkpoint CKPT[:legacy|:standard]``."""
    checkpoint, mask = option, None
    head, sep, tail = option.rpartition(":")
    # A ':' inside a path (C:/runs/a) is the path's; a last part without a separator is
    # the mask mode, and must be one.
    if sep and head and not Path(option).exists() and not any(c in tail for c in "/\\"):
        if tail not in ENTITY_ATTENTION_MASKS:
            raise LukenerError(
                f"--checkpoint {option}: {tail!r} after ':' is not a mask mode; use "
                f"{head}:{' or :'.join(ENTITY_ATTENTION_MASKS)}, or no ':'"
            )
        checkpoint, mask = head, tail
    name = checkpoint + (f" ({mask} mask)" if mask else "")
    return BenchmarkRow(name=name, checkpoint=checkpoint, entity_attention_mask=mask)


_BENCHMARK_KEYS = frozenset({"name", "data", "description"})


def load_spec(path: str | Path) -> BenchmarkSpec:
    """Read and check a benchmark spec; errors name the file and the row."""
    source = Path(path)
    try:
        data = tomllib.loads(source.read_text(encoding="utf-8"))
    except OSError as error:
        raise LukenerError(f"cannot read the file: {error.strerror}", source) from None
    except UnicodeDecodeError as error:
        raise LukenerError(
            f"undecodable bytes at byte {error.start} (a spec must be UTF-8)", source
        ) from None
    except tomllib.TOMLDecodeError as error:
        raise LukenerError(f"broken TOML: {error}", source) from None
    benchmark = data.get("benchmark", {})
    if not isinstance(benchmark, dict):
        raise LukenerError("[benchmark] must be a table", source)
    unknown = sorted(set(benchmark) - _BENCHMARK_KEYS)
    if unknown:
        raise LukenerError(
            f"[benchmark] has unknown keys {', '.join(unknown)}; known: "
            + ", ".join(sorted(_BENCHMARK_KEYS)),
            source,
        )
    unknown_tables = sorted(set(data) - {"benchmark", "rows"})
    if unknown_tables:
        raise LukenerError(f"unknown top-level keys {', '.join(unknown_tables)}", source)
    rows_data = data.get("rows", [])
    if not isinstance(rows_data, list) or not rows_data:
        raise LukenerError("a spec needs at least one [[rows]] entry", source)
    rows = [_row(item, i, source) for i, item in enumerate(rows_data, start=1)]
    names = [row.name for row in rows]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise LukenerError(f"duplicate row names: {', '.join(duplicates)}", source)
    return BenchmarkSpec(
        name=str(benchmark.get("name", source.stem)),
        data=benchmark.get("data") or None,
        rows=rows,
        description=str(benchmark.get("description", "")),
    )


def _row(item: Any, index: int, source: Path) -> BenchmarkRow:
    def fail(problem: str) -> LukenerError:
        return LukenerError(f"row {index}: {problem}", source)

    if not isinstance(item, dict):
        raise fail("must be a table")
    unknown = sorted(set(item) - _ROW_KEYS)
    if unknown:
        raise fail(f"unknown keys {', '.join(unknown)}")
    if not isinstance(item.get("name"), str) or not item["name"]:
        raise fail("needs a name")
    choices = {
        "tokenization": TOKENIZATION_UNITS,
        "entity_attention_mask": ENTITY_ATTENTION_MASKS,
        "decoding": DECODINGS,
    }
    for key, allowed in choices.items():
        if key in item and item[key] not in allowed:
            raise fail(f"{key} must be one of {', '.join(allowed)}, not {item[key]!r}")
    for key in ("max_entity_length", "max_mention_length"):
        if key in item and (not isinstance(item[key], int) or item[key] < 1):
            raise fail(f"{key} must be a positive integer")
    published = None
    if "published" in item:
        raw = item["published"]
        if not isinstance(raw, dict) or not isinstance(raw.get("f1"), (int, float)):
            raise fail("published needs at least an f1 (in percent)")
        published = Published(
            f1=float(raw["f1"]),
            precision=None if raw.get("precision") is None else float(raw["precision"]),
            recall=None if raw.get("recall") is None else float(raw["recall"]),
            source=str(raw.get("source", "")),
        )
    recipe = item.get("recipe")
    if recipe is not None and (not isinstance(recipe, dict) or "checkpoint" not in item):
        raise fail("a recipe needs a table and the row's checkpoint (its output directory)")
    if item.get("checkpoint") is None and published is None:
        raise fail("a row without a checkpoint is a reference and needs published scores")
    return BenchmarkRow(
        name=item["name"],
        checkpoint=item.get("checkpoint"),
        evaluated_with=str(item.get("evaluated_with", "lukener")),
        tokenization=item.get("tokenization"),
        pretokenize=item.get("pretokenize"),
        entity_attention_mask=item.get("entity_attention_mask"),
        max_entity_length=item.get("max_entity_length"),
        max_mention_length=item.get("max_mention_length"),
        decoding=item.get("decoding", "greedy"),
        published=published,
        recipe=recipe,
        note=str(item.get("note", "")),
    )
