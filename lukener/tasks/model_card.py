"""The model card (``README.md``, Hugging Face format) written into every checkpoint, and
the upload of a checkpoint to the hub."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lukener.files.output_paths import checked_inside
from lukener.spans.metrics import Metrics

# Files a checkpoint directory holds that are lukener's bookkeeping, not the model.
NOT_UPLOADED = (".lukener-output", ".lukener-lock", ".lukener-complete")


def _yaml_list(values: Sequence[str]) -> str:
    return "".join(f"\n- {json.dumps(v, ensure_ascii=False)}" for v in values)


def model_card(
    *,
    repo_hint: str,
    base_model: str,
    labels: Sequence[str],
    languages: Sequence[str],
    license_name: str,
    datasets: Sequence[str],
    metrics: Metrics | None,
    metrics_split: str,
    hyperparameters: dict[str, Any],
    encoding: dict[str, Any],
) -> str:
    """A model card: YAML header (language, license, datasets, metrics, tags), then labels,
    scores per type, hyperparameters, and how to load the model."""
    header = ["---"]
    if languages:
        header.append("language:" + _yaml_list(languages))
    header.append(f"license: {license_name}")
    header.append("library_name: transformers")
    header.append("pipeline_tag: token-classification")
    header.append("tags:" + _yaml_list(["lukener", "luke", "ner", "span-classification"]))
    if base_model and not Path(base_model).exists():
        header.append(f"base_model: {base_model}")
    if datasets:
        header.append("datasets:" + _yaml_list(datasets))
    header.append("metrics:" + _yaml_list(["precision", "recall", "f1"]))
    if metrics is not None:
        header.append("model-index:")
        header.append(f"- name: {json.dumps(repo_hint)}")
        header.append("  results:")
        header.append("  - task: {type: token-classification, name: Named Entity Recognition}")
        header.append(
            f"    dataset: {{name: {json.dumps(datasets[0] if datasets else 'custom')}, "
            f"type: {json.dumps(datasets[0] if datasets else 'custom')}, "
            f"split: {metrics_split}}}"
        )
        header.append("    metrics:")
        for name in ("precision", "recall", "f1"):
            value = getattr(metrics.micro, name)
            header.append(f"    - {{type: {name}, value: {value:.4f}, name: micro {name}}}")
    header.append("---")

    lines = [
        f"# {repo_hint}",
        "",
        (
            "A LUKE-style span classification model for named entity recognition, fine-tuned "
            f"with [lukener](https://pypi.org/project/lukener/) from `{base_model}`."
        ),
        "",
        "## Labels",
        "",
        ", ".join(f"`{label}`" for label in labels),
        "",
    ]
    if metrics is not None:
        lines += [
            f"## Scores ({metrics_split}, exact span match)",
            "",
            "| type | precision | recall | F1 | support |",
            "| --- | ---: | ---: | ---: | ---: |",
        ]
        for label, score in sorted(metrics.per_type.items()):
            lines.append(
                f"| {label} | {100 * score.precision:.2f} | {100 * score.recall:.2f} | "
                f"{100 * score.f1:.2f} | {metrics.per_type_counts.get(label, {}).get('gold', 0)} |"
            )
        micro = metrics.micro
        lines.append(
            f"| **micro** | {100 * micro.precision:.2f} | {100 * micro.recall:.2f} | "
            f"{100 * micro.f1:.2f} | {metrics.gold} |"
        )
        lines.append("")
    lines += ["## Training", "", "| setting | value |", "| --- | --- |"]
    for key, value in hyperparameters.items():
        lines.append(f"| {key} | `{value}` |")
    lines += ["", "Encoding (saved in `lukener.json`, used again at inference):", ""]
    lines.append("```json\n" + json.dumps(encoding, indent=2) + "\n```")
    lines += [
        "",
        "## Use",
        "",
        "With lukener (candidate spans, document context and decoding as in training):",
        "",
        "```sh",
        f"lukener predict text.txt --checkpoint {repo_hint}",
        "```",
        "",
        "```python",
        "import lukener",
        "",
        f"tagger = lukener.load({json.dumps(repo_hint)})",
        'print(tagger("Jane Smith works for Acme in Berlin."))',
        "```",
        "",
        "With transformers alone (you build the candidate spans: character offsets of every",
        "span to classify, as `LukeTokenizer`'s `entity_spans`):",
        "",
        *_attention_warning(hyperparameters.get("span attention", "full")),
        "```python",
        "from transformers import AutoTokenizer, LukeForEntitySpanClassification",
        "",
        f"model = LukeForEntitySpanClassification.from_pretrained({json.dumps(repo_hint)})",
        f"tokenizer = AutoTokenizer.from_pretrained({json.dumps(repo_hint)})",
        "```",
        "",
    ]
    return "\n".join(header) + "\n\n" + "\n".join(lines)


def _attention_warning(mode: str) -> list[str]:
    if mode == "full":
        return []
    return [
        f"This model was trained with span attention `{mode}` (config `span_attention`): its",
        "words do not attend to the spans"
        + (", and each span only to its own words." if mode == "inside" else "."),
        "transformers' own forward does not apply that and gives other logits; lukener does.",
        "",
    ]


def upload_plan(directory: str | Path) -> list[str]:
    """The files a hub upload sends: every file of the checkpoint but lukener's own
    bookkeeping, relative to ``directory``, sorted."""
    root = Path(directory)
    return sorted(
        str(checked_inside(path, root, "checkpoint").relative_to(root))
        for path in root.rglob("*")
        if path.is_file() and path.name not in NOT_UPLOADED and ".lukener-tmp" not in path.name
    )


def push_to_hub(directory: str | Path, repo_id: str, api: Any = None) -> list[str]:
    """Upload the checkpoint to ``repo_id`` (created if needed) through ``huggingface_hub``;
    returns the uploaded files."""
    if api is None:
        from huggingface_hub import HfApi

        api = HfApi()
    files = upload_plan(directory)
    api.create_repo(repo_id=repo_id, exist_ok=True)
    api.upload_folder(
        folder_path=str(directory),
        repo_id=repo_id,
        allow_patterns=files,
        commit_message="Upload lukener checkpoint",
    )
    return files
