"""Runs: create them, execute a template's stages in order, log each stage, record results."""
