"""Benchmarks: each figure against its raw-library baseline, measured in the same run."""
