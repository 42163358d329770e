"""DuckDB: an embedded analytical sink."""
