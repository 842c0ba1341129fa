"""Accuracy: F1 of the span model against its baseline, ablations, int8, and the checks behind them."""
