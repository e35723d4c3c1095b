"""The middle layer: one function per pipeline step (`pipeline.steps`), called by the CLI,
Dagster and the bench alike."""
