"""The queue's parts wired together: store, ledger view, intake, submitter, and the waiters
that wake long-polling HTTP clients when their request reaches a final state."""

from __future__ import annotations

import asyncio
import threading
from collections import defaultdict

from eth_account.signers.local import LocalAccount

from ledger_contracts import Deployment, LedgerError, Rpc, account, connect, load_key

from .batches import SubmitterConfig
from .errors import ConfigError
from .fees import FeePolicy
from .intake import Intake
from .ledger import Ledger
from .logs import fields, get_logger
from .settings import RELAY_DEV_KEY_INDEX, Settings
from .signers import Limits, Signers
from .store import Store
from .submitter import Submitter

log = get_logger("service")


class Waiters:
    """Request id -> asyncio events of the HTTP handlers waiting for it."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._events: dict[int, set[asyncio.Event]] = defaultdict(set)
        self._lock = threading.Lock()

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def register(self, request_id: int) -> asyncio.Event:
        event = asyncio.Event()
        with self._lock:
            self._events[request_id].add(event)
        return event

    def unregister(self, request_id: int, event: asyncio.Event) -> None:
        with self._lock:
            events = self._events.get(request_id)
            if events is not None:
                events.discard(event)
                if not events:
                    del self._events[request_id]

    def notify(self, request_ids: list[int]) -> None:
        """Called from the submitter thread."""
        loop = self._loop
        if loop is None or not request_ids:
            return
        with self._lock:
            woken = [e for i in request_ids for e in self._events.get(i, ())]
        for event in woken:
            loop.call_soon_threadsafe(event.set)


def relay_account(settings: Settings) -> LocalAccount:
    """The relay key: --key-file, RELAY_KEY, or (only on a local Anvil chain) a dev key."""
    try:  # a bad key file is an error, never a reason to fall back on the dev key
        key = load_key(
            settings.key_file,
            env="RELAY_KEY",
            dev_index=RELAY_DEV_KEY_INDEX,
            w3=lambda: connect(settings.rpc, timeout=settings.rpc_timeout, wait=settings.node_wait),
        )
    except LedgerError as exc:
        raise ConfigError(str(exc)) from exc
    return account(key)


class QueueService:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        try:
            self.deployment = Deployment.load(settings.deployment)
        except LedgerError as exc:
            raise ConfigError(str(exc)) from exc
        self.relay = relay_account(settings)
        self.rpc = Rpc(settings.rpc, timeout=settings.rpc_timeout)
        self.health_rpc = Rpc(settings.rpc, timeout=min(2.0, settings.rpc_timeout))
        self.ledger = Ledger(self.rpc, self.deployment)
        self.store = Store(settings.db)
        self.store.bind(
            chain_id=str(self.deployment.chain_id),
            forwarder=self.ledger.forwarder,
            relay=self.relay.address,
        )
        self.waiters = Waiters()
        self.submitter = Submitter(
            self.store,
            self.ledger,
            self.relay,
            SubmitterConfig(
                window=settings.window,
                max_batch=settings.max_batch,
                max_batch_gas=settings.max_batch_gas,
                max_attempts=settings.max_attempts,
                fees=FeePolicy.from_gwei(
                    settings.fee_mode,
                    settings.gas_price_gwei,
                    settings.max_fee_gwei,
                    settings.priority_fee_gwei,
                ),
            ),
            notify=self.waiters.notify,
        )
        self.signers = Signers(
            self.ledger,
            self.store,
            Limits(
                ttl=settings.signer_ttl,
                max_waiting=settings.max_waiting,
                gas_per_window=settings.gas_per_window,
                gas_window=settings.gas_window,
                revert_limit=settings.revert_limit,
                revert_window=settings.revert_window,
                prosumer_depth=settings.prosumer_depth,
            ),
        )
        self.intake = Intake(
            self.store,
            self.ledger,
            max_depth=settings.max_depth,
            max_request_gas=settings.max_request_gas,
            min_deadline_margin=settings.min_deadline_margin,
            on_accept=self.submitter.wake,
            signers=self.signers,
        )

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self.waiters.bind(loop)
        self.submitter.start()
        log.info(
            "tx_queue started",
            extra=fields(
                relay=self.relay.address,
                rpc=self.settings.rpc,
                db=self.settings.db,
                forwarder=self.ledger.forwarder,
                chain_id=self.deployment.chain_id,
            ),
        )

    def stop(self) -> None:
        self.submitter.stop()
        self.rpc.close()
        self.health_rpc.close()
        self.store.close()
        log.info("tx_queue stopped")
