"""Speed: lukener's paths against the plain one on a CPU, as ratios from one run."""
