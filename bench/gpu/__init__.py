"""GPU runs: the full CoNLL-2003 comparison and speed across shapes, one prepared call."""
