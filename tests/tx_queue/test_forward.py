"""The forward-request encodings on their own: the digest is eth-account's EIP-712 hash, the
batch calldata round-trips, signature shapes OpenZeppelin refuses are named."""

from __future__ import annotations

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import keccak
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger_contracts import typed_data
from tx_queue import forward as fw

KEY = "0x" + "11" * 32
SIGNER = Account.from_key(KEY)
DOMAIN = fw.Domain("gridgame", "1", 31337, "0x5FbDB2315678afecb367f032d93F642f64180aa3")
TARGET = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"


def typed(domain: fw.Domain, message: dict[str, object]) -> dict[str, object]:
    return typed_data(
        {
            "name": domain.name,
            "version": domain.version,
            "chainId": domain.chain_id,
            "verifyingContract": domain.verifying_contract,
        },
        message,
    )


@settings(max_examples=25, deadline=None)
@given(
    value=st.integers(0, 2**256 - 1),
    gas=st.integers(0, 2**64),
    nonce=st.integers(0, 2**64),
    deadline=st.integers(0, fw.MAX_UINT48),
    data=st.binary(max_size=200),
    chain_id=st.integers(1, 2**32),
)
def test_digest_is_eip712_hash_of_eth_account(
    value: int, gas: int, nonce: int, deadline: int, data: bytes, chain_id: int
) -> None:
    domain = fw.Domain("gridgame", "1", chain_id, DOMAIN.verifying_contract)
    request = fw.ForwardRequest(SIGNER.address, TARGET, value, gas, deadline, data, b"")
    signable = encode_typed_data(
        full_message=typed(
            domain,
            {
                "from": SIGNER.address,
                "to": TARGET,
                "value": value,
                "gas": gas,
                "nonce": nonce,
                "deadline": deadline,
                "data": data,
            },
        )
    )
    expected = keccak(b"\x19" + signable.version + signable.header + signable.body)
    assert request.digest(domain, nonce) == expected


def test_signature_recovers_for_its_nonce_only() -> None:
    request = fw.ForwardRequest(SIGNER.address, TARGET, 0, 100_000, 2**40, b"\x01\x02", b"")
    signed = SIGNER.unsafe_sign_hash(request.digest(DOMAIN, 7))
    sig = bytes(signed.signature)
    assert fw.signature_problem(sig) is None
    assert Account._recover_hash(request.digest(DOMAIN, 7), signature=sig) == SIGNER.address
    assert Account._recover_hash(request.digest(DOMAIN, 8), signature=sig) != SIGNER.address
    # the precompile's input layout: hash, v, r, s
    packed = fw.ecrecover_input(b"\xaa" * 32, sig)
    assert packed[:32] == b"\xaa" * 32 and packed[63] == sig[64] and packed[64:96] == sig[:32]


def test_signature_problems_are_named() -> None:
    good = bytes(SIGNER.unsafe_sign_hash(b"\x01" * 32).signature)
    assert "65 bytes" in (fw.signature_problem(good[:64]) or "")
    high_s = (
        good[:32]
        + (fw.SECP256K1_N - int.from_bytes(good[32:64], "big")).to_bytes(32, "big")
        + good[64:]
    )
    assert "malleable" in (fw.signature_problem(high_s) or "")
    assert "v must be 27 or 28" in (fw.signature_problem(good[:64] + b"\x01") or "")


def test_execute_batch_calldata_round_trips() -> None:
    requests = [
        fw.ForwardRequest(
            SIGNER.address, TARGET, 0, 10_000 * i, 2**40 + i, bytes([i]) * i, bytes([i]) * 65
        )
        for i in range(1, 4)
    ]
    calldata = fw.encode_execute_batch(requests, SIGNER.address)
    assert (
        calldata[:4]
        == keccak(
            text="executeBatch((address,address,uint256,uint256,uint48,bytes,bytes)[],address)"
        )[:4]
    )
    assert fw.decode_execute_batch(calldata) == (requests, SIGNER.address)
    assert fw.batch_gas_limit(requests, len(calldata)) > sum(r.gas for r in requests) * 64 // 63


def test_request_hash_covers_every_field() -> None:
    base = fw.ForwardRequest(SIGNER.address, TARGET, 0, 1, 2, b"\x03", b"\x04" * 65)
    variants = [
        fw.ForwardRequest(TARGET, TARGET, 0, 1, 2, b"\x03", b"\x04" * 65),
        fw.ForwardRequest(SIGNER.address, SIGNER.address, 0, 1, 2, b"\x03", b"\x04" * 65),
        fw.ForwardRequest(SIGNER.address, TARGET, 1, 1, 2, b"\x03", b"\x04" * 65),
        fw.ForwardRequest(SIGNER.address, TARGET, 0, 2, 2, b"\x03", b"\x04" * 65),
        fw.ForwardRequest(SIGNER.address, TARGET, 0, 1, 3, b"\x03", b"\x04" * 65),
        fw.ForwardRequest(SIGNER.address, TARGET, 0, 1, 2, b"\x05", b"\x04" * 65),
        fw.ForwardRequest(SIGNER.address, TARGET, 0, 1, 2, b"\x03", b"\x06" * 65),
    ]
    hashes = {v.request_hash for v in variants} | {base.request_hash}
    assert len(hashes) == len(variants) + 1


def test_requests_in_a_forwarder_call_are_found() -> None:
    request = fw.ForwardRequest(SIGNER.address, TARGET, 0, 50_000, 2**40, b"\x09", b"\x07" * 65)
    batch = fw.encode_execute_batch([request, request], SIGNER.address)
    assert fw.requests_in_call(batch) == [request, request]
    single = fw.SEL_EXECUTE + fw.encode_verify(request)[4:]  # same argument, other selector
    assert fw.requests_in_call(single) == [request]
    assert fw.requests_in_call(b"\xde\xad\xbe\xef" + b"\x00" * 64) == []
    assert fw.requests_in_call(fw.SEL_EXECUTE_BATCH + b"\x01") == []


def test_local_recovery_agrees_with_eth_account() -> None:
    digest = b"\x42" * 32
    sig = bytes(SIGNER.unsafe_sign_hash(digest).signature)
    assert fw.recover(digest, sig) == SIGNER.address
    assert fw.recover(b"\x43" * 32, sig) != SIGNER.address
    assert fw.recover(digest, sig[:64] + b"\x05") is None


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 2**256 - 1),
            st.integers(0, 2**64),
            st.integers(0, fw.MAX_UINT48),
            st.binary(max_size=100),
            st.binary(min_size=65, max_size=65),
        ),
        max_size=5,
    )
)
def test_hand_encodings_equal_eth_abi(items: list[tuple[int, int, int, bytes, bytes]]) -> None:
    from eth_abi import encode

    tuple_type = "(address,address,uint256,uint256,uint48,bytes,bytes)"
    requests = [
        fw.ForwardRequest(SIGNER.address, TARGET, v, g, d, data, sig)
        for v, g, d, data, sig in items
    ]
    assert fw.encode_execute_batch(requests, TARGET) == fw.SEL_EXECUTE_BATCH + encode(
        [f"{tuple_type}[]", "address"], [[r.as_tuple() for r in requests], TARGET]
    )
    for r in requests:
        assert fw.encode_verify(r) == fw.SEL_VERIFY + encode([tuple_type], [r.as_tuple()])
