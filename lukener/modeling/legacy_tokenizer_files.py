"""The vocabulary files that transformers 4.x's slow ``LukeTokenizer`` and
``MLukeTokenizer`` read, written beside ``tokenizer.json`` so that naist-nlp/luke-ner and
older pipelines load lukener checkpoints.

- Byte-level BPE (LUKE): ``vocab.json`` and ``merges.txt``.
- Unigram (mLUKE, XLM-R's fairseq layout ``<s> <pad> </s> <unk>``, the SentencePiece pieces,
  then added tokens such as ``<mask>``): ``sentencepiece.bpe.model``, rebuilt from the pieces
  and scores with the SentencePiece ids the slow tokenizer expects (fast id - 1).
- Both: ``entity_vocab.json``.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

FAIRSEQ_SPECIALS = ("<s>", "<pad>", "</s>", "<unk>")


def write_legacy_tokenizer_files(directory: str | Path, tokenizer: Any) -> list[str]:
    """Write the slow tokenizers' files for ``tokenizer`` into ``directory``; returns the
    names written (none for a tokenizer model the slow LUKE classes cannot read, such as
    WordPiece)."""
    target = Path(directory)
    data = json.loads(tokenizer.backend_tokenizer.to_str())
    model = data["model"]
    written = []
    if model["type"] == "BPE":
        (target / "vocab.json").write_text(
            json.dumps(model["vocab"], ensure_ascii=False), encoding="utf-8"
        )
        merges = [m if isinstance(m, str) else " ".join(m) for m in model["merges"]]
        (target / "merges.txt").write_text(
            "#version: 0.2\n" + "".join(f"{m}\n" for m in merges), encoding="utf-8"
        )
        written += ["vocab.json", "merges.txt"]
    elif model["type"] == "Unigram" and _fairseq_layout(model["vocab"]):
        added = {token["id"] for token in data.get("added_tokens", [])}
        proto = sentencepiece_model(model["vocab"], added, data.get("normalizer"))
        (target / "sentencepiece.bpe.model").write_bytes(proto)
        written.append("sentencepiece.bpe.model")
    entity_vocab = getattr(tokenizer, "entity_vocab", None)
    if written and entity_vocab:
        (target / "entity_vocab.json").write_text(
            json.dumps(dict(entity_vocab), ensure_ascii=False), encoding="utf-8"
        )
        written.append("entity_vocab.json")
    return written


def _fairseq_layout(vocab: list[list[Any]]) -> bool:
    return tuple(piece for piece, _ in vocab[:4]) == FAIRSEQ_SPECIALS


def _precompiled_charsmap(normalizer: dict[str, Any] | None) -> bytes | None:
    if not normalizer:
        return None
    if normalizer.get("type") == "Precompiled":
        return base64.b64decode(normalizer["precompiled_charsmap"])
    for inner in normalizer.get("normalizers", []) or []:
        found = _precompiled_charsmap(inner)
        if found is not None:
            return found
    return None


def sentencepiece_model(
    vocab: list[list[Any]], added_ids: set[int], normalizer: dict[str, Any] | None
) -> bytes:
    """A serialized SentencePiece unigram model whose id ``i`` is fast-tokenizer id
    ``i + 1`` (``<unk>`` = 0, ``<s>`` = 1, ``</s>`` = 2, as XLM-R's)."""
    from sentencepiece import sentencepiece_model_pb2

    pb: Any = sentencepiece_model_pb2  # generated protobuf code: no type information

    proto = pb.ModelProto()
    kind = pb.ModelProto.SentencePiece
    for piece, kind_id in (("<unk>", kind.UNKNOWN), ("<s>", kind.CONTROL), ("</s>", kind.CONTROL)):
        entry = proto.pieces.add()
        entry.piece, entry.score, entry.type = piece, 0.0, kind_id
    for index, (piece, score) in enumerate(vocab[4:], start=4):
        if index in added_ids:
            break  # <mask> and later tokens are added tokens, not SentencePiece pieces
        entry = proto.pieces.add()
        entry.piece, entry.score, entry.type = piece, float(score), kind.NORMAL
    proto.trainer_spec.model_type = pb.TrainerSpec.UNIGRAM
    proto.trainer_spec.vocab_size = len(proto.pieces)
    proto.trainer_spec.unk_id, proto.trainer_spec.bos_id = 0, 1
    proto.trainer_spec.eos_id, proto.trainer_spec.pad_id = 2, -1
    charsmap = _precompiled_charsmap(normalizer)
    proto.normalizer_spec.name = "nmt_nfkc" if charsmap is not None else "identity"
    if charsmap is not None:
        proto.normalizer_spec.precompiled_charsmap = charsmap
    proto.normalizer_spec.add_dummy_prefix = True
    proto.normalizer_spec.remove_extra_whitespaces = True
    proto.normalizer_spec.escape_whitespaces = True
    serialized: bytes = proto.SerializeToString()
    return serialized
