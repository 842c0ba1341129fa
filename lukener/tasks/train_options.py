"""``lukener train``'s options, in groups (see ``lukener.declared_options``): the data, how
it is encoded, the optimization, speed, the output directory and the model card. Each
group is one section of ``lukener train --help``, and each function of the training takes
the groups it needs. The defaults are naist-nlp/luke-ner's.

Training also takes fields of groups declared elsewhere: how gold input is read
(:data:`TRAIN_FIELDS`), three encoding overrides and the CPU options of ``RunOptions``.
Light on purpose: no torch, no transformers.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from lukener.data.reading_options import ReadingOptions
from lukener.declared_options import Option
from lukener.spans.settings import EncodingOverrides, EncodingSettings
from lukener.tasks.run_options import SPEED_PANEL, RunOptions

Tokenization = Literal["raw", "words"]
SpanAttention = Literal["full", "one-way", "isolated", "inside"]

DATA_PANEL = "Data"
ENCODING_PANEL = "Encoding"


@dataclass(frozen=True)
class TrainData:
    """What to train on, and from which model."""

    PANEL: ClassVar[str] = DATA_PANEL

    train: Annotated[
        Path, Option("Training documents: JSONL, CoNLL, span JSON or a dataset (DIR[:SPLIT]).")
    ]
    model: Annotated[
        str, Option("Pretrained LUKE/mLUKE or BERT-family encoder: directory or hub id.")
    ]
    validation: Annotated[
        Path | None, Option("Validation documents: F1 each epoch picks the best.")
    ] = None


@dataclass(frozen=True)
class TrainEncoding:
    """How training encodes its inputs (saved with the checkpoint)."""

    PANEL: ClassVar[str] = ENCODING_PANEL

    max_sequence_length: Annotated[
        int | None,
        Option(
            "Subwords per input, the sentence and its document context (saved with the "
            "checkpoint). Default: the model's maximum; lower is faster with less context.",
            min=3,
        ),
    ] = None
    tokenization: Annotated[
        Tokenization, Option("raw (each sentence at once) or words (word by word).")
    ] = "raw"
    pretokenize: Annotated[
        bool | None,
        Option(
            "raw: keep tokens inside word boundaries (saved with the checkpoint). Default: "
            "on when it lets more training entities be encoded, as when a tokenizer's pieces "
            "cross the word (character) boundaries of text without spaces.",
            flags=("--pretokenize/--no-pretokenize",),
        ),
    ] = None
    span_attention: Annotated[
        SpanAttention | None,
        Option(
            "What words and spans attend to (saved with the checkpoint): full (LUKE's: "
            "everything), one-way (words do not see the spans), isolated (also each span "
            "sees only the words and itself) or inside (each span sees only its own words "
            "and itself). Default: the model's own; inside for an encoder adopted as LUKE.",
        ),
    ] = None
    span_chunking: Annotated[
        bool,
        Option(
            "Cut a sentence's spans into inputs of --max-entity-length; off: one input each.",
            flags=("--span-chunking/--no-span-chunking",),
        ),
    ] = True


@dataclass(frozen=True)
class Optimization:
    """Steps, rates and what each step trains on."""

    PANEL: ClassVar[str] = "Optimization"

    epochs: Annotated[float, Option("Training epochs.", min=0)] = 5.0
    max_steps: Annotated[int, Option("Stop after this many steps (-1: epochs).")] = -1
    batch_size: Annotated[int, Option("Span chunks per training batch.", min=1)] = 8
    learning_rate: Annotated[float, Option("Peak learning rate (AdamW).", min=0)] = 1e-5
    head_learning_rate: Annotated[
        float | None,
        Option(
            "Peak learning rate of the classifier, which starts from scratch. "
            "Default: --learning-rate.",
            min=0,
        ),
    ] = None
    weight_decay: Annotated[float, Option("AdamW weight decay.", min=0)] = 0.01
    max_grad_norm: Annotated[
        float, Option("Clip the gradients' norm to this before each step (0: no clipping).", min=0)
    ] = 1.0
    warmup_ratio: Annotated[
        float, Option("Share of the steps with a rising learning rate.", min=0, max=0.999)
    ] = 0.06
    gradient_accumulation_steps: Annotated[
        int, Option("Batches summed before each optimizer step.", min=1)
    ] = 1
    negative_rate: Annotated[
        float,
        Option("Share of non-entity spans to train on (1: all; lower is faster).", min=0, max=1),
    ] = 1.0
    # Off by default: fresh draws lowered validation F1 where measured
    # (bench/results/ablation.md).
    fresh_negatives: Annotated[
        bool,
        Option(
            "With --negative-rate below 1, draw new non-entity spans each epoch (as many "
            "per sentence, so the steps stay the same); off, the same ones every epoch.",
            flags=("--fresh-negatives/--fixed-negatives",),
        ),
    ] = False
    group_by_length: Annotated[
        bool, Option("Batch inputs of similar length (less padding, faster).")
    ] = False
    early_stopping_patience: Annotated[
        int | None, Option("Stop after this many epochs without a better F1.", min=1)
    ] = None
    seed: Annotated[int, Option("Random seed (head initialisation, data order, negatives).")] = 42
    trainer_arg: Annotated[
        list[str] | None,
        Option(
            "A Hugging Face TrainingArguments setting, KEY=VALUE (repeatable): "
            "lr_scheduler_type=cosine, report_to=tensorboard, "
            "activation_checkpointing=true, deepspeed=ds.json, label_smoothing_factor=0.1, ...",
            metavar="KEY=VALUE",
        ),
    ] = None


@dataclass(frozen=True)
class TrainSpeed:
    """Precision, the forward and the validation batches (the CPU options are
    ``RunOptions``')."""

    PANEL: ClassVar[str] = SPEED_PANEL

    bf16: Annotated[bool, Option("bfloat16 mixed precision (GPU).")] = False
    fp16: Annotated[bool, Option("float16 mixed precision (GPU).")] = False
    eval_batch_size: Annotated[
        int, Option("Span chunks per batch when scoring the validation data.", min=1)
    ] = 32
    padded_forward: Annotated[
        bool | None,
        Option(
            "Train with transformers' padded forward, or the packed one (products over real "
            "tokens only; the same loss and gradients). Default: packed on a CPU, padded on "
            "a GPU, whichever measured faster there.",
            flags=("--padded-forward/--packed-forward",),
        ),
    ] = None


@dataclass(frozen=True)
class TrainOutput:
    """The output directory and what is kept there."""

    PANEL: ClassVar[str] = "Output"

    output_dir: Annotated[Path, Option("Where the checkpoint is written.")]
    overwrite: Annotated[bool, Option("Replace an existing output directory.")] = False
    resume: Annotated[bool, Option("Continue from the last saved checkpoint.")] = False
    keep_checkpoints: Annotated[bool, Option("Keep the per-epoch checkpoints.")] = False
    logging_steps: Annotated[int, Option("Log the loss every this many steps.", min=1)] = 50


@dataclass(frozen=True)
class ModelCardOptions:
    """What the model card says, and where the checkpoint is uploaded."""

    PANEL: ClassVar[str] = "Model card and hub"

    language: Annotated[
        str | None, Option("Language code(s) for the model card, comma-separated (en, ja).")
    ] = None
    license: Annotated[str, Option("License named in the model card.")] = "other"
    push_to_hub: Annotated[
        str | None, Option("Upload the checkpoint to this hub repository (user/name).")
    ] = None


# Fields of groups declared elsewhere that training takes, and the help section of each.
TRAIN_FIELDS: dict[str, tuple[tuple[str, ...], str]] = {
    "reading": (("no_space", "label_map"), DATA_PANEL),
    "encoding_overrides": (
        ("max_entity_length", "max_mention_length", "document_context"),
        ENCODING_PANEL,
    ),
    "run": (("threads", "linear_products"), SPEED_PANEL),
}


@dataclass(frozen=True)
class TrainOptions:
    """Everything ``lukener train`` is told, by group."""

    data: TrainData
    output: TrainOutput
    reading: ReadingOptions = field(default_factory=ReadingOptions)
    encoding: TrainEncoding = field(default_factory=TrainEncoding)
    encoding_overrides: EncodingOverrides = field(default_factory=EncodingOverrides)
    optimization: Optimization = field(default_factory=Optimization)
    speed: TrainSpeed = field(default_factory=TrainSpeed)
    run: RunOptions = field(default_factory=RunOptions)
    card: ModelCardOptions = field(default_factory=ModelCardOptions)

    @classmethod
    def of(cls, **options: Any) -> TrainOptions:
        """From ``lukener train``'s options as keywords (``train``, ``model`` and
        ``output_dir`` required); a keyword train does not take is a TypeError naming it."""
        groups: dict[str, Any] = {}
        remaining = dict(options)
        for group in dataclasses.fields(cls):
            group_type = _GROUP_TYPES[group.name]
            taken = TRAIN_FIELDS.get(group.name, (None, ""))[0]
            names = taken or tuple(f.name for f in dataclasses.fields(group_type))
            values = {k: remaining.pop(k) for k in list(remaining) if k in names}
            if values or group.name in ("data", "output"):
                groups[group.name] = group_type(**values)
        if remaining:
            known = sorted(train_option_names())
            raise TypeError(
                f"unknown option(s) {', '.join(sorted(remaining))}; known: {', '.join(known)}"
            )
        return cls(**groups)

    def encoding_settings(self) -> dict[str, Any]:
        """The encoding overrides a training run loads its model with: the options given,
        lukener's defaults for the three overrides left unset (not the checkpoint's)."""
        defaults = EncodingSettings()
        given = self.encoding_overrides.to_dict()
        return {
            "tokenization": self.encoding.tokenization,
            "pretokenize": self.encoding.pretokenize,
            "max_entity_length": given.get("max_entity_length", defaults.max_entity_length),
            "max_mention_length": given.get("max_mention_length", defaults.max_mention_length),
            "max_sequence_length": self.encoding.max_sequence_length,
            "entity_attention_mask": "standard",
            "document_context": given.get("document_context", defaults.document_context),
            "span_chunking": self.encoding.span_chunking,
        }


_GROUP_TYPES: dict[str, type] = {
    "data": TrainData,
    "output": TrainOutput,
    "reading": ReadingOptions,
    "encoding": TrainEncoding,
    "encoding_overrides": EncodingOverrides,
    "optimization": Optimization,
    "speed": TrainSpeed,
    "run": RunOptions,
    "card": ModelCardOptions,
}


def train_option_names() -> set[str]:
    """Every option ``lukener train`` takes, by field name."""
    names: set[str] = set()
    for group, group_type in _GROUP_TYPES.items():
        taken = TRAIN_FIELDS.get(group, (None, ""))[0]
        names.update(taken or (f.name for f in dataclasses.fields(group_type)))
    return names
