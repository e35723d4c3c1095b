"""Dagster wiring only: the work itself lives in ingestion/, dbt_project/, ml/ and privacy/."""
