"""How a span model encodes its input: saved with every checkpoint as ``lukener.json``."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from lukener.declared_options import Option
from lukener.errors import LukenerError
from lukener.files.atomic_write import atomic_text_writer

SETTINGS_FILE = "lukener.json"
# The most each setting may ask: spans per input, subwords per span, subwords per input.
LIMITS = {"max_entity_length": 4096, "max_mention_length": 128, "max_sequence_length": 8192}
TOKENIZATION_UNITS = ("raw", "words")
ENTITY_ATTENTION_MASKS = ("standard", "legacy")
EntityAttentionMask = Literal["standard", "legacy"]


@dataclass(frozen=True)
class EncodingSettings:
    """The settings that must be the same at training and inference to encode alike.

    - ``tokenization``: ``raw`` tokenizes each sentence's text at once (naist-nlp/luke-ner);
      ``words`` tokenizes word by word with a prefix space (the official LUKE reader).
    - ``pretokenize``: with ``raw``, tokenize word by word so that no token crosses a word
      boundary (``words`` always does).
    - ``max_mention_length``: longest candidate span, in subword tokens.
    - ``max_entity_length``: spans per model input (chunk).
    - ``span_chunking``: cut a sentence's spans into chunks of ``max_entity_length``; off,
      all its spans go into one input (naist-nlp/luke-ner's ``--no-entity-chunking``).
    - ``max_sequence_length``: word tokens per input, special tokens included. A sentence
      longer than that is encoded in overlapping windows (see ``lukener.spans.encoding``).
    - ``document_context``: fill each input with the sentences around it; off, each
      sentence is encoded alone.
    - ``entity_attention_mask``: ``standard``, or ``legacy`` to feed the mask the original
      LUKE training code computed (``entity_ids != 0``), which some checkpoints need.
    """

    tokenization: str = "raw"
    pretokenize: bool = False
    max_mention_length: int = 16
    max_entity_length: int = 64
    max_sequence_length: int = 512
    entity_attention_mask: str = "standard"
    document_context: bool = True
    span_chunking: bool = True

    def __post_init__(self) -> None:
        if self.tokenization not in TOKENIZATION_UNITS:
            raise LukenerError(
                f"tokenization must be one of {', '.join(TOKENIZATION_UNITS)}, "
                f"not {self.tokenization!r}"
            )
        if self.entity_attention_mask not in ENTITY_ATTENTION_MASKS:
            raise LukenerError(
                f"entity attention mask must be one of {', '.join(ENTITY_ATTENTION_MASKS)}, "
                f"not {self.entity_attention_mask!r}"
            )
        for name, most in LIMITS.items():
            value = getattr(self, name)
            if value < 1:
                raise LukenerError(f"{name.replace('_', '-')} must be at least 1")
            if value > most:
                # Work and memory grow with these: a checkpoint asking for more is damaged
                # or hostile, and an option asking for more would not finish.
                raise LukenerError(
                    f"{name.replace('_', '-')} {value} is more than lukener takes ({most})"
                )
        if self.max_sequence_length < self.max_mention_length + 2:
            raise LukenerError(
                "max-sequence-length must leave room for the longest span and the two "
                f"special tokens (at least {self.max_mention_length + 2})"
            )

    def with_overrides(self, **overrides: Any) -> EncodingSettings:
        """A copy with the given settings replaced; ``None`` values keep the current one."""
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        per_input = (
            f"{self.max_entity_length} per input" if self.span_chunking else "all in one input"
        )
        context = "in document context" if self.document_context else "sentences alone"
        return (
            f"{self.tokenization} tokenization, spans up to {self.max_mention_length} subwords, "
            f"{per_input}, {context}"
        )

    @classmethod
    def from_json(cls, data: dict[str, Any], source: str | Path | None = None) -> EncodingSettings:
        """Settings read from ``lukener.json``; a value of the wrong type names the file."""
        values: dict[str, Any] = {}
        for setting in fields(cls):
            if setting.name not in data:
                continue
            value, default = data[setting.name], setting.default
            # bool is an int in Python, and "16" is not a number: the types must match.
            if type(value) is not type(default):
                raise LukenerError(
                    f"encoding.{setting.name} must be {type(default).__name__} like "
                    f"{json.dumps(default)}, not {json.dumps(value)}",
                    source,
                )
            values[setting.name] = value
        try:
            return cls(**values)
        except LukenerError as error:
            raise LukenerError(f"encoding: {error.message}", source) from None


@dataclass(frozen=True)
class EncodingOverrides:
    """Settings given over those saved with a checkpoint; ``None`` keeps the checkpoint's
    (training: lukener's defaults)."""

    PANEL: ClassVar[str] = "Encoding"

    entity_attention_mask: Annotated[
        EntityAttentionMask | None,
        Option(
            "legacy reproduces the mask of the original LUKE training code "
            "(all zero for lite entity vocabularies; needed by "
            "mluke-large-lite-finetuned-conll-2003). Default: the checkpoint's."
        ),
    ] = None
    max_entity_length: Annotated[
        int | None,
        Option("Spans per model input. Default: the checkpoint's; 64 in training.", min=1),
    ] = None
    max_mention_length: Annotated[
        int | None,
        Option("Longest span in subwords. Default: the checkpoint's; 16 in training.", min=1),
    ] = None
    document_context: Annotated[
        bool | None,
        Option(
            "Encode sentences in their document's context, or alone. Default: the "
            "checkpoint's; in context in training.",
            flags=("--document-context/--no-document-context",),
        ),
    ] = None

    def to_dict(self) -> dict[str, Any]:
        """The overrides given, by setting name."""
        return {k: v for k, v in asdict(self).items() if v is not None}


def save_settings(directory: str | Path, settings: EncodingSettings, **extra: Any) -> None:
    with atomic_text_writer(Path(directory) / SETTINGS_FILE) as stream:
        stream.write(json.dumps({"encoding": settings.to_json(), **extra}, indent=2) + "\n")


def load_settings_file(directory: str | Path) -> dict[str, Any] | None:
    """The raw content of ``lukener.json`` in a checkpoint directory, if there is one."""
    path = Path(directory) / SETTINGS_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise LukenerError(f"broken JSON at line {error.lineno}: {error.msg}", path) from None
    if not isinstance(data, dict):
        raise LukenerError("expected a JSON object", path)
    return data
