"""The semantic layer BI tools read: one view per dbt metric, and the dbt docs as
table and column comments. Both are generated from the dbt manifest, the one place the
metrics and the descriptions are written, into every copy BI reads (the BI copy, the role
files, the PostgreSQL serving database)."""
