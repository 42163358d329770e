"""Connectors: sources yield Arrow record batches, sinks load them. One package per system."""
