"""Building a running gateway from its settings: connect to the node, load the deployment and
the meter's key, check the key's METER_ROLE, wait for the queue. Every failure here is a
`StartupError` whose message says what to do."""

from __future__ import annotations

from gridgame import HEALTH_PATH, NotHealthy, wait_healthy
from ledger_contracts import Deployment, LedgerError, account, connect, load_key
from tx_queue.client import RelayClient

from .errors import StartupError
from .gateway import Gateway
from .settings import KEY_ENV, Settings
from .store import Store


def build(settings: Settings) -> Gateway:
    try:
        w3 = connect(settings.rpc, timeout=settings.rpc_timeout, wait=settings.startup_wait)
        deployment = Deployment.load(settings.deployment)
        deployment.check_chain(w3)
        signer = account(load_key(settings.key_file, env=KEY_ENV))
        if "Settlement" not in deployment.contracts:
            raise StartupError(
                f"the deployment {settings.deployment} has no Settlement "
                "contract: there is nothing to post readings to"
            )
        market = deployment.contract(w3, "Market")
        settlement = deployment.contract(w3, "Settlement")
        role = market.functions.METER_ROLE().call()
        has_role = market.functions.hasRole(role, signer.address).call()
    except LedgerError as exc:
        raise StartupError(str(exc)) from exc
    if not has_role:
        raise StartupError(
            f"the meter account {signer.address} lacks METER_ROLE (0x{role.hex()}) on the "
            f"Market at {market.address}: the operator must grant it "
            f"(grantRole(METER_ROLE, {signer.address}))"
        )
    try:
        wait_healthy(
            settings.queue.rstrip("/") + HEALTH_PATH,
            timeout=settings.startup_wait,
            interval=0.2,
            request_timeout=3.0,
            name="the transaction queue",
        )
    except NotHealthy as exc:
        raise StartupError(
            f"the transaction queue does not answer at {settings.queue}: "
            f"{exc}; start it (python -m tx_queue) or pass --queue"
        ) from exc
    relay = RelayClient(settings.queue, w3, deployment, signer, timeout=10.0)
    return Gateway(
        w3,
        market,
        settlement,
        relay,
        Store(settings.db),
        wait=settings.wait,
        max_gas=settings.max_gas,
    )
