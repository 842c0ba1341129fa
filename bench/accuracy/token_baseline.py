"""The baseline the span model must beat: BIO token classification with the same encoder
(``AutoModelForTokenClassification``, the Hugging Face ``Trainer``, first subword labelled,
seqeval strict scoring)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from lukener.data.documents import Document, Entity, Example
from lukener.data.schemes import WordSpan, spans_to_tags, tags_to_spans
from lukener.spans.metrics import Metrics, score_documents


@dataclass
class BaselineResult:
    metrics: Metrics
    seqeval_f1: float
    seconds: float
    steps: int


def word_tags(example: Example) -> tuple[list[str], list[str]]:
    spans = example.word_spans()
    start_index = {s: i for i, (s, _) in enumerate(spans)}
    end_index = {e: i for i, (_, e) in enumerate(spans)}
    entities = [
        WordSpan(start_index[e.start], end_index[e.end] + 1, e.label) for e in example.entities
    ]
    return [example.text[s:e] for s, e in spans], spans_to_tags(entities, len(spans), "iob2")


# SentencePiece's word-start marker as a piece of its own.
BARE_WORD_START = "\u2581"


class _Features(torch.utils.data.Dataset[dict[str, Any]]):
    def __init__(self, items: list[dict[str, Any]]):
        self.items = items

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.items[index]


def _encode(
    tokenizer: Any, documents: list[Document], tag2id: dict[str, int]
) -> list[dict[str, Any]]:
    features = []
    for document in documents:
        for example in document.examples:
            words, tags = word_tags(example)
            encoding = tokenizer(words, is_split_into_words=True, truncation=True, max_length=512)
            tokens = tokenizer.convert_ids_to_tokens(encoding["input_ids"])
            labels = [-100] * len(tokens)
            labelled: set[int] = set()
            word_ids = encoding.word_ids()
            for position, word_id in enumerate(word_ids):
                if word_id is None or word_id in labelled:
                    continue
                # A SentencePiece tokenizer starts each word with a bare "▁" piece where the
                # word does not merge with it (every CJK character): the word's tag goes on
                # its first piece that holds text, so the tag is read from the character.
                following = position + 1 < len(tokens) and word_ids[position + 1] == word_id
                if tokens[position] == BARE_WORD_START and following:
                    continue
                labels[position] = tag2id[tags[word_id]]
                labelled.add(word_id)
            features.append({**encoding, "labels": labels})
    return features


def head_rate_optimizer(
    model: Any, rate: float, head_rate: float, weight_decay: float
) -> torch.optim.Optimizer:
    """The Trainer's AdamW (fused, with its betas and eps; no decay on biases and
    LayerNorms) with the classifier at ``head_rate``, grouped as lukener's span trainer
    groups its parameters; the Trainer's schedule scales both rates alike."""
    from lukener.tasks.optimizer import adamw, parameter_groups

    return adamw(parameter_groups(model, rate, head_rate, weight_decay), lr=rate)


@torch.inference_mode()
def predicted_ids(
    model: Any, collator: Any, features: list[dict[str, Any]], batch_size: int = 32
) -> list[list[int]]:
    """The arg-max tag id of each labelled (first-subword) position, feature by feature, in
    the order given. ``Trainer.predict`` is not used: with ``group_by_length`` transformers 5
    also length-groups the evaluation sampler, so its rows come back shuffled."""
    model.eval()
    device = next(model.parameters()).device
    rows: list[list[int]] = []
    for begin in range(0, len(features), batch_size):
        batch = collator(features[begin : begin + batch_size])
        labels = batch.pop("labels")
        logits = model(**{k: v.to(device) for k, v in batch.items()}).logits
        best = logits.argmax(-1).cpu()
        rows.extend(best[i][labels[i] != -100].tolist() for i in range(len(labels)))
    return rows


def train_and_score(
    encoder: str,
    train: list[Document],
    validation: list[Document],
    test: list[Document],
    output_dir: Path,
    epochs: float,
    learning_rate: float,
    batch_size: int,
    seed: int,
    head_learning_rate: float | None = None,
) -> tuple[BaselineResult, float]:
    """Train on ``train``; return test scores and the validation F1 (for tuning).

    ``head_learning_rate`` puts the new classifier at a rate of its own, as the span model
    has it (the Trainer's AdamW otherwise, every parameter at ``learning_rate``)."""
    from seqeval.metrics import f1_score
    from seqeval.scheme import IOB2
    from transformers import (
        AutoModelForTokenClassification,
        AutoTokenizer,
        DataCollatorForTokenClassification,
        Trainer,
        TrainingArguments,
        set_seed,
    )

    labels = sorted({e.label for d in train for x in d.examples for e in x.entities})
    tags = ["O"] + [f"{prefix}-{label}" for label in labels for prefix in "BI"]
    tag2id = {tag: i for i, tag in enumerate(tags)}
    set_seed(seed)
    tokenizer = AutoTokenizer.from_pretrained(encoder)
    model = AutoModelForTokenClassification.from_pretrained(
        encoder, num_labels=len(tags), id2label=dict(enumerate(tags)), label2id=tag2id
    )
    collator = DataCollatorForTokenClassification(tokenizer)
    arguments = TrainingArguments(
        output_dir=str(output_dir),
        num_train_epochs=epochs,
        per_device_train_batch_size=batch_size,
        learning_rate=learning_rate,
        weight_decay=0.01,
        warmup_steps=0.1,
        seed=seed,
        save_strategy="no",
        report_to="none",
        logging_steps=50,
        train_sampling_strategy="group_by_length",
        dataloader_pin_memory=torch.cuda.is_available(),
    )
    optimizer = None
    if head_learning_rate is not None:
        optimizer = head_rate_optimizer(model, learning_rate, head_learning_rate, 0.01)
    trainer = Trainer(
        model=model,
        args=arguments,
        train_dataset=_Features(_encode(tokenizer, train, tag2id)),
        data_collator=collator,
        optimizers=(optimizer, None),
    )
    started = time.perf_counter()
    output = trainer.train()
    seconds = time.perf_counter() - started

    def predict(documents: list[Document]) -> tuple[Metrics, float]:
        features = _encode(tokenizer, documents, tag2id)
        best = predicted_ids(trainer.model, collator, features)
        gold_tags, predicted_tags, predicted_documents = [], [], []
        row = 0
        for document in documents:
            examples = []
            for example in document.examples:
                words, gold = word_tags(example)
                predicted = [tags[i] for i in best[row]]
                predicted += ["O"] * (len(words) - len(predicted))  # truncated words
                row += 1
                gold_tags.append(gold)
                predicted_tags.append(predicted)
                spans, _ = tags_to_spans(predicted, "iob2")
                positions = example.word_spans()
                entities = [
                    Entity(positions[s.start][0], positions[s.end - 1][1], s.label) for s in spans
                ]
                examples.append(Example(example.id, example.text, entities, example.word_positions))
            predicted_documents.append(Document(document.id, examples))
        seqeval = f1_score(gold_tags, predicted_tags, mode="strict", scheme=IOB2)
        return score_documents(documents, predicted_documents), float(seqeval)

    test_metrics, test_seqeval = predict(test)
    validation_metrics, _ = predict(validation)
    result = BaselineResult(test_metrics, test_seqeval, seconds, int(output.global_step))
    return result, validation_metrics.micro.f1
