"""Loading span models and their tokenizers from a hub id or a local checkpoint."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import torch

from lukener.errors import LukenerError
from lukener.modeling.adoption import adopt_encoder
from lukener.modeling.checkpoints import first_line, load_config, load_tokenizer
from lukener.modeling.fused_attention import install_fused_attention
from lukener.modeling.span_attention import span_attention_of
from lukener.modeling.span_model import NON_ENTITY_LABEL, NON_ENTITY_NAMES, SpanModel
from lukener.spans.settings import SETTINGS_FILE, EncodingSettings, load_settings_file


def entity_special_ids(tokenizer: Any, saved: dict[str, Any] | None) -> tuple[int, int]:
    """The ``[MASK]`` and ``[PAD]`` entity ids: from a LUKE/mLUKE tokenizer, else saved."""
    mask = getattr(tokenizer, "entity_mask_token_id", None)
    pad = getattr(tokenizer, "entity_pad_token_id", None)
    if (mask is None or pad is None) and saved:
        vocab = saved.get("entity_vocab", {})
        mask, pad = vocab.get("[MASK]"), vocab.get("[PAD]")
    if mask is None or pad is None:
        raise LukenerError("cannot tell the entity [MASK] and [PAD] ids of this checkpoint")
    return int(mask), int(pad)


def load_span_model(
    name_or_path: str,
    labels: list[str] | None = None,
    overrides: dict[str, Any] | None = None,
    device: str | None = None,
    fused_attention: bool = True,
    onnx: bool = False,
) -> SpanModel:
    """Load a span model from a hub id or a directory.

    With ``labels`` (entity labels, without the non-entity one), a new classification
    head is made for them (training from a pretrained LUKE or mLUKE); otherwise the
    checkpoint's own ``id2label`` is used, whose label 0 is the non-entity label.
    ``overrides`` replace encoding settings saved with the checkpoint. With
    ``fused_attention`` (the default) the entity-aware attention runs as one fused call
    per layer, with the same results (see fused_attention.py). With ``onnx``, the
    directory's exported ``model.onnx`` runs the model (see onnx_export.py); no weights
    are loaded.
    """
    from transformers import LukeForEntitySpanClassification

    config = load_config(name_or_path)
    saved = load_settings_file(name_or_path) if Path(name_or_path).is_dir() else None
    if config.model_type != "luke":
        if labels is None:
            raise LukenerError(
                f"{name_or_path!r} is a {config.model_type!r} encoder, not a LUKE span model: "
                f"train one from it first (lukener train --model {name_or_path} ...)"
            )
        adopted = _adopted_span_model(name_or_path, labels, overrides, device)
        _install_attention(adopted.model, fused_attention, name_or_path)
        return adopted
    tokenizer = load_tokenizer(name_or_path)

    if labels is None:
        id2label = {int(i): str(label) for i, label in config.id2label.items()}
        if not id2label or 0 not in id2label:
            raise LukenerError(f"{name_or_path!r} has no id2label with a non-entity label 0")
        misplaced = [i for i, name in id2label.items() if name in NON_ENTITY_NAMES and i != 0]
        if misplaced:
            raise LukenerError(
                f"{name_or_path!r}: the non-entity label must be label 0, found it at {misplaced}"
            )

    if onnx:
        return _onnx_span_model(name_or_path, config, tokenizer, saved, overrides, id2label)
    notes: list[str] = []
    try:
        loaded: Any = LukeForEntitySpanClassification.from_pretrained(
            name_or_path, config=config, output_loading_info=True
        )
    except Exception as error:  # noqa: BLE001 (safetensors, pickle, torch errors alike)
        raise LukenerError(
            f"cannot load the weights of {name_or_path!r}: {first_line(error)} "
            "(a truncated or damaged weights file? download or copy it again)"
        ) from None
    model, loading = loaded
    if labels is not None:
        id2label = dict(enumerate([NON_ENTITY_LABEL, *labels]))
        trained_head = "classifier.weight" not in loading.get("missing_keys", [])
        notes.extend(relabel_head(model, id2label, keep_rows=trained_head))

    if saved is None:
        notes.append(
            f"{name_or_path} has no {SETTINGS_FILE}: encoding with lukener's defaults "
            f"({EncodingSettings().describe()}); if it was trained otherwise, pass those "
            "settings as options"
        )
    settings = _settings(config, saved, overrides, name_or_path)
    mask_id, pad_id = entity_special_ids(tokenizer, saved)
    model = cast(Any, model).to(_device(device))
    _install_attention(model, fused_attention, name_or_path)
    return SpanModel(model, tokenizer, settings, id2label, mask_id, pad_id, name_or_path, notes)


def _install_attention(model: Any, fused_attention: bool, name_or_path: str) -> None:
    """The fused attention; required (not only faster) when the model's span attention is
    not LUKE's full one, which transformers' own attention cannot apply."""
    try:
        mode = span_attention_of(model.config)
    except ValueError as error:
        raise LukenerError(f"{name_or_path!r}, config.json: {error}") from None
    installed = install_fused_attention(model) if fused_attention else 0
    if mode != "full" and not installed:
        raise LukenerError(
            f"{name_or_path!r} was trained with span attention {mode!r}, which needs lukener's "
            "fused attention"
            + ("" if fused_attention else " (it was turned off)")
            + ": this transformers version's LUKE layout does not allow it (see luke_layout.py)"
        )


def _onnx_span_model(
    name_or_path: str,
    config: Any,
    tokenizer: Any,
    saved: dict[str, Any] | None,
    overrides: dict[str, Any] | None,
    id2label: dict[int, str],
) -> SpanModel:
    from transformers import LukeForEntitySpanClassification

    from lukener.modeling.onnx_export import ONNX_FILE

    path = Path(name_or_path) / ONNX_FILE
    if not path.is_file():
        raise LukenerError(
            f"no {ONNX_FILE} here: export the checkpoint first (lukener export CHECKPOINT DIR)",
            name_or_path,
        )
    with torch.device("meta"):  # the structure for the settings and labels, no weights
        model = LukeForEntitySpanClassification(config)
    settings = _settings(config, saved, overrides, name_or_path)
    mask_id, pad_id = entity_special_ids(tokenizer, saved)
    return SpanModel(
        model, tokenizer, settings, id2label, mask_id, pad_id, name_or_path, [], onnx_path=path
    )


def relabel_head(model: Any, id2label: dict[int, str], keep_rows: bool) -> list[str]:
    """Give ``model`` a classifier for ``id2label`` (label 0: non-entity).

    With ``keep_rows`` (the checkpoint's head was trained), each label the checkpoint knows
    keeps its row, matched by name (the non-entity label by position 0), and the others
    start fresh. Returns notes saying which labels were kept, new or dropped.
    """
    config = model.config
    old = {int(i): str(label) for i, label in config.id2label.items()}
    old_index = {label: i for i, label in old.items() if i != 0}
    old_classifier = model.classifier
    classifier = torch.nn.Linear(old_classifier.in_features, len(id2label))
    torch.nn.init.normal_(classifier.weight, std=config.initializer_range)
    torch.nn.init.zeros_(classifier.bias)
    kept, fresh = [], []
    with torch.no_grad():
        for i, label in id2label.items():
            source = 0 if i == 0 else old_index.get(label)
            if keep_rows and source is not None:
                classifier.weight[i] = old_classifier.weight[source]
                classifier.bias[i] = old_classifier.bias[source]
                kept.append(label)
            elif i != 0:
                fresh.append(label)
    model.classifier = classifier.to(old_classifier.weight.device, old_classifier.weight.dtype)
    model.num_labels = config.num_labels = len(id2label)
    config.id2label = dict(id2label)
    config.label2id = {label: i for i, label in id2label.items()}
    if not keep_rows:
        return []
    notes = [
        "the checkpoint's classifier keeps its rows for "
        + (", ".join(kept[1:]) or "no entity label")
        + "; new labels start fresh: "
        + (", ".join(fresh) or "none")
    ]
    dropped = sorted(set(old_index) - set(id2label.values()))
    if dropped:
        notes.append(
            f"the checkpoint's labels not in the training data are dropped: {', '.join(dropped)}"
        )
    return notes


def _device(device: str | None) -> str:
    return device or ("cuda" if torch.cuda.is_available() else "cpu")


def _settings(
    config: Any,
    saved: dict[str, Any] | None,
    overrides: dict[str, Any] | None,
    source: str | None = None,
) -> EncodingSettings:
    """Saved settings (or lukener's defaults), overridden, within the model's positions."""
    settings = EncodingSettings()
    if saved is not None and isinstance(saved.get("encoding"), dict):
        where = None if source is None else Path(source) / SETTINGS_FILE
        settings = EncodingSettings.from_json(saved["encoding"], where)
    settings = settings.with_overrides(**(overrides or {}))
    model_limit = position_limit(config)
    if settings.max_sequence_length > model_limit:
        settings = settings.with_overrides(max_sequence_length=model_limit)
    return settings


def position_limit(config: Any) -> int:
    """The most tokens one input may have: RoBERTa-style positions start after the
    padding index."""
    return int(config.max_position_embeddings - config.pad_token_id - 1)


def _adopted_span_model(
    name_or_path: str, labels: list[str], overrides: dict[str, Any] | None, device: str | None
) -> SpanModel:
    """A new LUKE span model built from a BERT/RoBERTa/XLM-R encoder (see adoption.py)."""
    id2label = dict(enumerate([NON_ENTITY_LABEL, *labels]))
    model, tokenizer, entity_vocab = adopt_encoder(name_or_path, id2label=id2label)
    settings = _settings(model.config, None, overrides)
    model = model.to(_device(device))
    return SpanModel(
        model,
        tokenizer,
        settings,
        id2label,
        entity_vocab["[MASK]"],
        entity_vocab["[PAD]"],
        name_or_path,
    )
