"""The PostgreSQL serving layer for BI tools: the marts loaded into PostgreSQL with one
database role per policy role (`mallcrm publish-postgres`, docs/bi-tools.md)."""
