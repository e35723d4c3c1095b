"""Retention purge in SQL: a receipt's lines expire with the receipt (privacy/retention.py)."""

from __future__ import annotations

from datetime import date

import duckdb

from privacy.policy import load_policy
from privacy.retention import apply, expired_counts, rules

POS = ("raw_pos.transactions", "raw_pos.transaction_lines")


def _pos_warehouse(policy: dict):
    """An in-memory raw_pos with the columns the policy's rules read."""
    columns = {POS[0]: {"transaction_id", "transaction_at"}, POS[1]: {"transaction_id", "line_no"}}
    for rule in rules(policy, []):
        if rule.table in columns and rule.column:
            columns[rule.table].add(rule.column)
    con = duckdb.connect()
    con.execute("create schema raw_pos")
    for table, names in columns.items():
        typed = ", ".join(f'"{c}" {"timestamp" if c == "transaction_at" else "varchar"}' for c in sorted(names))
        con.execute(f"create table {table} ({typed})")
    # R1 is older than ten years and was exported twice (a corrected version); R2 is recent.
    con.execute(
        "insert into raw_pos.transactions (transaction_id, transaction_at) values "
        "('R1', '2010-03-01 10:00'), ('R1', '2010-03-01 10:05'), ('R2', '2026-01-05 12:00')"
    )
    con.execute(
        "insert into raw_pos.transaction_lines (transaction_id, line_no) values ('R1', '1'), ('R1', '2'), ('R2', '1')"
    )
    return con


def test_lines_of_an_expired_receipt_are_purged_with_it_even_when_the_receipt_was_exported_twice():
    policy = load_policy()
    con = _pos_warehouse(policy)
    counts = expired_counts(con, policy, date(2026, 11, 22))
    assert counts[POS[0]]["expired"] == 2
    assert counts[POS[1]]["expired"] == 2

    applied = apply(con, counts)

    assert con.execute(f"select distinct transaction_id from {POS[0]}").fetchall() == [("R2",)]
    assert con.execute(f"select transaction_id, line_no from {POS[1]}").fetchall() == [("R2", "1")]
    assert applied[POS[1]]["rows_after"] == 1


def test_a_dry_run_counts_and_changes_nothing():
    policy = load_policy()
    con = _pos_warehouse(policy)
    applied = apply(con, expired_counts(con, policy, date(2026, 11, 22)), dry_run=True)
    assert applied[POS[1]]["expired"] == 2
    assert con.execute(f"select count(*) from {POS[1]}").fetchone() == (3,)
