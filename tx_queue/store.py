"""The durable queue: SQLite in WAL mode with synchronous=FULL, so a committed row survives a
kill -9 and a power cut.

Two tables (`schema`): `requests` (every accepted forward request and its fate) and `txs`
(every relay transaction, its signed bytes and relay nonce, written BEFORE it is sent).
Queued requests of role holders (`priority` 1) are relayed before the prosumers'.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

from . import schema
from .db import Database
from .errors import ConfigError
from .forward import ForwardRequest
from .records import STATUSES, Fate, StoredRequest, StoredTx, request_of

_SELECT = """SELECT r.*, t.tx_hash AS tx_hash, t.relay_nonce AS relay_nonce
             FROM requests r LEFT JOIN txs t ON t.id = r.tx_id"""


class Store:
    """The queue's tables over a group-commit `Database`."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._database = Database(self.path, schema.create)
        self._write = self._database.write
        self._read = self._database.read

    def close(self) -> None:
        self._database.close()

    # ------------------------------------------------------------------ identity

    def bind(self, **facts: str) -> None:
        """Tie the database to one chain, forwarder and relay; refuse a different one later."""

        def work(db: sqlite3.Connection) -> None:
            for key, value in facts.items():
                row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
                if row is None:
                    db.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (key, value))
                elif row[0] != value:
                    raise ConfigError(
                        f"database {self.path} belongs to {key}={row[0]}, "
                        f"not {value}; use another --db"
                    )

        self._write(work)

    # ------------------------------------------------------------------ requests

    def add_request(
        self,
        request: ForwardRequest,
        nonce: int,
        *,
        idempotency_key: str | None,
        simulated: bool,
        priority: bool = False,
    ) -> StoredRequest:
        """Insert a queued request and commit (durable on return). Raises
        `sqlite3.IntegrityError` on a duplicate key, request or live (signer, nonce). A
        `priority` request goes first, unless its signer still has live requests without
        (which must run before it, in nonce order)."""
        now = time.time()

        def work(db: sqlite3.Connection) -> int:
            cur = db.execute(
                """INSERT INTO requests (idempotency_key, request_hash, signer, target, value,
                   gas, nonce, deadline, data, signature, simulated, status, accepted_at,
                   priority) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'queued', ?,
                   ? AND NOT EXISTS (SELECT 1 FROM requests WHERE signer = ? AND priority = 0
                                     AND status IN ('queued', 'submitted')))""",
                (
                    idempotency_key,
                    request.request_hash,
                    request.sender,
                    request.to,
                    str(request.value),
                    request.gas,
                    nonce,
                    request.deadline,
                    request.data,
                    request.signature,
                    int(simulated),
                    now,
                    int(priority),
                    request.sender,
                ),
            )
            return int(cur.lastrowid or 0)

        return StoredRequest.new(self._write(work), request, nonce, idempotency_key, simulated, now)

    def get(self, request_id: int) -> StoredRequest | None:
        rows = self._read(f"{_SELECT} WHERE r.id = ?", (request_id,))
        return request_of(rows[0]) if rows else None

    def by_key_or_hash(self, key: str | None, request_hash: bytes) -> list[StoredRequest]:
        rows = self._read(
            f"{_SELECT} WHERE r.idempotency_key = ? OR r.request_hash = ?", (key, request_hash)
        )
        return [request_of(r) for r in rows]

    def live_nonces(self, signer: str) -> list[int]:
        """Nonces of the signer's requests still queued or submitted, ascending."""
        rows = self._read(
            """SELECT nonce FROM requests WHERE signer = ?
                             AND status IN ('queued', 'submitted') ORDER BY nonce""",
            (signer,),
        )
        return [int(r[0]) for r in rows]

    def live_by_nonce(self, signer: str, nonce: int) -> StoredRequest | None:
        rows = self._read(
            f"""{_SELECT} WHERE r.signer = ? AND r.nonce = ?
                              AND r.status IN ('queued', 'submitted')""",
            (signer, nonce),
        )
        return request_of(rows[0]) if rows else None

    def depth(self) -> int:
        rows = self._read("SELECT count(*) FROM requests WHERE status IN ('queued', 'submitted')")
        return int(rows[0][0])

    def counts(self) -> dict[str, int]:
        rows = self._read("SELECT status, count(*) FROM requests GROUP BY status")
        found = {str(r[0]): int(r[1]) for r in rows}
        return {s: found.get(s, 0) for s in STATUSES}

    def find(
        self,
        *,
        status: str | None = None,
        signer: str | None = None,
        after_id: int = 0,
        limit: int = 100,
    ) -> list[StoredRequest]:
        where: list[str] = ["r.id > ?"]
        args: list[Any] = [after_id]
        if status is not None:
            where.append("r.status = ?")
            args.append(status)
        if signer is not None:
            where.append("r.signer = ?")
            args.append(signer)
        rows = self._read(
            f"{_SELECT} WHERE {' AND '.join(where)} ORDER BY r.id LIMIT ?", (*args, limit)
        )
        return [request_of(r) for r in rows]

    def queued(self, limit: int) -> list[StoredRequest]:
        """The next queued requests to relay: role holders' first, each in acceptance order."""
        rows = self._read(
            f"""{_SELECT} WHERE r.status = 'queued'
                              ORDER BY r.priority DESC, r.id LIMIT ?""",
            (limit,),
        )
        return [request_of(r) for r in rows]

    def gas_since(self, signer: str, since: float) -> tuple[int, float | None]:
        """The gas the signer's requests accepted after `since` ask for, and the oldest's time."""
        rows = self._read(
            """SELECT coalesce(sum(gas), 0), min(accepted_at) FROM requests
                             WHERE signer = ? AND accepted_at > ?""",
            (signer, since),
        )
        return int(rows[0][0]), rows[0][1]

    def reverts_since(self, signer: str, since: float) -> list[float]:
        """When the signer's requests that reverted on chain after `since` did, latest first."""
        rows = self._read(
            """SELECT finished_at FROM requests WHERE signer = ?
                             AND status = 'reverted' AND finished_at > ?
                             ORDER BY finished_at DESC""",
            (signer, since),
        )
        return [float(r[0]) for r in rows]

    def fail(self, request_ids: list[int], reason: str) -> None:
        """Give up on queued requests (e.g. expired before they could be relayed)."""

        def work(db: sqlite3.Connection) -> None:
            db.executemany(
                """UPDATE requests SET status = 'failed', reason = ?, finished_at = ?
                   WHERE id = ? AND status = 'queued'""",
                [(reason, time.time(), i) for i in request_ids],
            )

        self._write(work)

    # ------------------------------------------------------------------ relay transactions

    def add_tx(self, relay_nonce: int, tx_hash: str, raw: bytes, request_ids: list[int]) -> int:
        """Record a signed relay transaction and mark its requests submitted, in one commit,
        before the transaction is sent. The same bytes signed again after the node refused
        them (same nonce, requests and fees) reopen their dropped record."""
        now = time.time()

        def work(db: sqlite3.Connection) -> int:
            tx_id = _open_tx(db, relay_nonce, tx_hash, raw, now)
            for request_id in request_ids:
                updated = db.execute(
                    """UPDATE requests SET status = 'submitted', tx_id = ?, submitted_at = ?
                       WHERE id = ? AND status = 'queued'""",
                    (tx_id, now, request_id),
                )
                if updated.rowcount != 1:
                    raise ConfigError(f"request {request_id} is not queued any more")
            return tx_id

        return self._write(work)

    def replace_tx(self, tx_id: int, tx_hash: str, raw: bytes, *, note: str) -> int:
        """Record a replacement of the pending transaction `tx_id` (its nonce, its requests,
        other fees) and close `tx_id` as dropped with `note`, in one commit, before the
        replacement is sent. Returns the replacement's id."""
        now = time.time()

        def work(db: sqlite3.Connection) -> int:
            row = db.execute(
                "SELECT relay_nonce, status FROM txs WHERE id = ?", (tx_id,)
            ).fetchone()
            if row is None or row["status"] != "pending":
                raise ConfigError(f"relay transaction #{tx_id} is not pending any more")
            db.execute("UPDATE txs SET status = 'dropped', note = ? WHERE id = ?", (note, tx_id))
            new_id = _open_tx(db, int(row["relay_nonce"]), tx_hash, raw, now)
            db.execute(
                """UPDATE requests SET tx_id = ? WHERE tx_id = ?
                          AND status = 'submitted'""",
                (new_id, tx_id),
            )
            return new_id

        return self._write(work)

    def pending_txs(self) -> list[StoredTx]:
        rows = self._read("SELECT * FROM txs WHERE status = 'pending' ORDER BY relay_nonce")
        out = []
        for row in rows:
            ids = self._read("SELECT id FROM requests WHERE tx_id = ? ORDER BY id", (row["id"],))
            out.append(
                StoredTx(
                    int(row["id"]),
                    int(row["relay_nonce"]),
                    str(row["tx_hash"]),
                    bytes(row["raw"]),
                    str(row["status"]),
                    tuple(int(r[0]) for r in ids),
                )
            )
        return out

    def finish_tx(
        self,
        tx_id: int,
        status: str,
        fates: list[Fate],
        *,
        block_number: int | None = None,
        gas_used: int | None = None,
        note: str | None = None,
    ) -> None:
        """Close a relay transaction (mined, reverted or dropped) and record every request's
        fate, in one commit."""
        now = time.time()

        def work(db: sqlite3.Connection) -> None:
            db.execute(
                """UPDATE txs SET status = ?, block_number = ?, gas_used = ?,
                          note = COALESCE(?, note) WHERE id = ?""",
                (status, block_number, gas_used, note, tx_id),
            )
            for fate in fates:
                error = (
                    json.dumps(
                        {"name": fate.error.name, "args": fate.error.args, "text": fate.error.text}
                    )
                    if fate.error
                    else None
                )
                if fate.status == "queued":
                    db.execute(
                        """UPDATE requests SET status = 'queued', tx_id = NULL,
                           submitted_at = NULL, attempts = attempts + ?, reason = ?
                           WHERE id = ? AND tx_id = ?""",
                        (int(fate.count_attempt), fate.reason, fate.request_id, tx_id),
                    )
                else:
                    db.execute(
                        """UPDATE requests SET status = ?, block_number = ?, error = ?,
                           reason = ?, executed_tx = ?, finished_at = ?
                           WHERE id = ? AND tx_id = ?""",
                        (
                            fate.status,
                            fate.block_number or block_number,
                            error,
                            fate.reason,
                            fate.executed_tx,
                            now,
                            fate.request_id,
                            tx_id,
                        ),
                    )

        self._write(work)


def _open_tx(db: sqlite3.Connection, relay_nonce: int, tx_hash: str, raw: bytes, now: float) -> int:
    """Insert a pending transaction, or reopen the dropped record of the same bytes (a send
    the node refused, signed again): its note keeps the refusal."""
    row = db.execute("SELECT id, status FROM txs WHERE tx_hash = ?", (tx_hash,)).fetchone()
    if row is None:
        cur = db.execute(
            """INSERT INTO txs (relay_nonce, tx_hash, raw, status, created_at)
                            VALUES (?, ?, ?, 'pending', ?)""",
            (relay_nonce, tx_hash, raw, now),
        )
        return int(cur.lastrowid or 0)
    if row["status"] != "dropped":
        raise ConfigError(f"relay transaction {tx_hash} is already recorded ({row['status']})")
    db.execute(
        """UPDATE txs SET status = 'pending', created_at = ?, block_number = NULL,
                  gas_used = NULL WHERE id = ?""",
        (now, row["id"]),
    )
    return int(row["id"])
