"""``python -m meter_gateway token add|list|revoke``: the meters' tokens, for the operator.

    python -m meter_gateway token add --meter meter-S001 [--db meter_gateway.db]
    python -m meter_gateway token list
    python -m meter_gateway token revoke --meter meter-S001

``add`` prints the new token once (only its hash is stored); ``--db`` defaults to
``METER_GATEWAY_DB``, else ``meter_gateway.db``. A problem is one line on stderr, exit 2.
"""

from __future__ import annotations

import argparse
import os
import sys

from .errors import TokenError
from .store import DEFAULT_DB, Store


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="python -m meter_gateway token",
        description="Create, list and revoke the meters' tokens.",
    )
    top.add_argument(
        "--db",
        default=os.environ.get("METER_GATEWAY_DB", DEFAULT_DB),
        help=f"SQLite file of the gateway (env METER_GATEWAY_DB; default {DEFAULT_DB})",
    )
    # --db also after the command (`token add --meter M --db F`), where it wins
    db = argparse.ArgumentParser(add_help=False)
    db.add_argument("--db", default=argparse.SUPPRESS, help="as above")
    sub = top.add_subparsers(dest="command", required=True)
    add = sub.add_parser("add", parents=[db], help="create a token for a meter and print it once")
    add.add_argument(
        "--meter",
        required=True,
        help="the meter id the prosumer was admitted "
        "with (text: keccak256 of it on chain; or 0x + 64 hex digits)",
    )
    sub.add_parser(
        "list", parents=[db], help="meters, when their tokens were created, revoked or live"
    )
    revoke = sub.add_parser("revoke", parents=[db], help="revoke every live token of a meter")
    revoke.add_argument("--meter", required=True)
    return top


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    try:
        store = Store(args.db)
        if args.command == "add":
            token = store.add_token(args.meter)
            print(token)
            print(
                f"token for meter {args.meter} stored (hashed) in {args.db}; it is shown only now",
                file=sys.stderr,
            )
        elif args.command == "list":
            for row in store.tokens():
                state = f"revoked {row.revoked}" if row.revoked else "live"
                print(f"{row.meter}\tcreated {row.created}\t{state}")
        else:
            count = store.revoke(args.meter)
            print(f"revoked {count} token(s) of meter {args.meter}")
    except (TokenError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # sqlite3.DatabaseError: not a database file, ...
        print(f"error: {args.db}: {exc}", file=sys.stderr)
        return 2
    return 0
