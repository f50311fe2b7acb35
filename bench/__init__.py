"""Benchmarks: one script per figure (run each as `python bench/NAME.py`)."""
