"""Checkpoints carry the files transformers 4.x's slow LUKE/mLUKE tokenizers read, and
those files tokenize exactly as the fast tokenizer does."""

from __future__ import annotations

import json
from pathlib import Path

from lukener.modeling.legacy_tokenizer_files import write_legacy_tokenizer_files
from tests.tiny_models import corpus_sentences

SENTENCES = corpus_sentences(50)[:40] + corpus_sentences()[-20:]  # English and Japanese


def test_luke_vocab_and_merges_tokenize_as_the_fast_tokenizer(luke_tokenizer, tmp_path) -> None:
    from tokenizers import ByteLevelBPETokenizer

    written = write_legacy_tokenizer_files(tmp_path, luke_tokenizer)
    assert written == ["vocab.json", "merges.txt", "entity_vocab.json"]
    slow = ByteLevelBPETokenizer(str(tmp_path / "vocab.json"), str(tmp_path / "merges.txt"))
    for sentence in SENTENCES:
        fast = luke_tokenizer.backend_tokenizer.encode(sentence, add_special_tokens=False).ids
        assert slow.encode(sentence).ids == fast, sentence
    assert json.loads((tmp_path / "entity_vocab.json").read_text()) == dict(
        luke_tokenizer.entity_vocab
    )


def test_mluke_sentencepiece_model_has_the_slow_tokenizer_ids(mluke_tokenizer, tmp_path) -> None:
    import sentencepiece as spm

    written = write_legacy_tokenizer_files(tmp_path, mluke_tokenizer)
    assert written == ["sentencepiece.bpe.model", "entity_vocab.json"]
    processor = spm.SentencePieceProcessor(model_file=str(tmp_path / "sentencepiece.bpe.model"))
    # The slow MLukeTokenizer maps a SentencePiece id i >= 3 to i + 1 (fairseq offset) and
    # <unk> (0) to the unknown id (3 in mLUKE's files; the tiny fixture's fast model says 0).
    unk = json.loads(mluke_tokenizer.backend_tokenizer.to_str())["model"]["unk_id"]
    compared = 0
    for sentence in SENTENCES:
        fast = mluke_tokenizer.backend_tokenizer.encode(sentence, add_special_tokens=False).ids
        slow = [i + 1 if i else unk for i in processor.encode(sentence)]
        assert slow == fast, sentence
        compared += len(fast)
    assert compared > 500
    assert processor.id_to_piece(0) == "<unk>"
    pieces = mluke_tokenizer.convert_ids_to_tokens(list(range(4, len(processor) + 1)))
    assert [processor.id_to_piece(i) for i in range(3, len(processor))] == pieces
    assert mluke_tokenizer.convert_ids_to_tokens(len(processor) + 1) == "<mask>"


def test_training_writes_them_into_the_checkpoint(trained_luke: Path) -> None:
    for name in ("vocab.json", "merges.txt", "entity_vocab.json", "tokenizer.json"):
        assert (trained_luke / name).is_file(), name
