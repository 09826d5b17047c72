"""The gateway's SQLite file (``--db``): the meters' tokens, stored hashed, and the readings
sent through it (one per prosumer per game, so that two uploads racing each other never both
reach the queue).

A token is 32 random bytes (URL-safe base64, shown once by ``token add``); the file keeps only
its SHA-256: tokens are random, not passwords, so a plain hash is enough to make a stolen file
useless. A meter may hold several tokens (to rotate one without a gap); ``token revoke`` revokes
all of them. Every call opens its own connection: the service and the token command may use
the same file at once, and a token added or revoked counts from the next request on.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .errors import TokenError
from .meters import check_meter_id

DEFAULT_DB = "meter_gateway.db"
STALE_CLAIM = 120.0  # seconds: a claim never queued by then was left by a process that died

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tokens (
    token_hash TEXT PRIMARY KEY,
    meter      TEXT NOT NULL,
    created    TEXT NOT NULL,
    revoked    TEXT
);
CREATE INDEX IF NOT EXISTS tokens_meter ON tokens (meter);
CREATE TABLE IF NOT EXISTS readings (
    game       INTEGER NOT NULL,
    prosumer   TEXT NOT NULL,
    meter      TEXT NOT NULL,
    request_id INTEGER,
    created    TEXT NOT NULL,
    PRIMARY KEY (game, prosumer)
);
"""


@dataclass(frozen=True)
class TokenRow:
    meter: str
    created: str
    revoked: str | None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _now(seconds: float | None = None) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


class Store:
    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        with self._connect() as db:
            db.executescript(_SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=10.0, isolation_level=None)
        try:
            db.execute("PRAGMA busy_timeout = 10000")
            yield db
        finally:
            db.close()

    # ------------------------------------------------------------------ tokens

    def add_token(self, meter: str) -> str:
        """A new token for `meter`; only its hash is kept: the caller shows it once."""
        check_meter_id(meter)
        token = secrets.token_urlsafe(32)
        with self._connect() as db:
            db.execute(
                "INSERT INTO tokens (token_hash, meter, created) VALUES (?, ?, ?)",
                (token_hash(token), meter, _now()),
            )
        return token

    def tokens(self) -> list[TokenRow]:
        with self._connect() as db:
            rows = db.execute(
                "SELECT meter, created, revoked FROM tokens ORDER BY meter, created"
            ).fetchall()
        return [TokenRow(*row) for row in rows]

    def revoke(self, meter: str) -> int:
        """Revoke every live token of `meter`; how many. None live: `TokenError`."""
        with self._connect() as db:
            count = db.execute(
                "UPDATE tokens SET revoked = ? WHERE meter = ? AND revoked IS NULL", (_now(), meter)
            ).rowcount
        if not count:
            raise TokenError(f"meter {meter!r} has no live token")
        return count

    def meter_of(self, token: str) -> str | None:
        """The meter holding the live `token`, or None (unknown or revoked)."""
        with self._connect() as db:
            row = db.execute(
                "SELECT meter FROM tokens WHERE token_hash = ? AND revoked IS NULL",
                (token_hash(token),),
            ).fetchone()
        return None if row is None else str(row[0])

    # ------------------------------------------------------------------ readings

    def claim(
        self, game: int, prosumer: str, meter: str, stale_after: float = STALE_CLAIM
    ) -> int | None:
        """Record that `prosumer`'s reading for `game` is being sent; None if that worked, else
        the queue's request id of the reading already recorded (0 if it is not queued yet).
        A claim never queued and older than `stale_after` seconds (its process died between
        claiming and queueing) is taken over."""
        cutoff = _now(time.time() - stale_after)
        with self._connect() as db:
            try:
                db.execute(
                    "INSERT INTO readings (game, prosumer, meter, created) VALUES (?, ?, ?, ?)",
                    (game, prosumer, meter, _now()),
                )
                return None
            except sqlite3.IntegrityError:
                taken = db.execute(
                    "UPDATE readings SET meter = ?, created = ? WHERE game = ? AND prosumer = ? "
                    "AND request_id IS NULL AND created < ?",
                    (meter, _now(), game, prosumer, cutoff),
                ).rowcount
                if taken:
                    return None
                row = db.execute(
                    "SELECT request_id FROM readings WHERE game = ? AND prosumer = ?",
                    (game, prosumer),
                ).fetchone()
                return int(row[0] or 0) if row else 0

    def queued(self, game: int, prosumer: str, request_id: int) -> None:
        with self._connect() as db:
            db.execute(
                "UPDATE readings SET request_id = ? WHERE game = ? AND prosumer = ?",
                (request_id, game, prosumer),
            )

    def release(self, game: int, prosumer: str) -> None:
        """Forget a claim whose reading did not go (refused) or did not land (reverted)."""
        with self._connect() as db:
            db.execute("DELETE FROM readings WHERE game = ? AND prosumer = ?", (game, prosumer))
