"""CPU speed options: the batch budget by model shape, --threads, --quantize int8."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from lukener.data.documents import read_jsonl
from lukener.errors import LukenerError
from lukener.modeling.loading import load_span_model
from lukener.tasks import threads
from lukener.tasks.evaluation import evaluate_documents
from lukener.tasks.predictor import Predictor, cpu_batch_tokens
from lukener.tasks.run_options import RunOptions


@pytest.mark.parametrize(
    ("layers", "hidden", "budget"),
    [(12, 768, 1024), (24, 1024, 1024), (6, 384, 8192), (4, 1024, 2048), (2, 32, 16384)],
)
def test_cpu_batch_budget_follows_the_work_per_token(layers: int, hidden: int, budget: int):
    config = SimpleNamespace(num_hidden_layers=layers, hidden_size=hidden)
    assert cpu_batch_tokens(config) == budget


def test_default_threads_leave_out_the_busy_cores(monkeypatch) -> None:
    monkeypatch.setattr(threads, "available_cores", lambda: 4)
    monkeypatch.setattr(threads, "load_average", lambda: 8.0)
    monkeypatch.setattr(threads, "busy_cores", lambda seconds=0.2: 2.6)
    assert threads.default_threads() == 1
    monkeypatch.setattr(threads, "busy_cores", lambda seconds=0.2: 0.1)
    assert threads.default_threads() == 4
    monkeypatch.setattr(threads, "busy_cores", lambda seconds=0.2: 7.0)
    assert threads.default_threads() == 1  # never fewer than one
    # Busy this moment but not over the last minute (a short blip): every core.
    monkeypatch.setattr(threads, "load_average", lambda: 0.2)
    assert threads.default_threads() == 4


def test_threads_option_sets_torch_threads(trained_luke) -> None:
    before = torch.get_num_threads()
    try:
        span_model = load_span_model(str(trained_luke), device="cpu")
        assert Predictor(span_model, RunOptions(threads=2)).threads == 2
        assert torch.get_num_threads() == 2
        assert Predictor(span_model, RunOptions(threads=1)).threads == 1
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_busy_cores_reads_the_system() -> None:
    assert 0.0 <= threads.busy_cores(0.05) <= (threads.os.cpu_count() or 1) + 0.5


def test_int8_keeps_the_packed_path_and_nearly_the_same_scores(trained_luke, wnut_small) -> None:
    documents = list(read_jsonl(wnut_small))
    span_model = load_span_model(str(trained_luke), device="cpu")
    predictor = Predictor(span_model, RunOptions(quantize="int8"))
    layers = predictor.span_model.model.modules()
    assert any(isinstance(m, torch.ao.nn.quantized.dynamic.Linear) for m in layers)
    assert not isinstance(span_model.model.luke.encoder.layer[0].intermediate.dense,
                          torch.ao.nn.quantized.dynamic.Linear)  # fmt: skip  # the copy only
    fp32 = evaluate_documents(span_model, documents)
    int8 = evaluate_documents(span_model, documents, run=RunOptions(quantize="int8"))
    assert int8.metrics.gold == fp32.metrics.gold
    assert abs(int8.metrics.micro.f1 - fp32.metrics.micro.f1) < 0.1
    assert int8.metrics.correct > 0


# torch.ao.quantization warns on every call (deprecated in favour of torchao; see
# lukener/modeling/quantization.py).
@pytest.mark.filterwarnings("ignore")
def test_int8_weights_have_one_scale_per_output_channel() -> None:
    from lukener.modeling.quantization import quantize_int8

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, 32))
    # Rows of very different size: one scale for the whole tensor crushes the small rows.
    with torch.no_grad():
        model[0].weight.mul_(torch.logspace(-3, 0, 32)[:, None])
    original = model[0].weight
    weight = quantize_int8(model)[0].weight()
    assert weight.qscheme() in (torch.per_channel_affine, torch.per_channel_symmetric)
    error = (weight.dequantize() - original).abs().amax(dim=1)
    assert (error / original.abs().amax(dim=1)).max() < 0.01


def test_int8_needs_the_cpu(trained_luke) -> None:
    span_model = load_span_model(str(trained_luke), device="cpu")
    with pytest.raises(LukenerError, match="quantize must be one of"):
        Predictor(span_model, RunOptions(quantize="int4"))
