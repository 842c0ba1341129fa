"""lukener's one coupling to transformers' LUKE code: the module names, classes and call
signatures that fused attention, packed inference and encoder adoption rely on.

Packed inference and fused attention run transformers' own LUKE layers piece by piece
(the query/key/value products, the attention output, the feed-forward part, the span
classifier), so they depend on how ``transformers.models.luke.modeling_luke`` names and
nests its submodules. Everything they reach is listed here, read through
:func:`span_model_parts` and :func:`attention_parts`, and checked by :func:`layout_problems`.

Checked against transformers 5.24.0 (``LukeForEntitySpanClassification`` of
``modeling_luke.py``: ``luke.embeddings``, ``luke.entity_embeddings``,
``luke.encoder.layer[i].{attention.self, attention.output, intermediate, output}``,
``classifier``). A transformers release that renames or re-nests any of these makes
:func:`layout_problems` name what moved; lukener then runs transformers' own forward
instead (same results, slower), and the test suite fails with that message.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, cast

import torch
from torch import nn

CHECKED_TRANSFORMERS_VERSIONS = ("5.24.0",)

# Attribute path from the span model -> the transformers class expected there.
SPAN_MODEL_MODULES: dict[str, str] = {
    "luke": "LukeModel",
    "luke.embeddings": "LukeEmbeddings",
    "luke.entity_embeddings": "LukeEntityEmbeddings",
    "luke.encoder": "LukeEncoder",
    "luke.encoder.layer": "ModuleList",
    "classifier": "Linear",
    "dropout": "Dropout",
}
# Attribute path from each ``LukeLayer`` -> expected class.
LAYER_MODULES: dict[str, str] = {
    "attention.self": "LukeSelfAttention",
    "attention.output": "LukeSelfOutput",
    "intermediate": "LukeIntermediate",
    "output": "LukeOutput",
}
# A linear layer, full precision or dynamically quantized (--quantize int8): the fast
# layers only call it.
LINEAR_LAYERS: tuple[type, ...] = (nn.Linear, torch.ao.nn.quantized.dynamic.Linear)
WORD_QUERY_KEY_VALUE = ("query", "key", "value")
ENTITY_AWARE_QUERIES = ("w2e_query", "e2w_query", "e2e_query")
SELF_ATTENTION_SIZES = ("num_attention_heads", "attention_head_size", "all_head_size")
# Call signatures the fast layers call or override: class -> leading parameter names.
FORWARD_PARAMETERS: dict[str, tuple[str, ...]] = {
    "LukeEmbeddings": ("input_ids",),
    "LukeEntityEmbeddings": ("entity_ids", "position_ids", "token_type_ids"),
    "LukeSelfAttention": (
        "word_hidden_states",
        "entity_hidden_states",
        "attention_mask",
        "output_attentions",
    ),
    "LukeSelfOutput": ("hidden_states", "input_tensor"),
    "LukeIntermediate": ("hidden_states",),
    "LukeOutput": ("hidden_states", "input_tensor"),
}
# State-dict names under ``encoder.layer.N`` that LUKE shares with BERT-family encoders
# (adoption copies them one to one).
SHARED_LAYER_WEIGHTS = (
    "attention.self.query",
    "attention.self.key",
    "attention.self.value",
    "attention.output.dense",
    "attention.output.LayerNorm",
    "intermediate.dense",
    "output.dense",
    "output.LayerNorm",
)


@dataclass(frozen=True)
class AttentionParts:
    """The pieces of one ``LukeSelfAttention`` that the fast layers compute with."""

    query: nn.Module
    key: nn.Module
    value: nn.Module
    # (w2e, e2w, e2e) with entity-aware attention, else None.
    entity_queries: tuple[nn.Module, nn.Module, nn.Module] | None
    heads: int
    head_dim: int
    dropout: nn.Dropout


@dataclass(frozen=True)
class LayerParts:
    """One ``LukeLayer``: self-attention, then its output, intermediate and output parts."""

    attention: AttentionParts
    attention_output: nn.Module
    intermediate: nn.Module
    output: nn.Module


@dataclass(frozen=True)
class SpanModelParts:
    """A ``LukeForEntitySpanClassification`` as the fast layers see it."""

    word_embeddings: nn.Module
    entity_embeddings: nn.Module
    layers: list[LayerParts]
    classifier: nn.Module
    # Applied to the span features before the classifier (in training).
    dropout: nn.Module


def _get(module: Any, path: str) -> Any:
    for name in path.split("."):
        module = getattr(module, name)
    return module


def attention_parts(attention: Any) -> AttentionParts:
    """The parts of a ``LukeSelfAttention`` (its layers are the module's own)."""
    entity_queries = None
    if attention.use_entity_aware_attention:
        entity_queries = (attention.w2e_query, attention.e2w_query, attention.e2e_query)
    return AttentionParts(
        query=attention.query,
        key=attention.key,
        value=attention.value,
        entity_queries=entity_queries,
        heads=int(attention.num_attention_heads),
        head_dim=int(attention.attention_head_size),
        dropout=attention.dropout,
    )


def span_model_parts(model: Any) -> SpanModelParts:
    """The parts of a span model, in the layout :data:`CHECKED_TRANSFORMERS_VERSIONS` have."""
    layers = [
        LayerParts(
            attention=attention_parts(layer.attention.self),
            attention_output=layer.attention.output,
            intermediate=layer.intermediate,
            output=layer.output,
        )
        for layer in model.luke.encoder.layer
    ]
    return SpanModelParts(
        word_embeddings=model.luke.embeddings,
        entity_embeddings=model.luke.entity_embeddings,
        layers=layers,
        classifier=model.classifier,
        dropout=model.dropout,
    )


def _forward_problem(module: Any) -> str | None:
    """Whether the transformers class of ``module`` (itself or the parent lukener's fused
    attention derives from) still takes the arguments the fast layers pass."""
    found = [cls for cls in type(module).__mro__ if cls.__name__ in FORWARD_PARAMETERS]
    if not found:
        return None
    name = found[-1].__name__
    expected = FORWARD_PARAMETERS[name]
    parameters = list(inspect.signature(cast(Any, found[-1]).forward).parameters)[
        1 : len(expected) + 1
    ]
    if tuple(parameters) != expected:
        return f"{name}.forward takes ({', '.join(parameters)}), expected ({', '.join(expected)})"
    return None


def _module_problems(root: Any, expected: dict[str, str], where: str) -> list[str]:
    problems = []
    for path, class_name in expected.items():
        try:
            module = _get(root, path)
        except AttributeError:
            problems.append(f"{where}{path} is missing")
            continue
        # A subclass (such as lukener's fused attention) keeps its parent's layout.
        names = {cls.__name__ for cls in type(module).__mro__}
        if class_name not in names:
            problems.append(f"{where}{path} is a {type(module).__name__}, expected {class_name}")
            continue
        if path != "attention.self":  # checked with the rest of the attention
            problem = _forward_problem(module)
            if problem is not None:
                problems.append(problem)
    return problems


def attention_problems(attention: Any, where: str = "") -> list[str]:
    """What in one ``LukeSelfAttention`` differs from the layout fused attention needs."""
    forward = _forward_problem(attention)
    problems = [] if forward is None else [forward]
    problems += [
        f"{where}attention.self.{name} is missing"
        for name in (*SELF_ATTENTION_SIZES, "use_entity_aware_attention", "dropout")
        if not hasattr(attention, name)
    ]
    if problems:
        return problems
    linears = list(WORD_QUERY_KEY_VALUE)
    if attention.use_entity_aware_attention:
        linears.extend(ENTITY_AWARE_QUERIES)
    for name in linears:
        layer = getattr(attention, name, None)
        if not isinstance(layer, LINEAR_LAYERS):
            problems.append(f"{where}attention.self.{name} is not a Linear layer")
    if attention.num_attention_heads * attention.attention_head_size != attention.all_head_size:
        problems.append(f"{where}attention.self: heads x head size != all_head_size")
    return problems


def layout_problems(model: Any) -> list[str]:
    """What in ``model`` differs from the LUKE layout the fast layers were written for
    (empty when it matches)."""
    problems = _module_problems(model, SPAN_MODEL_MODULES, "")
    if problems:
        return problems
    for number, layer in enumerate(model.luke.encoder.layer):
        where = f"luke.encoder.layer.{number}."
        found = _module_problems(layer, LAYER_MODULES, where)
        if not found:
            found = attention_problems(layer.attention.self, where)
        problems.extend(found)
        if found:
            break  # the first layer that differs says it
    return problems


def layout_report(problems: list[str]) -> str:
    """One message for :func:`layout_problems`, with the versions the layout was checked on."""
    import transformers

    return (
        f"transformers {transformers.__version__} changed LUKE's layers: "
        + "; ".join(problems)
        + ". lukener's fast layers were checked against transformers "
        + ", ".join(CHECKED_TRANSFORMERS_VERSIONS)
        + " (see lukener/modeling/luke_layout.py)"
    )
