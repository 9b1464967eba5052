"""Accuracy and speed benchmarks; each writes JSON (and PNGs) under benchmarks/results/."""
