"""The whole book at once: panels, end-of-day batch, monitoring measures (Ibis on DuckDB or Spark)."""
