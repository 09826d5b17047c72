"""A meter's id as text (what the operator and the meter know) and on chain (the `bytes32` the
Market admitted the prosumer with, `admit(prosumer, meterId, zone)`):

- ``0x`` followed by 64 hex digits is the `bytes32` itself;
- any other text is the keccak-256 hash of its UTF-8 bytes, the rule `demo setup` admits its
  prosumers with (``meter-S001`` is ``keccak256("meter-S001")``).
"""

from __future__ import annotations

import re

from .errors import TokenError

MAX_METER_ID = 128
_RAW = re.compile(r"0x[0-9a-fA-F]{64}")
_TEXT = re.compile(r"[\x21-\x7e]+")  # printable ASCII, no spaces


def check_meter_id(meter_id: str) -> str:
    """`meter_id` if it can be a meter id (1 to 128 printable ASCII characters, no spaces)."""
    if not meter_id or len(meter_id) > MAX_METER_ID or not _TEXT.fullmatch(meter_id):
        raise TokenError(
            f"a meter id is 1 to {MAX_METER_ID} printable ASCII characters "
            f"without spaces, not {meter_id[:MAX_METER_ID]!r}"
        )
    return meter_id


def meter_key(meter_id: str) -> bytes:
    """The `bytes32` meter id on chain of the text id `meter_id`."""
    if _RAW.fullmatch(meter_id):
        return bytes.fromhex(meter_id[2:])
    from eth_utils import keccak  # here: the token command never needs it (1 s to import)

    return keccak(text=meter_id)
