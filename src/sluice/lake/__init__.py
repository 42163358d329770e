"""The lake: sole owner of lake IO. Batches are immutable and visible only once their manifest is."""
