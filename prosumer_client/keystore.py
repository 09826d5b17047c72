"""`python -m prosumer_client keys ACTION` — a prosumer's key as an encrypted keystore.

    keys new --out FILE    create a key and write it to FILE as a standard Ethereum keystore
                           (version 3 JSON, scrypt), mode 0600; an existing FILE is never
                           overwritten. Prints the address.
    keys show FILE         the address of a key file: a keystore's recorded address (no
                           password needed) or the address of a hex key. Never the key.

The password comes from the environment variable GRIDGAME_KEYSTORE_PASSWORD or, on a terminal,
a prompt (asked twice for a new keystore). Every command that takes --key-file accepts the
keystore as well as a hex key.
"""

from __future__ import annotations

import argparse
import json
import os

from ledger_contracts import LedgerError, create_keystore, key_file_address, keystore_password

from .settings import Settings


def keys(args: argparse.Namespace, settings: Settings) -> int:
    if args.action == "new":
        if os.path.lexists(args.out):  # before asking for a password; create_keystore checks too
            raise LedgerError(f"{args.out} exists already; not overwriting it")
        address = create_keystore(args.out, keystore_password(args.out, new=True))
        text = f"keystore written to {args.out}: {address}"
        data = {"address": address, "file": str(args.out)}
    else:
        address = key_file_address(args.file)
        text = address
        data = {"address": address, "file": str(args.file)}
    print(json.dumps(data) if args.json else text, flush=True)
    return 0
