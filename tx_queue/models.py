"""Request and response bodies of the HTTP API, with their limits."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from .forward import MAX_UINT48, ForwardRequest, to_checksum_address
from .records import StoredRequest

MAX_DATA_BYTES = 64 * 1024
StatusName = Literal["queued", "submitted", "mined", "reverted", "failed"]


def _address(value: str) -> str:
    checksummed = to_checksum_address(value)
    body = value[2:]
    if body != body.lower() and body != body.upper() and value != checksummed:
        raise ValueError("mixed-case address with a wrong EIP-55 checksum")
    return checksummed


Address = Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{40}$"), AfterValidator(_address)]
HexBytes = Annotated[
    str, Field(pattern=r"^0x([0-9a-fA-F]{2})*$", max_length=2 + 2 * MAX_DATA_BYTES)
]


class ForwardRequestIn(BaseModel):
    """OpenZeppelin's `ForwardRequestData`, with an optional nonce hint and idempotency key."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    from_: Address = Field(alias="from", description="the signer")
    to: Address = Field(description="the target contract (one of the deployment's)")
    value: int = Field(0, ge=0, lt=2**256, description="wei to forward; must be 0")
    gas: int = Field(gt=0, lt=2**64, description="gas for the forwarded call")
    deadline: int = Field(ge=0, le=MAX_UINT48, description="unix time after which it is void")
    data: HexBytes = Field(description="calldata for the target")
    signature: str = Field(
        pattern=r"^0x[0-9a-fA-F]{130}$",
        description="EIP-712 signature (r, s, v) of the ForwardRequest",
    )
    nonce: int | None = Field(
        None,
        ge=0,
        lt=2**256,
        description="the forwarder nonce signed (optional; implied by the "
        "signature, used to explain a refusal)",
    )
    idempotency_key: str | None = Field(None, min_length=1, max_length=200)

    def to_request(self) -> ForwardRequest:
        return ForwardRequest(
            self.from_,
            self.to,
            self.value,
            self.gas,
            self.deadline,
            bytes.fromhex(self.data[2:]),
            bytes.fromhex(self.signature[2:]),
        )


class RevertOut(BaseModel):
    name: str
    args: dict[str, Any]
    text: str


class RequestOut(BaseModel):
    id: int
    status: StatusName
    from_: str = Field(serialization_alias="from")
    to: str
    nonce: int
    gas: int
    deadline: int
    idempotency_key: str | None
    simulated: bool = Field(
        description="the call was simulated at acceptance (false when it "
        "waits behind earlier requests of the same signer)"
    )
    attempts: int
    tx_hash: str | None = Field(description="the transaction that carries (carried) it")
    relay_nonce: int | None
    block_number: int | None
    error: RevertOut | None = Field(description="why it reverted (status reverted)")
    reason: str | None = Field(description="why it failed, or a note")
    accepted_at: float
    submitted_at: float | None
    finished_at: float | None

    @classmethod
    def of(cls, r: StoredRequest) -> RequestOut:
        return cls(
            id=r.id,
            status=r.status,  # type: ignore[arg-type]
            from_=r.request.sender,
            to=r.request.to,
            nonce=r.nonce,
            gas=r.request.gas,
            deadline=r.request.deadline,
            idempotency_key=r.idempotency_key,
            simulated=r.simulated,
            attempts=r.attempts,
            tx_hash=r.tx_hash,
            relay_nonce=r.relay_nonce,
            block_number=r.block_number,
            error=RevertOut(name=r.error.name, args=r.error.args, text=r.error.text)
            if r.error
            else None,
            reason=r.reason,
            accepted_at=r.accepted_at,
            submitted_at=r.submitted_at,
            finished_at=r.finished_at,
        )


class RequestList(BaseModel):
    requests: list[RequestOut]
    next_after: int | None = Field(description="pass as `after` for the next page")


class SignerNonceOut(BaseModel):
    address: str
    chain_nonce: int = Field(description="the forwarder's nonces(address)")
    next_nonce: int = Field(description="the nonce the next request must be signed for")
    live: list[int] = Field(description="nonces of its requests queued or in flight")


class NodeHealth(BaseModel):
    url: str
    reachable: bool
    chain_id: int | None = None
    block: int | None = None
    error: str | None = None


class QueueHealth(BaseModel):
    depth: int
    max_depth: int
    counts: dict[str, int]
    in_flight_txs: int


class RelayHealth(BaseModel):
    address: str
    next_nonce: int | None
    submitter_alive: bool
    last_error: str | None
    problem: str | None = Field(
        None,
        description="why the relay cannot relay now: short of funds, fees above the ceiling, stuck",
    )


class SignersHealth(BaseModel):
    """Whom the queue relays for and the prosumers' share (role holders are not limited)."""

    known_ttl_s: float = Field(description="seconds the Market's answer on a signer is kept")
    max_waiting: int = Field(description="requests one prosumer may have waiting")
    gas_per_window: int = Field(description="gas one prosumer may ask for per window")
    gas_window_s: float
    revert_limit: int = Field(description="reverts within the window that throttle a prosumer")
    revert_window_s: float
    prosumer_depth: int = Field(description="places of the queue the prosumers may fill")
    refused: dict[str, int] = Field(
        description="requests refused since start: unknown signer, "
        "prosumers' depth, waiting, gas, reverts"
    )


class HealthOut(BaseModel):
    status: Literal["ok", "degraded"]
    reason: str | None = Field(None, description="why degraded")
    node: NodeHealth
    queue: QueueHealth
    relay: RelayHealth
    signers: SignersHealth
