"""The lake: sole owner of lake IO. A batch is immutable and visible once its manifest is."""
