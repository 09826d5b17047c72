"""HTTP routes: /requests (submit, read, list, long-poll), /signers/{address}/nonce, /health."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from ledger_contracts import NodeUnavailable, RpcError

from .errors import InvalidRequest
from .ledger import decode_uint
from .models import (
    Address,
    ForwardRequestIn,
    HealthOut,
    NodeHealth,
    QueueHealth,
    RelayHealth,
    RequestList,
    RequestOut,
    SignerNonceOut,
    SignersHealth,
    StatusName,
)
from .service import QueueService

MAX_WAIT = 60.0
MAX_ID = 2**63 - 1  # SQLite's largest integer


def get_service(request: Request) -> QueueService:
    service: QueueService = request.app.state.service
    return service


Service = Annotated[QueueService, Depends(get_service)]
router = APIRouter()


@router.post(
    "/requests",
    status_code=202,
    response_model=RequestOut,
    response_model_by_alias=True,
    responses={
        200: {"model": RequestOut, "description": "idempotent repeat"},
        403: {"description": "neither an admitted prosumer nor a role holder"},
        409: {"description": "replay"},
        413: {"description": "body too large"},
        422: {"description": "refused"},
        429: {"description": "queue full, or a prosumer over its share"},
        503: {"description": "node down"},
    },
)
def submit(
    body: ForwardRequestIn,
    service: Service,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> Response:
    """Check a signed forward request and queue it (durably) for relaying."""
    key = body.idempotency_key
    if idempotency_key is not None and key is not None and idempotency_key != key:
        raise InvalidRequest("the Idempotency-Key header and the idempotency_key field differ")
    stored, created = service.intake.submit(
        body.to_request(), idempotency_key=key or idempotency_key, nonce_hint=body.nonce
    )
    # Serialised here once (FastAPI would validate the returned model again).
    return JSONResponse(
        RequestOut.of(stored).model_dump(by_alias=True),
        status_code=202 if created else 200,
        headers={"Location": f"/requests/{stored.id}"},
    )


@router.get(
    "/requests/{request_id}",
    response_model=RequestOut,
    response_model_by_alias=True,
    responses={404: {"description": "no such request"}},
)
async def get_request(
    service: Service,
    request_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    wait: Annotated[
        float, Query(ge=0, le=MAX_WAIT, description="seconds to wait for a final state (long poll)")
    ] = 0.0,
) -> RequestOut:
    """A request and its fate; with `wait`, answers as soon as it is final (or when `wait`
    seconds have passed)."""
    deadline = time.monotonic() + wait
    while True:
        event = service.waiters.register(request_id)
        try:
            stored = await run_in_threadpool(service.store.get, request_id)
            if stored is None:
                raise HTTPException(404, f"no request {request_id}")
            remaining = deadline - time.monotonic()
            if stored.final or remaining <= 0:
                return RequestOut.of(stored)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), min(remaining, 1.0))
        finally:
            service.waiters.unregister(request_id, event)


@router.get("/requests", response_model=RequestList, response_model_by_alias=True)
def list_requests(
    service: Service,
    status: StatusName | None = None,
    signer: Annotated[Address | None, Query(alias="from")] = None,
    after: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> RequestList:
    """Requests in acceptance order, optionally of one status and/or one signer."""
    rows = service.store.find(status=status, signer=signer, after_id=after, limit=limit)
    return RequestList(
        requests=[RequestOut.of(r) for r in rows],
        next_after=rows[-1].id if len(rows) == limit else None,
    )


@router.get(
    "/signers/{address}/nonce",
    response_model=SignerNonceOut,
    responses={503: {"description": "node down"}},
)
def signer_nonce(service: Service, address: Annotated[Address, Path()]) -> SignerNonceOut:
    """The forwarder nonce the signer's next request must be signed for."""
    try:
        service.ledger.ensure_ready()
        chain = service.rpc.call(*service.ledger.nonce_call(address))
    except (NodeUnavailable, RpcError) as exc:
        raise HTTPException(503, f"node unavailable: {exc}") from exc
    chain_nonce = decode_uint(chain)
    live = service.store.live_nonces(address)
    return SignerNonceOut(
        address=address,
        chain_nonce=chain_nonce,
        next_nonce=max(chain_nonce, live[-1] + 1) if live else chain_nonce,
        live=live,
    )


@router.get("/health", response_model=HealthOut)
def health(service: Service) -> HealthOut:
    """Node reachability, queue depth, relay address, the signers' limits in use."""
    node = NodeHealth(url=service.settings.rpc, reachable=False)
    try:
        chain_id, block = service.health_rpc.batch([("eth_chainId", []), ("eth_blockNumber", [])])
        node = NodeHealth(
            url=service.settings.rpc,
            reachable=True,
            chain_id=int(chain_id, 16),
            block=int(block, 16),
        )
    except Exception as exc:  # any failure means: not usable now
        node.error = str(exc)
    sub = service.submitter.status
    limits = service.signers.limits
    counts = service.store.counts()
    reason = (
        f"node unreachable: {node.error}"
        if not node.reachable
        else "the submitter has stopped"
        if not sub.alive
        else sub.problem
    )
    return HealthOut(
        status="degraded" if reason else "ok",
        reason=reason,
        node=node,
        queue=QueueHealth(
            depth=counts["queued"] + counts["submitted"],
            max_depth=service.settings.max_depth,
            counts=counts,
            in_flight_txs=sub.in_flight,
        ),
        relay=RelayHealth(
            address=service.relay.address,
            next_nonce=sub.next_nonce,
            submitter_alive=sub.alive,
            last_error=sub.last_error,
            problem=sub.problem,
        ),
        signers=SignersHealth(
            known_ttl_s=limits.ttl,
            max_waiting=limits.max_waiting,
            gas_per_window=limits.gas_per_window,
            gas_window_s=limits.gas_window,
            revert_limit=limits.revert_limit,
            revert_window_s=limits.revert_window,
            prosumer_depth=limits.prosumer_depth,
            refused=service.signers.refused.as_dict(),
        ),
    )
