"""A database written by a queue from before the signers' shares (no `priority` column) is
brought up to date when the queue opens it: nothing lost, the new queries work."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tx_queue import schema
from tx_queue.store import Store

SIGNER = "0x0000000000000000000000000000000000000001"


def test_an_older_database_is_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = schema.SCHEMA.replace(",\n    priority INTEGER NOT NULL DEFAULT 0", "")
    assert "priority" not in old.split("CREATE INDEX")[0]
    db = sqlite3.connect(path)
    db.executescript(old)
    db.execute(
        """INSERT INTO requests (request_hash, signer, target, value, gas, nonce,
                  deadline, data, signature, simulated, status, accepted_at)
                  VALUES (x'01', ?, ?, '0', 50000, 0, 9999999999, x'', x'', 1, 'queued', 1.0)""",
        (SIGNER, SIGNER),
    )
    db.commit()
    db.close()
    store = Store(path)
    try:
        assert [r.id for r in store.queued(10)] == [1]
        assert store.gas_since(SIGNER, 0.0) == (50_000, 1.0)
        assert store.reverts_since(SIGNER, 0.0) == []
    finally:
        store.close()
    columns = [row[1] for row in sqlite3.connect(path).execute("PRAGMA table_info(requests)")]
    assert columns[-1] == "priority"
