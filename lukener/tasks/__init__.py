"""What the commands do, as plain functions: run a model over documents, train, evaluate,
predict, compare checkpoints, and the offline demo."""
