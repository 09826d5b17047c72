"""The queue's tables: `requests` (every accepted forward request and its fate) and `txs`
(every relay transaction, its signed bytes and relay nonce, written BEFORE it is sent), and the
upgrade of a database an older queue wrote."""

from __future__ import annotations

import sqlite3

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS txs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    relay_nonce INTEGER NOT NULL,
    tx_hash TEXT NOT NULL UNIQUE,
    raw BLOB NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'mined', 'reverted', 'dropped')),
    created_at REAL NOT NULL,
    block_number INTEGER,
    gas_used INTEGER,
    note TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS txs_pending_nonce ON txs (relay_nonce) WHERE status = 'pending';
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    idempotency_key TEXT UNIQUE,
    request_hash BLOB NOT NULL UNIQUE,
    signer TEXT NOT NULL,
    target TEXT NOT NULL,
    value TEXT NOT NULL,
    gas INTEGER NOT NULL,
    nonce INTEGER NOT NULL,
    deadline INTEGER NOT NULL,
    data BLOB NOT NULL,
    signature BLOB NOT NULL,
    simulated INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('queued', 'submitted', 'mined', 'reverted', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    tx_id INTEGER REFERENCES txs (id),
    executed_tx TEXT,
    block_number INTEGER,
    error TEXT,
    reason TEXT,
    accepted_at REAL NOT NULL,
    submitted_at REAL,
    finished_at REAL,
    priority INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS requests_status ON requests (status, id);
CREATE INDEX IF NOT EXISTS requests_signer ON requests (signer, accepted_at);
CREATE INDEX IF NOT EXISTS requests_reverted ON requests (signer, finished_at)
    WHERE status = 'reverted';
CREATE INDEX IF NOT EXISTS requests_tx ON requests (tx_id);
CREATE UNIQUE INDEX IF NOT EXISTS requests_live_nonce ON requests (signer, nonce)
    WHERE status IN ('queued', 'submitted');
"""

# Columns added since the first schema: (table, column, definition).
_ADDED = (("requests", "priority", "INTEGER NOT NULL DEFAULT 0"),)
_LATE_INDEXES = """
CREATE INDEX IF NOT EXISTS requests_queue ON requests (status, priority DESC, id);
"""


def create(db: sqlite3.Connection) -> None:
    """Create the tables, or bring an older queue's up to date."""
    db.executescript(SCHEMA)
    for table, column, definition in _ADDED:
        columns = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
        if column not in columns:
            db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")
    db.executescript(_LATE_INDEXES)
