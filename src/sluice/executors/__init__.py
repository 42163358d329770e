"""Executors decide where a stage runs; they never decide what it does."""
