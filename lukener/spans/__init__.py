"""Span classification without the model: encoding documents into span chunks, batching
them, decoding scored spans into entities, and the exact-span metric."""
