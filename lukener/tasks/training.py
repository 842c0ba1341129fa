"""Fine-tuning a span model with the Hugging Face ``Trainer``.

Works on one device or many (``torchrun``, ``accelerate launch``): the ``Trainer``
handles the processes, and only the main process writes the final files.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import torch

from lukener.data.documents import Document
from lukener.errors import LukenerError
from lukener.files.output_directory import claimed_output_directory
from lukener.modeling.checkpoints import first_line
from lukener.modeling.fused_attention import set_span_attention
from lukener.modeling.legacy_tokenizer_files import write_legacy_tokenizer_files
from lukener.modeling.linear_products import LINEAR_PRODUCTS, use_linear_products
from lukener.modeling.loading import SpanModel, load_span_model
from lukener.modeling.luke_layout import layout_problems
from lukener.modeling.packed_inference import PackedSpanClassifier
from lukener.modeling.span_attention import span_attention_of
from lukener.spans.encoding import EncodingStats, SpanEncoder
from lukener.spans.metrics import Metrics
from lukener.spans.settings import save_settings
from lukener.tasks.evaluation import EvaluationResult, ProcessShare, evaluate_documents
from lukener.tasks.inference import collator_for
from lukener.tasks.model_card import model_card, push_to_hub
from lukener.tasks.options import RunOptions, TrainOptions
from lukener.tasks.threads import configure_threads
from lukener.tasks.trainer_args import parse_trainer_args, training_arguments
from lukener.tasks.training_chunks import TrainingChunks, redraw_callback

CHECKPOINTS_DIR = "checkpoints"
CARD_FILE = "README.md"
METRICS_FILE = "metrics.json"
LOG_FILE = "training_log.jsonl"
T = TypeVar("T")


@dataclass
class TrainResult:
    output_dir: Path
    metrics: Metrics | None
    train_stats: EncodingStats
    validation_stats: EncodingStats | None
    global_steps: int
    train_seconds: float
    steps_per_second: float
    labels: list[str] = field(default_factory=list)
    main_process: bool = True
    labels_without_training_data: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class ListDataset(torch.utils.data.Dataset[T]):
    """Training chunks, or validation documents (read by the span evaluation)."""

    def __init__(self, items: Sequence[T]):
        self.items = list(items)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> T:
        return self.items[index]


COMPLETE_MARKER = ".lukener-complete"


def is_complete(checkpoint: Path) -> bool:
    """A checkpoint lukener finished saving (marked after the Trainer wrote every file);
    one that a kill cut short has no marker and is never resumed from."""
    return (checkpoint / COMPLETE_MARKER).is_file()


def checkpoint_dirs(directory: Path) -> list[Path]:
    """``checkpoint-N`` folders under ``directory/checkpoints``, oldest first."""
    checkpoints = directory / CHECKPOINTS_DIR
    if not checkpoints.is_dir():
        return []
    found = [
        p
        for p in checkpoints.iterdir()
        if p.is_dir() and p.name.startswith("checkpoint-") and p.name[11:].isdigit()
    ]
    return sorted(found, key=lambda p: int(p.name[11:]))


def last_checkpoint(directory: Path) -> Path | None:
    """The newest complete checkpoint of a run, if any."""
    complete = [p for p in checkpoint_dirs(directory) if is_complete(p)]
    return complete[-1] if complete else None


def remove_incomplete_checkpoints(directory: Path) -> list[Path]:
    """Remove the checkpoints a kill left half-written (lukener's own files only)."""
    removed = [p for p in checkpoint_dirs(directory) if not is_complete(p)]
    for checkpoint in removed:
        shutil.rmtree(checkpoint, ignore_errors=True)
    return removed


def is_main_process() -> bool:
    """Whether this is the process that writes (rank 0 under torchrun or accelerate)."""
    return os.environ.get("RANK", "0") == "0"


def save_failure(directory: Path, error: BaseException) -> LukenerError:
    return LukenerError(
        f"cannot save a checkpoint: {first_line(error)} (is the disk full or read-only?)",
        directory,
    )


def distributed_backend() -> str | None:
    """gloo for several CPU processes (torchrun on a machine without GPUs), else the default."""
    several = int(os.environ.get("WORLD_SIZE", "1")) > 1
    return "gloo" if several and not torch.cuda.is_available() else None


# Parameters a span model starts without (the classifier is new, or relabelled): with
# --head-learning-rate they learn at their own rate.
HEAD_PREFIXES = ("classifier.",)


def parameter_groups(
    model: Any, rate: float, head_rate: float, weight_decay: float
) -> list[dict[str, Any]]:
    """AdamW parameter groups: the head (:data:`HEAD_PREFIXES`) at ``head_rate``, the rest at
    ``rate``; no decay on biases and LayerNorms; frozen parameters left out."""
    groups: dict[tuple[bool, bool], list[torch.nn.Parameter]] = {}
    for name, parameter in model.named_parameters():
        if not parameter.requires_grad:
            continue
        head = name.startswith(HEAD_PREFIXES)
        decayed = not (name.endswith(".bias") or "LayerNorm" in name or "layer_norm" in name)
        groups.setdefault((head, decayed), []).append(parameter)
    return [
        {
            "params": parameters,
            "lr": head_rate if head else rate,
            "weight_decay": weight_decay if decayed else 0.0,
        }
        for (head, decayed), parameters in groups.items()
    ]


def build_optimizer(model: Any, options: TrainOptions) -> torch.optim.Optimizer:
    """AdamW as naist-nlp/luke-ner sets it up (betas 0.9/0.98, eps 1e-6, no decay on biases
    and LayerNorms), with the head at ``--head-learning-rate`` when given.

    The Trainer's linear schedule scales every group alike, so the head's rate keeps its
    ratio to the encoder's through warmup and decay.
    """
    head_rate = options.head_learning_rate or options.learning_rate
    return adamw(
        parameter_groups(model, options.learning_rate, head_rate, options.weight_decay),
        lr=options.learning_rate,
        betas=(0.9, 0.98),
        eps=1e-6,
    )


FUSED_ADAMW_DEVICES = frozenset({"cpu", "cuda"})


def adamw(groups: list[dict[str, Any]], lr: float, **settings: Any) -> torch.optim.AdamW:
    """torch's AdamW, fused (one kernel updates every parameter: the Trainer's own default
    optimizer, ``adamw_torch_fused``) where all parameters are floating point on a device
    that has the fused kernel; the per-tensor loop elsewhere (the same update, up to rounding)."""
    parameters = [p for group in groups for p in group["params"]]
    fused = all(p.is_floating_point() and p.device.type in FUSED_ADAMW_DEVICES for p in parameters)
    return torch.optim.AdamW(groups, lr=lr, fused=fused or None, **settings)


def process_share(rank: int, size: int) -> ProcessShare:
    """This process's share of an evaluation; several processes gather through
    ``torch.distributed`` (one ``all_gather_object`` per evaluation)."""
    if size == 1:
        return ProcessShare()

    def gather(item: Any) -> list[Any]:
        gathered: list[Any] = [None] * size
        torch.distributed.all_gather_object(gathered, item)
        return gathered

    return ProcessShare(rank, size, gather)


def _span_trainer_class() -> type:
    from transformers import Trainer

    class SpanTrainer(Trainer):
        """A Trainer whose evaluation is lukener's: predict the validation documents with the
        model as it is now and score them against their gold, exactly as `lukener evaluate`.

        Under several processes each predicts its share of the documents and one gather
        brings the predictions together, so every process scores the whole set alike and
        the best-F1 choice agrees across processes.
        """

        def __init__(
            self,
            *args: Any,
            span_model: SpanModel,
            validation_documents: Sequence[Document],
            packed: bool | None = None,
            linear_products: str = "auto",
            **kwargs: Any,
        ):
            super().__init__(*args, **kwargs)
            self.span_model = span_model
            self.validation_documents = validation_documents
            if packed is None:  # the faster where measured (see TrainOptions.padded_forward)
                packed = self.args.device.type == "cpu"
            self.packed = packed and not layout_problems(span_model.model)
            # Set once for the whole run; evaluation keeps it (its own choice could differ).
            self.linear_products = (
                use_linear_products(span_model.model, linear_products)
                if self.args.device.type == "cpu"
                else "blas"
            )

        def compute_loss(
            self,
            model: Any,
            inputs: dict[str, Any],
            return_outputs: bool = False,
            num_items_in_batch: Any = None,
        ) -> Any:
            """The packed forward (products over real tokens only) and transformers' loss,
            cross-entropy averaged over the batch's real spans. Under several processes
            (the wrapper must run the forward to synchronise gradients), with label
            smoothing or a custom loss, transformers' own forward runs instead."""
            plain = (
                not self.packed
                or self.label_smoother is not None
                or self.compute_loss_func is not None
                or model is not self.accelerator.unwrap_model(model)
            )
            if plain:
                return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
            labels = inputs["labels"]
            features = {k: v for k, v in inputs.items() if k != "labels"}
            logits = PackedSpanClassifier(model)(**features)
            loss = torch.nn.functional.cross_entropy(
                logits.view(-1, logits.size(-1)), labels.view(-1)
            )
            return (loss, {"loss": loss, "logits": logits}) if return_outputs else loss

        def evaluate_span_model(
            self, documents: Sequence[Document] | None = None
        ) -> EvaluationResult:
            model = self.accelerator.unwrap_model(self.model)
            return evaluate_documents(
                replace(self.span_model, model=model),
                self.validation_documents if documents is None else documents,
                # The training's threads, not a new measurement that sees training's own load.
                run=RunOptions(
                    batch_size=self.args.per_device_eval_batch_size,
                    threads=torch.get_num_threads(),
                    linear_products=self.linear_products,
                ),
                share=process_share(self.accelerator.process_index, self.accelerator.num_processes),
            )

        def _save_checkpoint(self, model: Any, trial: Any) -> None:
            from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

            folder = Path(self._get_output_dir(trial=trial)) / (
                f"{PREFIX_CHECKPOINT_DIR}-{self.state.global_step}"
            )
            try:
                super()._save_checkpoint(model, trial)
                if self.args.should_save:
                    (folder / COMPLETE_MARKER).write_text("complete\n", encoding="utf-8")
            except Exception as error:  # noqa: BLE001 (torch, safetensors and OS errors alike)
                raise save_failure(folder, error) from None

        def evaluate(
            self,
            eval_dataset: Any = None,
            ignore_keys: Any = None,
            metric_key_prefix: str = "eval",
        ) -> dict[str, float]:
            documents = None
            if eval_dataset is not None:
                if not isinstance(eval_dataset, ListDataset):
                    raise TypeError("SpanTrainer.evaluate takes a ListDataset of documents")
                documents = eval_dataset.items
            result = self.evaluate_span_model(documents)
            micro = result.metrics.micro
            metrics = {
                f"{metric_key_prefix}_precision": micro.precision,
                f"{metric_key_prefix}_recall": micro.recall,
                f"{metric_key_prefix}_f1": micro.f1,
                f"{metric_key_prefix}_macro_f1": result.metrics.macro_f1,
            }
            self.log(metrics)
            self.control = self.callback_handler.on_evaluate(
                self.args, self.state, self.control, metrics
            )
            return metrics

    return SpanTrainer


def train(options: TrainOptions) -> TrainResult:
    """Fine-tune ``options.model`` on ``options.train``; the best epoch by validation F1
    is kept. Returns what the run measured.

    The output directory is claimed first (see ``lukener.files.output_directory``): it must
    not hold an input, nothing lukener did not write there is ever removed, and two runs
    cannot share it.
    """
    resume_from = None
    if options.resume:
        resume_from = last_checkpoint(options.output_dir)
        if resume_from is None:
            raise LukenerError("--resume: no saved checkpoint to resume from", options.output_dir)
    if not is_main_process():
        return _train(options, resume_from)
    inputs: list[tuple[str, str | Path | None]] = [
        ("--model", options.model),
        ("--train", options.train),
        ("--validation", options.validation),
    ]
    with claimed_output_directory(options.output_dir, inputs, options.overwrite, options.resume):
        if options.resume:
            remove_incomplete_checkpoints(options.output_dir)
        return _train(options, resume_from)


def unencodable_gold(span_model: SpanModel, documents: Sequence[Document]) -> tuple[int, int]:
    """``(gold entities that cannot be encoded, all gold entities)`` under the model's
    encoding settings: no candidate span has their boundaries or they are too long."""
    encoder = SpanEncoder(span_model.tokenizer, span_model.settings)
    missing = total = 0
    for document in documents:
        _, stats = encoder.encode_windows(document)
        missing += len(stats.unencodable)
        total += stats.gold_entities
    return missing, total


def with_chosen_pretokenize(span_model: SpanModel, documents: Sequence[Document]) -> SpanModel:
    """The model, set to tokenize word by word if that lets more of the training entities
    be encoded than tokenizing each sentence at once.

    A tokenizer whose pieces cross word boundaries (SentencePiece on Japanese or Chinese,
    where every character is a word) puts many entity boundaries inside a piece, and those
    entities are never candidates: 107 of 1,044 in the Japanese corpus with
    multilingual-e5-small at 16 subwords, 1 pretokenized. Where pieces keep to words (BERT's
    WordPiece on English) both counts agree and the sentence-at-once default stays.
    """
    settings = span_model.settings
    if settings.tokenization != "raw" or settings.pretokenize:
        return span_model
    raw_missing, total = unencodable_gold(span_model, documents)
    if raw_missing == 0:
        return span_model
    pretokenized = replace(span_model, settings=replace(settings, pretokenize=True))
    word_missing, _ = unencodable_gold(pretokenized, documents)
    if word_missing >= raw_missing:
        return span_model
    note = (
        f"--pretokenize chosen: tokenizing each sentence at once leaves {raw_missing} of the "
        f"{total} training entities unencodable (a piece crosses their boundary or they "
        f"are too long), word by word {word_missing}; saved with the checkpoint"
    )
    return replace(pretokenized, notes=[*span_model.notes, note])


def _train(options: TrainOptions, resume_from: Path | None) -> TrainResult:
    from transformers import EarlyStoppingCallback, TrainerCallback, set_seed

    from lukener.data.convert import ConllOptions
    from lukener.data.sources import read_documents

    if options.linear_products not in LINEAR_PRODUCTS:
        raise LukenerError(f"--linear-products must be one of {', '.join(LINEAR_PRODUCTS)}")
    if not torch.cuda.is_available():
        configure_threads(options.threads)
    conll = ConllOptions(no_space=options.no_space, label_map=options.label_map)
    extra_arguments = parse_trainer_args(options.trainer_arg)
    if "optim" in extra_arguments and options.head_learning_rate is not None:
        raise LukenerError(
            "--head-learning-rate needs lukener's AdamW; drop it or --trainer-arg optim"
        )
    train_documents = read_documents(options.train, conll)
    labels = sorted({e.label for d in train_documents for x in d.examples for e in x.entities})
    if not labels:
        raise LukenerError("the training data has no entities", options.train)
    validation_documents = None
    unseen: list[str] = []
    if options.validation is not None:
        validation_documents = read_documents(options.validation, conll)
        # A type only the validation data has gets a label (so it is scored, as misses)
        # but no training signal: reported, not fatal.
        unseen = sorted(
            {e.label for d in validation_documents for x in d.examples for e in x.entities}
            - set(labels)
        )
        labels = sorted([*labels, *unseen])

    set_seed(options.seed)  # before the new classification head is initialised
    span_model = load_span_model(
        options.model,
        labels=labels,
        overrides={
            "tokenization": options.tokenization,
            "pretokenize": options.pretokenize,
            "max_entity_length": options.max_entity_length,
            "max_mention_length": options.max_mention_length,
            "max_sequence_length": options.max_sequence_length,
            "entity_attention_mask": "standard",
            "document_context": options.document_context,
            "span_chunking": options.span_chunking,
        },
        device="cpu",  # the Trainer places the model
    )
    if options.span_attention is not None:
        try:
            set_span_attention(span_model.model, options.span_attention)
        except ValueError as error:
            raise LukenerError(f"--span-attention: {error}") from None
    if options.pretokenize is None:
        span_model = with_chosen_pretokenize(span_model, train_documents)
    label2id = {label: i for i, label in span_model.id2label.items()}
    encoder = SpanEncoder(
        span_model.tokenizer, span_model.settings, label2id, options.negative_rate, options.seed
    )
    train_dataset = TrainingChunks(encoder, train_documents, options.fresh_negatives, options.seed)
    train_stats = train_dataset.stats

    has_validation = bool(validation_documents)
    settings = {
        "output_dir": str(options.output_dir / CHECKPOINTS_DIR),
        "num_train_epochs": options.epochs,
        "max_steps": options.max_steps,
        "per_device_train_batch_size": options.batch_size,
        "per_device_eval_batch_size": options.eval_batch_size,
        "gradient_accumulation_steps": options.gradient_accumulation_steps,
        "learning_rate": options.learning_rate,
        "weight_decay": options.weight_decay,
        "warmup_steps": options.warmup_ratio,
        "lr_scheduler_type": "linear",
        "adam_beta1": 0.9,
        "adam_beta2": 0.98,
        "adam_epsilon": 1e-6,
        "max_grad_norm": options.max_grad_norm,
        "seed": options.seed,
        "bf16": options.bf16,
        "fp16": options.fp16,
        "eval_strategy": "epoch" if has_validation else "no",
        "save_strategy": "epoch",
        "save_total_limit": 2,
        "load_best_model_at_end": has_validation,
        "metric_for_best_model": "f1" if has_validation else None,
        "greater_is_better": True if has_validation else None,
        "logging_steps": options.logging_steps,
        "report_to": "none",
        "remove_unused_columns": False,
        "dataloader_num_workers": 0,
        "dataloader_pin_memory": torch.cuda.is_available(),
        "ddp_backend": distributed_backend(),
        "train_sampling_strategy": "group_by_length" if options.group_by_length else "random",
    }
    arguments = training_arguments(settings, extra_arguments)
    callbacks: list[TrainerCallback] = [redraw_callback(train_dataset)]
    if options.early_stopping_patience and has_validation:
        callbacks.append(
            EarlyStoppingCallback(early_stopping_patience=options.early_stopping_patience)
        )
    trainer = _span_trainer_class()(
        span_model=span_model,
        validation_documents=validation_documents or [],
        model=span_model.model,
        args=arguments,
        data_collator=collator_for(span_model),
        train_dataset=train_dataset,
        eval_dataset=ListDataset(validation_documents or []) if has_validation else None,
        callbacks=callbacks,
        packed=None if options.padded_forward is None else not options.padded_forward,
        linear_products=options.linear_products,
        optimizers=(
            None if "optim" in extra_arguments else build_optimizer(span_model.model, options),
            None,
        ),
    )
    output = trainer.train(resume_from_checkpoint=None if resume_from is None else str(resume_from))

    metrics = None
    validation_stats = None
    if validation_documents:
        final = trainer.evaluate_span_model()
        metrics, validation_stats = final.metrics, final.stats
    if trainer.is_world_process_zero():
        try:
            save_checkpoint(trainer, span_model, options, metrics, labels, extra_arguments)
        except Exception as error:  # noqa: BLE001 (torch, safetensors and OS errors alike)
            raise save_failure(options.output_dir, error) from None
        if options.push_to_hub:
            push_to_hub(options.output_dir, options.push_to_hub)
        if not options.keep_checkpoints:
            # Intermediate checkpoints (optimizer states included) only serve --resume.
            shutil.rmtree(options.output_dir / CHECKPOINTS_DIR, ignore_errors=True)
    return TrainResult(
        output_dir=options.output_dir,
        metrics=metrics,
        train_stats=train_stats,
        validation_stats=validation_stats,
        global_steps=trainer.state.global_step,
        train_seconds=float(output.metrics.get("train_runtime", 0.0)),
        steps_per_second=float(output.metrics.get("train_steps_per_second", 0.0)),
        labels=labels,
        main_process=trainer.is_world_process_zero(),
        labels_without_training_data=unseen,
        notes=list(span_model.notes),
    )


def save_checkpoint(
    trainer: Any,
    span_model: SpanModel,
    options: TrainOptions,
    metrics: Metrics | None,
    labels: Sequence[str] = (),
    extra_arguments: dict[str, Any] | None = None,
) -> None:
    """The output directory: a Hugging Face checkpoint, lukener's files and a model card."""
    directory = options.output_dir
    trainer.save_model(str(directory))
    span_model.tokenizer.save_pretrained(str(directory))
    write_legacy_tokenizer_files(directory, span_model.tokenizer)
    save_settings(
        directory,
        span_model.settings,
        entity_vocab={"[MASK]": span_model.entity_mask_id, "[PAD]": span_model.entity_pad_id},
        trained_from=options.model,
    )
    if metrics is not None:
        (directory / METRICS_FILE).write_text(
            json.dumps(metrics.to_json(), indent=2) + "\n", encoding="utf-8"
        )
    with (directory / LOG_FILE).open("w", encoding="utf-8") as log:
        for entry in trainer.state.log_history:
            log.write(json.dumps(entry) + "\n")
    (directory / CARD_FILE).write_text(
        card_for(options, span_model, metrics, labels, extra_arguments or {}), encoding="utf-8"
    )


def card_for(
    options: TrainOptions,
    span_model: SpanModel,
    metrics: Metrics | None,
    labels: Sequence[str],
    extra_arguments: dict[str, Any],
) -> str:
    """The checkpoint's model card, from what this run used and measured."""
    hyperparameters: dict[str, Any] = {
        "epochs": options.epochs,
        "batch size": options.batch_size,
        "learning rate": options.learning_rate,
        "classifier learning rate": options.head_learning_rate or options.learning_rate,
        "weight decay": options.weight_decay,
        "warmup ratio": options.warmup_ratio,
        "gradient norm clipped to": options.max_grad_norm or "no clipping",
        "negative span rate": options.negative_rate,
        "negatives": "drawn afresh each epoch" if options.fresh_negatives else "drawn once",
        "span attention": span_attention_of(span_model.model.config),
        "seed": options.seed,
        **{f"TrainingArguments.{k}": v for k, v in extra_arguments.items()},
    }
    datasets = [Path(str(p)).name for p in (options.train, options.validation) if p is not None]
    return model_card(
        repo_hint=options.push_to_hub or options.output_dir.name,
        base_model=options.model,
        labels=labels,
        languages=[x.strip() for x in (options.language or "").split(",") if x.strip()],
        license_name=options.license,
        datasets=datasets,
        metrics=metrics,
        metrics_split="validation",
        hyperparameters=hyperparameters,
        encoding=span_model.settings.to_json(),
    )
