"""The bottom layer: settings, the warehouse connection, the write lock, the dbt runner
and the export contract. Nothing here imports another package of this project."""
