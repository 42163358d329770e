"""sluice: replicate tables from sources into a Parquet lake and on into sinks, as Arrow."""

__version__ = "0.1.0"
