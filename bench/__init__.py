"""Benchmark harness: the pipeline at a scale factor, side by side with DuckDB itself."""
