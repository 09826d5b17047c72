"""Joining games: publishing the offer or demand the source wants when a game opens, joining
the games already under way when the agent starts, and finding out that registration closed
when its event went unseen."""

from __future__ import annotations

import time

from ledger_contracts import LedgerError
from tx_queue.errors import RelayError

from .client import Prosumer
from .errors import ProsumerError
from .logs import Tagged, kwh
from .sources import Source
from .tracking import GameTrack


class Registrar:
    """Registers one prosumer in games, adding them to the agent's `tracks`."""

    def __init__(self, prosumer: Prosumer, source: Source, log: Tagged) -> None:
        self.prosumer = prosumer
        self.source = source
        self.log = log

    def register(self, tracks: dict[int, GameTrack], game_id: int, registration_end: int) -> None:
        """Publish the source's offer or demand for a game that opened (or nothing)."""
        intent = self.source.intent(game_id, registration_end)
        if intent is None:
            self.log.info(f"Nothing to trade in game {game_id}: no surplus and no deficit")
            return
        track = tracks.setdefault(game_id, GameTrack(game_id))
        track.intent = intent
        track.registration_end = registration_end
        try:
            self.prosumer.sync_clock()
            if intent.role == "seller":
                assert intent.price is not None
                self.prosumer.offer(game_id, intent.kwh, intent.price)
                self.log.info(
                    f"Published offer in game {game_id}: {kwh(intent.kwh)} kWh at "
                    f"{kwh(intent.price)}"
                )
            else:
                self.prosumer.demand(game_id, intent.kwh)
                self.log.info(f"Published demand in game {game_id}: {kwh(intent.kwh)} kWh")
            track.role = intent.role
        except (ProsumerError, RelayError, LedgerError) as exc:
            self.log.error(f"Could not register in game {game_id}: {exc}")
            tracks.pop(game_id, None)

    def catch_up(self, tracks: dict[int, GameTrack]) -> None:
        """Join what is already under way: the last games' open registration or bidding."""
        reader = self.prosumer.reader
        count = reader.game_count()
        if not count:
            return
        chain_now = reader.chain_time()
        self.prosumer.sync_clock(chain_now)
        for game_id in range(max(1, count - 2), count + 1):
            info = reader.game(game_id)
            role = reader.participant(game_id, self.prosumer.address).role
            phase = info.status.phase
            if role != "none" and phase in ("registration", "bidding"):
                track = tracks.setdefault(game_id, GameTrack(game_id, role=role))
                track.bidding = phase == "bidding"
                if role == "buyer" and track.bidding:
                    track.schedule(time.perf_counter())
            elif phase == "registration" and chain_now < info.params.registration_end:
                self.register(tracks, game_id, info.params.registration_end)

    def closed_unseen(self, track: GameTrack, now: float) -> str | None:
        """A registered buyer heard nothing for a heartbeat: once the registration window is
        over by the chain's clock, look at the game's phase. Returns it if bidding began (or
        the game is over) without us seeing RegistrationClosed, else None."""
        track.looked = now
        try:
            reader = self.prosumer.reader
            if reader.chain_time() < track.registration_end:
                return None
            phase = reader.game(track.game_id).status.phase
        except (ProsumerError, LedgerError) as exc:
            self.log.warning(f"Could not read game {track.game_id}: {exc}")
            return None
        if phase == "registration":
            return None
        self.log.warning(
            f"Game {track.game_id} is past registration ({phase}) although no "
            "RegistrationClosed event was seen; playing on"
        )
        return phase
