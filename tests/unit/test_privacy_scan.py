"""The leak scanner finds raw identifiers and is not fooled by hashes or decimals."""

from __future__ import annotations

import duckdb

from privacy.scan import scan


def test_scan_finds_identifiers_but_not_hashes_or_decimals():
    con = duckdb.connect()
    con.execute("create schema marts")
    con.execute("""create table marts.t as select * from (values
        ('电话13812345678', 'a3f13812345678ffee', 0.13812345678123456::double, 'M1'),
        ('z***@qq.com', '[电话]', 1.5::double, 'x'),
        ('mail me: li@163.com', 'card 6222000000000001', 2.0::double, '张三')
    ) v(note, token, share, who)""")
    found = {(f.column, f.kind) for f in scan(con, ("marts",), needles=["张三"])}
    assert found == {("note", "cn_mobile"), ("note", "email"), ("token", "card_number"), ("who", "raw_member_value")}
