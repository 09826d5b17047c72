"""Building a running clock from its settings: connect, load the deployment and the key, check the
role and the chain's time control, wait for the queue. Every failure here is a `StartupError`
with a message that says what to do."""

from __future__ import annotations

from web3 import Web3

from gridgame import HEALTH_PATH, NotHealthy, wait_healthy
from ledger_contracts import Deployment, LedgerError, account, connect, load_key
from tx_queue.client import RelayClient

from .actions import RelayExecutor
from .clock import Clock
from .errors import StartupError
from .logs import get_logger
from .model import Plan
from .reader import Reader
from .settings import CLOCK_DEV_KEY_INDEX, KEY_ENV, Settings
from .settlement import bind_settlement
from .time import ChainClock, RealTime, SimulatedTime, controls_time

log = get_logger()


def build(settings: Settings) -> tuple[Clock, str]:
    """The clock and its account address."""
    try:
        w3 = connect(settings.rpc, wait=settings.startup_wait)
        deployment = Deployment.load(settings.deployment)
        deployment.check_chain(w3)
        signer = account(
            load_key(settings.key_file, env=KEY_ENV, w3=w3, dev_index=CLOCK_DEV_KEY_INDEX)
        )
        market = deployment.contract(w3, "Market")
        role = market.functions.CLOCK_ROLE().call()
        has_role = market.functions.hasRole(role, signer.address).call()
    except LedgerError as exc:
        raise StartupError(str(exc)) from exc
    if not has_role:
        raise StartupError(
            f"the clock's account {signer.address} lacks CLOCK_ROLE (0x{role.hex()}) on the "
            f"Market at {market.address}: the operator must grant it "
            f"(grantRole(CLOCK_ROLE, {signer.address}))"
        )
    chain = chain_clock(w3, settings)
    settlement = bind_settlement(w3, deployment)
    _wait_for_queue(settings.queue, settings.startup_wait)
    relay = RelayClient(settings.queue, w3, deployment, signer, timeout=10.0)
    executor = RelayExecutor(
        relay, market, chain, settlement=settlement, timeout=settings.request_timeout
    )
    reader = Reader(market, settlement)
    plan = Plan(
        period=settings.period,
        registration=settings.registration,
        delivery=settings.delivery,
        round_limit=settings.round_limit,
        turn_seconds=settings.turn_seconds,
        epsilon_wh=settings.epsilon_wh,
        metering=settings.metering,
        chunk=settings.chunk,
    )
    _warn_about_windows(settings)
    clock = Clock(
        read=reader.read,
        chain=chain,
        executor=executor,
        plan=plan,
        games=settings.games,
        tick=settings.tick,
        grace=settings.grace,
        meter_grace=settings.meter_grace,
        jump=settings.jump,
    )
    log.info(
        f"Created market clock: account {signer.address}, market {market.address}, "
        f"settlement {'yes' if settlement else 'none deployed'}, "
        + (f"simulated time x{settings.speed:g}" if settings.simulated else "real time")
    )
    return clock, signer.address


def chain_clock(w3: Web3, settings: Settings) -> ChainClock:
    if settings.simulated:
        return SimulatedTime.checked(w3, settings.speed)
    return RealTime(w3, dev_chain=controls_time(w3))


def _wait_for_queue(url: str, wait: float) -> None:
    try:
        wait_healthy(
            url.rstrip("/") + HEALTH_PATH,
            timeout=wait,
            interval=0.2,
            request_timeout=3.0,
            name="the transaction queue",
        )
    except NotHealthy as exc:
        raise StartupError(
            f"the transaction queue does not answer at {url}: {exc}; "
            "start it (python -m tx_queue) or pass --queue"
        ) from exc


def _warn_about_windows(s: Settings) -> None:
    """A tick moves simulated time by speed x tick; a turn shorter than that plus the grace
    can pass before the clock has even seen it."""
    if not s.simulated:
        return
    step = s.speed * s.tick
    if s.turn_seconds <= step + s.grace + 1 or s.registration <= step + s.grace + 1:
        log.warning(
            f"a tick moves chain time by {step:g} s at speed x{s.speed:g}: turns of "
            f"{s.turn_seconds} s or registration of {s.registration} s may pass "
            "before prosumers can act; lower --speed or --tick, or lengthen them"
        )
