"""ERC-2771 forward requests: the EIP-712 digest, the calldata the forwarder builds, and the
ABI encodings the relay sends. Pure functions, no network: the same bytes as OpenZeppelin 5's
`ERC2771Forwarder`, hashing the type and domain `ledger_contracts.eip712` defines.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_keys import keys
from eth_utils import keccak
from eth_utils import to_checksum_address as _eth_checksum

from ledger_contracts import DOMAIN_TYPE, FORWARD_REQUEST_TYPE

FORWARD_REQUEST_TYPEHASH = keccak(text=FORWARD_REQUEST_TYPE)
DOMAIN_TYPEHASH = keccak(text=DOMAIN_TYPE)
# secp256k1 group order: OpenZeppelin's ECDSA refuses s in the upper half (malleable signatures).
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
MAX_UINT48 = 2**48 - 1

_REQUEST_TUPLE = "(address,address,uint256,uint256,uint48,bytes,bytes)"
SEL_NONCES = keccak(text="nonces(address)")[:4]
SEL_VERIFY = keccak(text=f"verify({_REQUEST_TUPLE})")[:4]
SEL_EXECUTE_BATCH = keccak(text=f"executeBatch({_REQUEST_TUPLE}[],address)")[:4]
SEL_EXECUTE = keccak(text=f"execute({_REQUEST_TUPLE})")[:4]
SEL_IS_TRUSTED_FORWARDER = keccak(text="isTrustedForwarder(address)")[:4]
SEL_EIP712_DOMAIN = keccak(text="eip712Domain()")[:4]
TOPIC_EXECUTED = keccak(text="ExecutedForwardRequest(address,uint256,bool)")
ECRECOVER = "0x0000000000000000000000000000000000000001"


@lru_cache(maxsize=65_536)
def _checksum_hex(lower_hex: str) -> str:
    return str(_eth_checksum(lower_hex))


def to_checksum_address(address: str | bytes) -> str:
    """EIP-55 form of an address (hex or 20 bytes), cached: the same few addresses (signers,
    the forwarder, the targets) come back on every request and eth_utils' version is slow."""
    if isinstance(address, bytes):
        return _checksum_hex("0x" + address.hex())
    return _checksum_hex(address.lower())


@dataclass(frozen=True)
class Domain:
    """The forwarder's EIP-712 domain."""

    name: str
    version: str
    chain_id: int
    verifying_contract: str

    @cached_property
    def separator(self) -> bytes:
        return keccak(
            abi_encode(
                ["bytes32", "bytes32", "bytes32", "uint256", "address"],
                [
                    DOMAIN_TYPEHASH,
                    keccak(text=self.name),
                    keccak(text=self.version),
                    self.chain_id,
                    self.verifying_contract,
                ],
            )
        )


@dataclass(frozen=True)
class ForwardRequest:
    """OpenZeppelin's `ForwardRequestData`: the nonce is not carried, it is implied by the
    signature (the forwarder checks it against `nonces(from)`)."""

    sender: str  # `from`
    to: str
    value: int
    gas: int
    deadline: int
    data: bytes
    signature: bytes

    def as_tuple(self) -> tuple[str, str, int, int, int, bytes, bytes]:
        return (
            self.sender,
            self.to,
            self.value,
            self.gas,
            self.deadline,
            self.data,
            self.signature,
        )

    @cached_property
    def request_hash(self) -> bytes:
        """Identifies this exact signed request (every field, the signature included)."""
        return keccak(
            b"".join(
                (
                    bytes.fromhex(self.sender[2:]),
                    bytes.fromhex(self.to[2:]),
                    self.value.to_bytes(32, "big"),
                    self.gas.to_bytes(32, "big"),
                    self.deadline.to_bytes(32, "big"),
                    keccak(self.data),
                    keccak(self.signature),
                )
            )
        )

    @property
    def forwarded_calldata(self) -> bytes:
        """What the forwarder sends to the target: the call data, then the signer (ERC-2771)."""
        return self.data + bytes.fromhex(self.sender[2:])

    def struct_hash(self, nonce: int) -> bytes:
        # abi.encode of static words, packed by hand (eth_abi costs more than the hashing)
        return keccak(
            b"".join(
                (
                    FORWARD_REQUEST_TYPEHASH,
                    _word_address(self.sender),
                    _word_address(self.to),
                    self.value.to_bytes(32, "big"),
                    self.gas.to_bytes(32, "big"),
                    nonce.to_bytes(32, "big"),
                    self.deadline.to_bytes(32, "big"),
                    keccak(self.data),
                )
            )
        )

    def digest(self, domain: Domain, nonce: int) -> bytes:
        """The EIP-712 hash the signature must sign for `nonce`."""
        return keccak(b"\x19\x01" + domain.separator + self.struct_hash(nonce))


def _word_address(address: str) -> bytes:
    return b"\0" * 12 + bytes.fromhex(address[2:])


def signature_problem(signature: bytes) -> str | None:
    """Why OpenZeppelin's ECDSA would refuse this signature outright, or None."""
    if len(signature) != 65:
        return f"signature must be 65 bytes (r, s, v), got {len(signature)}"
    s = int.from_bytes(signature[32:64], "big")
    if s == 0 or s > SECP256K1_N // 2:
        return "signature s value is zero or in the upper half of the curve order (malleable)"
    if signature[64] not in (27, 28):
        return f"signature v must be 27 or 28, got {signature[64]}"
    return None


