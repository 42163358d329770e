"""PostgreSQL: a source read by binary COPY into Arrow (ADBC) and a sink loaded the same way."""
