"""The `sluice` command line: an edge that may import anything; nothing imports it."""