def recover(digest: bytes, signature: bytes) -> str | None:
    """The address that signed `digest`, or None for a signature OpenZeppelin would refuse."""
    if signature_problem(signature) is not None:
        return None
    r, s, v = signature[:32], signature[32:64], signature[64]
    try:
        sig = keys.Signature(vrs=(v - 27, int.from_bytes(r, "big"), int.from_bytes(s, "big")))
        return to_checksum_address(sig.recover_public_key_from_msg_hash(digest).to_address())
    except Exception:  # not a point on the curve
        return None


def ecrecover_input(digest: bytes, signature: bytes) -> bytes:
    """Input of the ecrecover precompile (0x01): hash, v, r, s as 32-byte words."""
    r, s, v = signature[:32], signature[32:64], signature[64]
    return digest + v.to_bytes(32, "big") + r + s


def encode_nonces(account: str) -> bytes:
    return SEL_NONCES + _word_address(account)


def _word(value: int) -> bytes:
    return value.to_bytes(32, "big")


def _padded(data: bytes) -> bytes:
    return _word(len(data)) + data + b"\0" * (-len(data) % 32)


def _encode_request(r: ForwardRequest) -> bytes:
    """ABI encoding of one `ForwardRequestData` tuple (dynamic: two `bytes` fields), by hand:
    eth_abi's validation costs more than the rest of relaying a request."""
    data = _padded(r.data)
    return b"".join(
        (
            _word_address(r.sender),
            _word_address(r.to),
            _word(r.value),
            _word(r.gas),
            _word(r.deadline),
            _word(7 * 32),
            _word(7 * 32 + len(data)),
            data,
            _padded(r.signature),
        )
    )


def encode_verify(request: ForwardRequest) -> bytes:
    return SEL_VERIFY + _word(32) + _encode_request(request)


def encode_execute_batch(requests: list[ForwardRequest], refund_receiver: str) -> bytes:
    items = [_encode_request(r) for r in requests]
    offsets, at = [], 32 * len(items)
    for item in items:
        offsets.append(_word(at))
        at += len(item)
    return b"".join(
        (
            SEL_EXECUTE_BATCH,
            _word(64),
            _word_address(refund_receiver),
            _word(len(items)),
            *offsets,
            *items,
        )
    )


def decode_execute_batch(calldata: bytes) -> tuple[list[ForwardRequest], str]:
    if calldata[:4] != SEL_EXECUTE_BATCH:
        raise ValueError("not an executeBatch call")
    items, refund = abi_decode([f"{_REQUEST_TUPLE}[]", "address"], calldata[4:])
    return [
        ForwardRequest(
            to_checksum_address(f), to_checksum_address(t), v, g, d, bytes(data), bytes(sig)
        )
        for f, t, v, g, d, data, sig in items
    ], to_checksum_address(refund)


def requests_in_call(calldata: bytes) -> list[ForwardRequest]:
    """The forward requests a forwarder call (`execute` or `executeBatch`) carries; [] for
    anything else."""
    try:
        if calldata[:4] == SEL_EXECUTE_BATCH:
            return decode_execute_batch(calldata)[0]
        if calldata[:4] == SEL_EXECUTE:
            ((f, t, v, g, d, data, sig),) = abi_decode([_REQUEST_TUPLE], calldata[4:])
            return [
                ForwardRequest(
                    to_checksum_address(f), to_checksum_address(t), v, g, d, bytes(data), bytes(sig)
                )
            ]
    except Exception:  # not decodable: not one of ours
        return []
    return []


def encode_is_trusted_forwarder(forwarder: str) -> bytes:
    return SEL_IS_TRUSTED_FORWARDER + abi_encode(["address"], [forwarder])


def decode_domain(returned: bytes) -> tuple[str, str, int, str]:
    """(name, version, chainId, verifyingContract) from ERC-5267 `eip712Domain()`."""
    _fields, name, version, chain_id, verifying, _salt, _ext = abi_decode(
        ["bytes1", "string", "string", "uint256", "address", "bytes32", "uint256[]"], returned
    )
    return name, version, chain_id, to_checksum_address(verifying)


def decode_executed(topics: list[bytes], data: bytes) -> tuple[str, int, bool]:
    """(signer, nonce, success) of an `ExecutedForwardRequest` log."""
    signer = to_checksum_address(topics[1][12:])
    nonce, success = abi_decode(["uint256", "bool"], data)
    return signer, nonce, success


def batch_gas_limit(requests: list[ForwardRequest], calldata_len: int) -> int:
    """A safe gas limit for `executeBatch(requests)`.

    Each forwarded call gets at most `request.gas`, and the forwarder insists that 1/63 of it
    is left after the call (EIP-150), so a request needs gas * 64/63 plus the forwarder's own
    work (signature recovery, trust check, nonce update, event: well under 60k). Calldata is
    priced at the EIP-7623 floor (40 gas per byte), an upper bound of its real cost.
    """
    per_request = sum(r.gas * 64 // 63 + 60_000 for r in requests)
    return 21_000 + 40 * calldata_len + 30_000 + per_request
