"""Tiny random LUKE and mLUKE checkpoints with tokenizers trained on the fly.

LUKE: a byte-level BPE tokenizer; mLUKE: a SentencePiece unigram model. Each comes with
a ``lite`` entity vocabulary (``[MASK]`` = 0, as the lite checkpoints) or a full one
(``[PAD]`` = 0, ``[MASK]`` = 2, as luke-large).
"""

from __future__ import annotations

import io
import json
import tempfile
from pathlib import Path
from typing import Any

import torch

from lukener.data.corpora import japanese_source, wnut16_source

LITE_ENTITY_VOCAB = {"[MASK]": 0, "[UNK]": 1, "[PAD]": 2, "[MASK2]": 3}
FULL_ENTITY_VOCAB = {"[PAD]": 0, "[UNK]": 1, "[MASK]": 2, "[MASK2]": 3}


def corpus_sentences(limit: int = 2000) -> list[str]:
    """Raw sentences of the offline corpora to train the tiny tokenizers on."""
    sentences: list[str] = []
    for path, separator in ((wnut16_source(), " "), (japanese_source(), "")):
        words: list[str] = []
        for line in path.read_text(encoding="utf-8").split("\n"):
            if line.strip():
                words.append(line.split("\t")[0])
            elif words:
                sentences.append(separator.join(words))
                words = []
    english = [s for s in sentences if " " in s][:limit]
    return english + [s for s in sentences if " " not in s]


def build_luke_tokenizer(lite: bool) -> Any:
    from tokenizers import ByteLevelBPETokenizer
    from transformers import LukeTokenizer

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(
        corpus_sentences(),
        vocab_size=800,
        min_frequency=2,
        special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"],
        show_progress=False,
    )
    with tempfile.TemporaryDirectory() as directory:
        bpe.save_model(directory)
        merges_text = (Path(directory) / "merges.txt").read_text(encoding="utf-8")
    merges = [
        tuple(line.split(" ")) for line in merges_text.splitlines() if line and line[0] != "#"
    ]
    return LukeTokenizer(
        vocab=bpe.get_vocab(),
        merges=merges,
        entity_vocab=LITE_ENTITY_VOCAB if lite else FULL_ENTITY_VOCAB,
        task="entity_span_classification",
        max_entity_length=64,
        max_mention_length=16,
    )


def build_mluke_tokenizer(lite: bool) -> Any:
    import sentencepiece as spm
    from transformers import MLukeTokenizer

    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(corpus_sentences()),
        model_writer=model,
        vocab_size=2000,
        model_type="unigram",
        character_coverage=1.0,
        minloglevel=2,
    )
    processor = spm.SentencePieceProcessor(model_proto=model.getvalue())
    # fairseq order, as XLM-R and mLUKE: <s> <pad> </s> <unk>, the pieces, then <mask>.
    pieces = [("<s>", 0.0), ("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)]
    pieces += [(processor.id_to_piece(i), processor.get_score(i)) for i in range(3, len(processor))]
    pieces.append(("<mask>", 0.0))
    return MLukeTokenizer(
        vocab=pieces,
        entity_vocab=LITE_ENTITY_VOCAB if lite else FULL_ENTITY_VOCAB,
        task="entity_span_classification",
        max_entity_length=64,
        max_mention_length=16,
    )


def build_checkpoint(
    directory: Path, tokenizer: Any, labels: list[str] | None = None, seed: int = 0
) -> Path:
    """Save a tiny random LUKE encoder (or span model, with ``labels``) and its tokenizer."""
    from transformers import LukeConfig, LukeForEntitySpanClassification, LukeModel

    torch.manual_seed(seed)
    config = LukeConfig(
        vocab_size=len(tokenizer),
        entity_vocab_size=4,
        hidden_size=32,
        entity_emb_size=16,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=258,
        type_vocab_size=1,
        use_entity_aware_attention=True,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.cls_token_id,
        eos_token_id=tokenizer.sep_token_id,
    )
    if labels is None:
        model: Any = LukeModel(config)
    else:
        config.id2label = dict(enumerate(["O", *labels]))
        config.label2id = {label: i for i, label in config.id2label.items()}
        model = LukeForEntitySpanClassification(config)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def main() -> None:
    """``python -m tests.tiny_models DIR``: tiny random pretrained LUKE and mLUKE, for
    trying lukener offline (their scores mean nothing but that the pipeline runs)."""
    import sys

    target = Path(sys.argv[1] if len(sys.argv) > 1 else "runs")
    luke = build_checkpoint(target / "tiny-luke", build_luke_tokenizer(lite=False))
    mluke = build_checkpoint(target / "tiny-mluke", build_mluke_tokenizer(lite=True))
    print(f"tiny pretrained LUKE in {luke}, tiny mLUKE (lite entity vocabulary) in {mluke}")


if __name__ == "__main__":
    main()
