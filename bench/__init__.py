"""Benchmark scripts behind the README's figures (bench/README.md); not part of the test suite."""
