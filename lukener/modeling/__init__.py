"""The LUKE span model: loading checkpoints, adopting other encoders, and the exact, faster
layers (fused attention for training, packed inference) with their one coupling to
transformers' LUKE code (``luke_layout``)."""
