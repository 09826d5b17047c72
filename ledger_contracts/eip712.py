"""The EIP-712 types of an ERC-2771 forward request, as OpenZeppelin 5's `ERC2771Forwarder`
defines them: the one Python definition every signer and verifier derives from.

    FORWARD_REQUEST_TYPE   "ForwardRequest(address from,address to,...,bytes data)"
    typed_data(domain, message)   the structure eth_account's `encode_typed_data` signs
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# (name, type) in the order the forwarder hashes them; the nonce is signed, not sent.
FORWARD_REQUEST_FIELDS: tuple[tuple[str, str], ...] = (
    ("from", "address"),
    ("to", "address"),
    ("value", "uint256"),
    ("gas", "uint256"),
    ("nonce", "uint256"),
    ("deadline", "uint48"),
    ("data", "bytes"),
)
DOMAIN_FIELDS: tuple[tuple[str, str], ...] = (
    ("name", "string"),
    ("version", "string"),
    ("chainId", "uint256"),
    ("verifyingContract", "address"),
)


def encode_type(name: str, fields: tuple[tuple[str, str], ...]) -> str:
    """EIP-712 `encodeType` of a struct without nested structs."""
    return f"{name}({','.join(f'{t} {n}' for n, t in fields)})"


FORWARD_REQUEST_TYPE = encode_type("ForwardRequest", FORWARD_REQUEST_FIELDS)
DOMAIN_TYPE = encode_type("EIP712Domain", DOMAIN_FIELDS)


def typed_data(domain: Mapping[str, Any], message: Mapping[str, Any]) -> dict[str, Any]:
    """A forward request as EIP-712 typed data; `domain` keyed by `DOMAIN_FIELDS`' names,
    `message` by `FORWARD_REQUEST_FIELDS`' names."""
    return {
        "types": {
            "EIP712Domain": [{"name": n, "type": t} for n, t in DOMAIN_FIELDS],
            "ForwardRequest": [{"name": n, "type": t} for n, t in FORWARD_REQUEST_FIELDS],
        },
        "primaryType": "ForwardRequest",
        "domain": dict(domain),
        "message": dict(message),
    }
