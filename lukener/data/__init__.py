"""Documents and the formats they come in: JSONL, CoNLL column files, tag schemes, raw text,
and the offline corpora."""
