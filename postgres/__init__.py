"""A local PostgreSQL server the project starts itself (`server.py`): the database a
marketing tool reads activation audiences from (activation/delivery.py loads them)."""
