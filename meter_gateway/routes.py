"""``POST /readings`` (a meter's reading, bearer token) and ``GET /health``.

The routes are plain ``def``: they call the node and the queue, so FastAPI runs them in its
thread pool."""

from __future__ import annotations

from typing import Annotated

import httpx
from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from .errors import Unauthorized
from .gateway import Gateway
from .models import HealthOut, ReadingIn, ReadingOut

bearer = HTTPBearer(auto_error=False, description="the meter's token (`token add`)")


def get_gateway(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway


def get_meter(
    gateway: Annotated[Gateway, Depends(get_gateway)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> str:
    """The meter whose live token the request carries; 401 otherwise."""
    if credentials is None:
        raise Unauthorized("no bearer token: send 'Authorization: Bearer <token>'")
    meter = gateway.store.meter_of(credentials.credentials)
    if meter is None:
        raise Unauthorized("the bearer token is unknown or revoked")
    return meter


GatewayDep = Annotated[Gateway, Depends(get_gateway)]
MeterDep = Annotated[str, Depends(get_meter)]
router = APIRouter()


@router.post(
    "/readings",
    response_model=ReadingOut,
    status_code=201,
    responses={
        202: {"model": ReadingOut, "description": "queued, not mined yet"},
        401: {"description": "no token, or an unknown or revoked one"},
        404: {
            "description": "meter not admitted, no such game, or the prosumer is not a participant"
        },
        409: {"description": "the reading is in already"},
        422: {
            "description": "malformed, outside the metering window or the "
            "delivery period, or above 2^32 - 1 Wh"
        },
        503: {"description": "the node or the queue cannot be reached"},
    },
)
def post_reading(
    body: ReadingIn, meter: MeterDep, gateway: GatewayDep, response: Response
) -> ReadingOut:
    """Post the token's meter's reading for one game: 201 once mined, 202 if still queued
    after the gateway's wait (``request_id`` is the queue's)."""
    out = gateway.submit(meter, body)
    if out.status == "queued":
        response.status_code = 202
    return out


@router.get("/health", response_model=HealthOut)
def health(gateway: GatewayDep, request: Request) -> HealthOut:
    try:
        node = gateway.w3.eth.block_number >= 0
    except Exception:
        node = False
    try:
        queue = httpx.get(gateway.relay.url + "/health", timeout=3.0).status_code == 200
    except httpx.HTTPError:
        queue = False
    return HealthOut(
        status="ok" if node and queue else "degraded",
        node=node,
        queue=queue,
        meter_account=gateway.account,
    )
