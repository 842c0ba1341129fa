"""The Hugging Face ``Trainer`` of span models: its loss through the forward the run chose,
its evaluation lukener's own, its checkpoints marked complete.

Imports transformers' Trainer: import this module where training runs, not at start-up.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import torch
from transformers import Trainer
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

from lukener.data.documents import Document
from lukener.modeling.forward_choice import ChosenForward, packed_training_applies
from lukener.modeling.packed_inference import PackedSpanClassifier
from lukener.modeling.span_model import SpanModel
from lukener.tasks.evaluation import EvaluationResult, ProcessShare, evaluate_documents
from lukener.tasks.run_checkpoints import mark_complete, save_failure
from lukener.tasks.run_options import RunOptions

T = TypeVar("T")


class ListDataset(torch.utils.data.Dataset[T]):
    """Training chunks, or validation documents (read by the span evaluation)."""

    def __init__(self, items: Sequence[T]):
        self.items = list(items)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> T:
        return self.items[index]


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
        forward: ChosenForward,
        **kwargs: Any,
    ):
        super().__init__(*args, **kwargs)
        self.span_model = span_model
        self.validation_documents = validation_documents
        self.chosen_forward = forward
        # Set once for the whole run; evaluation keeps it (its own choice could differ).
        self.linear_products = forward.linear_products or "blas"

    def compute_loss(
        self,
        model: Any,
        inputs: dict[str, Any],
        return_outputs: bool = False,
        num_items_in_batch: Any = None,
    ) -> Any:
        """The packed forward (products over real tokens only) and transformers' loss,
        cross-entropy averaged over the batch's real spans, where the run chose it and the
        Trainer needs nothing of its own (see ``packed_training_applies``); transformers'
        own forward and loss otherwise."""
        custom_loss = self.label_smoother is not None or self.compute_loss_func is not None
        unwrapped = self.accelerator.unwrap_model(model)
        if not packed_training_applies(self.chosen_forward, model, unwrapped, custom_loss):
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        labels = inputs["labels"]
        features = {k: v for k, v in inputs.items() if k != "labels"}
        logits = PackedSpanClassifier(model)(**features)
        loss = torch.nn.functional.cross_entropy(logits.view(-1, logits.size(-1)), labels.view(-1))
        return (loss, {"loss": loss, "logits": logits}) if return_outputs else loss

    def evaluate_span_model(self, documents: Sequence[Document] | None = None) -> EvaluationResult:
        model = self.accelerator.unwrap_model(self.model)
        return evaluate_documents(
            replace(self.span_model, model=model),
            self.validation_documents if documents is None else documents,
            # The training's threads, not a new measurement that sees training's own load.
            run=RunOptions(
                batch_size=self.args.per_device_eval_batch_size,
                threads=torch.get_num_threads(),
                linear_products=self.linear_products,  # type: ignore[arg-type]
            ),
            share=process_share(self.accelerator.process_index, self.accelerator.num_processes),
        )

    def _save_checkpoint(self, model: Any, trial: Any) -> None:
        folder = Path(self._get_output_dir(trial=trial)) / (
            f"{PREFIX_CHECKPOINT_DIR}-{self.state.global_step}"
        )
        try:
            super()._save_checkpoint(model, trial)
            if self.args.should_save:
                mark_complete(folder)
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
