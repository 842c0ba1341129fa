"""The options of each task, declared once (see ``lukener.options``).

Light on purpose: no torch, no transformers, so the command line can build its flags from
these dataclasses without loading a model library.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from lukener.options import Option

# Declared once for predict/evaluate/compare and train (see lukener/modeling/linear_products.py).
LinearProducts = Annotated[
    str,
    Option(
        "How the linear layers multiply on a CPU (fp32): auto (oneDNN where it measures "
        "clearly faster than torch's BLAS for this model's shape on this CPU, else BLAS), "
        "onednn, or blas.",
    ),
]


@dataclass(frozen=True)
class RunOptions:
    """How to run a model over documents (not how to encode them)."""

    batch_size: Annotated[
        int | None,
        Option(
            "Most model inputs (span chunks) per batch. Default: 32 on a CPU, 256 on a GPU.", min=1
        ),
    ] = None
    max_batch_tokens: Annotated[
        int | None,
        Option(
            "Most padded tokens (words + spans) per batch; inputs are sorted by length. "
            "Default on a CPU: 1024 for a LUKE-base-sized model, more for smaller ones "
            "(up to 16384); 65536 on a GPU.",
            min=1,
        ),
    ] = None
    max_padding: Annotated[
        float | None,
        Option(
            "Most padding per real token before a batch is cut (only attention computes "
            "it). Default: 1.0 on a CPU; no limit on a GPU, where fuller batches pay.",
            min=0.0,
        ),
    ] = None
    precision: Annotated[
        str, Option("fp32, or bf16/fp16 autocast (for GPUs; bf16 also runs on CPUs).")
    ] = "fp32"
    compile_model: Annotated[
        bool, Option("torch.compile the model first.", flags=("--compile",))
    ] = False
    onnx: Annotated[
        bool,
        Option("Run the checkpoint's exported model.onnx (lukener export) in ONNX Runtime."),
    ] = False
    quantize: Annotated[
        str,
        Option(
            "none, or int8: dynamic int8 quantization of the linear layers (CPU only; "
            "faster, with a small F1 change; see the README).",
        ),
    ] = "none"
    nested: Annotated[bool, Option("Keep overlapping entity spans (no greedy decoding).")] = False
    threshold: Annotated[
        float,
        Option(
            "Drop entity candidates scored (probability) below this, before decoding.",
            min=0.0,
            max=1.0,
        ),
    ] = 0.0
    device: Annotated[
        str | None, Option("torch device, e.g. cpu or cuda:0. Default: cuda if present.")
    ] = None
    threads: Annotated[
        int | None,
        Option(
            "CPU threads. Default: the idle cores (all of them on an idle machine; fewer "
            "when other processes keep some busy).",
            min=1,
        ),
    ] = None
    linear_products: LinearProducts = "auto"


@dataclass(frozen=True)
class EvaluateOptions:
    """``lukener evaluate``: which checkpoint, on which gold, and where the scores go."""

    checkpoint: Annotated[str, Option("Checkpoint directory or hub id.")]
    data: Annotated[Path, Option("Gold documents: JSONL or CoNLL.")]
    output: Annotated[Path | None, Option("Write micro, macro, per_type and counts as JSON.")] = (
        None
    )
    thresholds: Annotated[
        str | None,
        Option(
            "Also score at each of these thresholds (0.3,0.5,0.7), from one prediction run, "
            "to pick --threshold on validation data.",
        ),
    ] = None


@dataclass(frozen=True)
class PredictOptions:
    """``lukener predict``: what to tag, with which checkpoint, and where it goes."""

    source: Annotated[str, Option("JSONL, CoNLL, text, or -.", argument=True, metavar="INPUT")]
    checkpoint: Annotated[str, Option("Checkpoint directory or hub id.")]
    output: Annotated[str | None, Option("File to write (default: standard output).")] = None
    output_format: Annotated[str, Option("jsonl or conll.")] = "jsonl"
    input_format: Annotated[str, Option("auto, jsonl, conll or text.")] = "auto"
    language: Annotated[
        str, Option("Raw text: auto, en, ja or zh (ja/zh: no spaces between words).")
    ] = "auto"


@dataclass(frozen=True)
class CompareOptions:
    """``lukener compare``: the rows (a spec and/or checkpoints), the data, the outputs."""

    spec: Annotated[
        Path | None,
        Option(
            "Benchmark spec (TOML), e.g. benchmarks/conll2003-en.toml.",
            argument=True,
            metavar="SPEC",
        ),
    ] = None
    data: Annotated[
        Path | None, Option("Test documents (JSONL or CoNLL); overrides the spec's.")
    ] = None
    checkpoint: Annotated[
        list[str] | None,
        Option("Extra row: CKPT, CKPT:legacy or CKPT:standard. Repeatable."),
    ] = None
    markdown: Annotated[Path | None, Option("Write the table as Markdown.")] = None
    json_path: Annotated[
        Path | None, Option("Write every row with its settings as JSON.", flags=("--json",))
    ] = None


@dataclass(frozen=True)
class TrainOptions:
    """``lukener train`` settings; the defaults are naist-nlp/luke-ner's."""

    train: Annotated[
        Path, Option("Training documents: JSONL, CoNLL, span JSON or a dataset (DIR[:SPLIT]).")
    ]
    model: Annotated[
        str, Option("Pretrained LUKE/mLUKE or BERT-family encoder: directory or hub id.")
    ]
    output_dir: Annotated[Path, Option("Where the checkpoint is written.")]
    validation: Annotated[
        Path | None, Option("Validation documents: F1 each epoch picks the best.")
    ] = None
    epochs: Annotated[float, Option("Training epochs.", min=0)] = 5.0
    max_steps: Annotated[int, Option("Stop after this many steps (-1: epochs).")] = -1
    batch_size: Annotated[int, Option("Span chunks per training batch.", min=1)] = 8
    eval_batch_size: Annotated[
        int, Option("Span chunks per batch when scoring the validation data.", min=1)
    ] = 32
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
    max_entity_length: Annotated[int, Option("Spans per input.", min=1)] = 64
    max_mention_length: Annotated[int, Option("Longest span, subwords.", min=1)] = 16
    max_sequence_length: Annotated[
        int | None,
        Option(
            "Subwords per input, the sentence and its document context (saved with the "
            "checkpoint). Default: the model's maximum; lower is faster with less context.",
            min=3,
        ),
    ] = None
    tokenization: Annotated[str, Option("raw (each sentence at once) or words (word by word).")] = (
        "raw"
    )
    pretokenize: Annotated[
        bool | None,
        Option(
            "raw: keep tokens inside word boundaries (saved with the checkpoint). Default: "
            "on when it lets more training entities be encoded, as when a tokenizer's pieces "
            "cross the word (character) boundaries of text without spaces.",
            flags=("--pretokenize/--no-pretokenize",),
        ),
    ] = None
    seed: Annotated[int, Option("Random seed (head initialisation, data order, negatives).")] = 42
    bf16: Annotated[bool, Option("bfloat16 mixed precision (GPU).")] = False
    fp16: Annotated[bool, Option("float16 mixed precision (GPU).")] = False
    resume: Annotated[bool, Option("Continue from the last saved checkpoint.")] = False
    overwrite: Annotated[bool, Option("Replace an existing output directory.")] = False
    early_stopping_patience: Annotated[
        int | None, Option("Stop after this many epochs without a better F1.", min=1)
    ] = None
    logging_steps: Annotated[int, Option("Log the loss every this many steps.", min=1)] = 50
    no_space: Annotated[bool, Option("CoNLL input: join words without spaces (ja, zh).")] = False
    keep_checkpoints: Annotated[bool, Option("Keep the per-epoch checkpoints.")] = False
    group_by_length: Annotated[
        bool, Option("Batch inputs of similar length (less padding, faster).")
    ] = False
    negative_rate: Annotated[
        float,
        Option("Share of non-entity spans to train on (1: all; lower is faster).", min=0, max=1),
    ] = 1.0
    # Off by default: at 3 epochs and a quarter of the negatives, fresh draws lowered
    # validation F1 on CoNLL-2003 and the Japanese corpus (bench/results/ablation.md).
    fresh_negatives: Annotated[
        bool,
        Option(
            "With --negative-rate below 1, draw new non-entity spans each epoch (as many "
            "per sentence, so the steps stay the same); off, the same ones every epoch.",
            flags=("--fresh-negatives/--fixed-negatives",),
        ),
    ] = False
    document_context: Annotated[
        bool,
        Option(
            "Encode each sentence in its document's context (saved with the checkpoint).",
            flags=("--document-context/--no-document-context",),
        ),
    ] = True
    span_attention: Annotated[
        str | None,
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
    label_map: Annotated[
        str | None,
        Option("Rename, merge or drop labels: PER=person,ORG=organization,MISC=- (- drops)."),
    ] = None
    trainer_arg: Annotated[
        list[str] | None,
        Option(
            "A Hugging Face TrainingArguments setting, KEY=VALUE (repeatable): "
            "lr_scheduler_type=cosine, report_to=tensorboard, "
            "activation_checkpointing=true, deepspeed=ds.json, label_smoothing_factor=0.1, ...",
            metavar="KEY=VALUE",
        ),
    ] = None
    language: Annotated[
        str | None, Option("Language code(s) for the model card, comma-separated (en, ja).")
    ] = None
    license: Annotated[str, Option("License named in the model card.")] = "other"
    push_to_hub: Annotated[
        str | None, Option("Upload the checkpoint to this hub repository (user/name).")
    ] = None
    threads: Annotated[
        int | None,
        Option(
            "CPU threads. Default: the idle cores (fewer when other processes are busy).", min=1
        ),
    ] = None
    # Packing skips the padding's products, which is most of the time on a CPU; on a GPU
    # the padded products are cheap and the packing's gathers cost more (an H200, LUKE-base
    # shape, bf16: 9.5 packed against 16.3 padded steps/s; bench/results/throughput.md).
    padded_forward: Annotated[
        bool | None,
        Option(
            "Train with transformers' padded forward, or the packed one (products over real "
            "tokens only; the same loss and gradients). Default: packed on a CPU, padded on "
            "a GPU, whichever measured faster there.",
            flags=("--padded-forward/--packed-forward",),
        ),
    ] = None
    linear_products: LinearProducts = "auto"


@dataclass(frozen=True)
class DemoOptions:
    """The quick default fits 10 minutes on 2 CPU cores; raise epochs for a better model."""

    output_dir: Annotated[Path, Option("Where the model is written.")] = Path("runs/demo")
    data_dir: Annotated[Path, Option("Where the WNUT-16 splits go.")] = Path("data")
    epochs: Annotated[float, Option("Training epochs.", min=0.01)] = 3.0
    # The encoder rate the span model (inside span attention, gradients clipped to 1.0)
    # picked on WNUT-16 validation from 1e-4..4e-4 (bench/results/accuracy.md).
    learning_rate: Annotated[float, Option("Peak learning rate (AdamW).", min=0)] = 2e-4
    # The new classifier learns at its own, higher rate: +7.9 validation F1 on WNUT-16 and
    # +11.0 on the Japanese corpus (bench/results/ablation.md).
    head_learning_rate: Annotated[
        float | None, Option("Peak learning rate of the new classifier.", min=0)
    ] = 1e-2
    batch_size: Annotated[int, Option("Span chunks per training batch.", min=1)] = 16
    # Fewer candidate spans keep the CPU run short: spans of up to 8 subwords cover all but
    # a few WNUT-16 entities (those are counted as misses), and a quarter of the
    # non-entity spans is enough to learn from.
    max_mention_length: Annotated[int, Option("Longest span, subwords.", min=1)] = 8
    negative_rate: Annotated[
        float, Option("Share of non-entity spans trained on.", min=0, max=1)
    ] = 0.25
    max_train_documents: Annotated[
        int | None, Option("Train on the first N tweets only (quicker).", min=1)
    ] = None
    seed: Annotated[int, Option("Random seed.")] = 42
