"""Benchmarks and budgets (run with ``make bench``)."""
