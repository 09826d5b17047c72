"""A prosumer's money as a person sees it: its balances (tokens in its wallet, escrow locked in
games) and the history of its trades, read from the settlement's events; a table for people and
plain dicts for JSON.

    wallet = Wallet(w3, deployment, "0xAbc...")
    print(format_balances(wallet.balances()))
    trades = wallet.history()                  # oldest first; history(game=3) for one game
    print(format_history(trades, me=wallet.address))
    print(json.dumps([t.to_dict() for t in trades]))

A trade is what `TradeFixed` fixed when bidding ended (buyer, seller, energy, unit price
including transmission, total), dated by its block's timestamp (UTC); once the game is closed,
`TradeDelivered` adds the energy delivered and the trade's share of the seller's payment (the
seller is paid once for all its trades, `SellerPaid`, which can exceed the sum of the shares,
each rounded down, by a few base units). Amounts are
kept in base units and micro-units per kWh; `to_dict` and the table show currency and kWh.

Errors: `SettlementNotDeployed` (from `prosumer_client.errors`) when the deployment has no
settlement; everything else is the ledger package's (`LedgerError`: node unavailable, ...).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hexbytes import HexBytes
from web3 import Web3
from web3.contract import Contract

from ledger_contracts import MICRO, WH_PER_KWH, Deployment

from .errors import SettlementNotDeployed

CHUNK = 5_000  # blocks per eth_getLogs request


@dataclass(frozen=True)
class Balances:
    address: str
    wallet: int  # base units in the wallet
    escrow: int  # base units locked in games (not yet spent nor released)

    @property
    def total(self) -> int:
        return self.wallet + self.escrow

    def to_dict(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "wallet": self.wallet / MICRO,
            "escrow": self.escrow / MICRO,
            "total": self.total / MICRO,
            "base_units": {"wallet": self.wallet, "escrow": self.escrow},
        }


@dataclass(frozen=True)
class Trade:
    game: int
    buyer: str
    seller: str
    wh: int
    unit_price: int  # micro-units per kWh: energy price + transmission
    energy_price: int  # micro-units per kWh, the seller's part
    hops: int
    date: datetime  # block timestamp of the trade's fixing, UTC
    block: int
    tx: str
    delivered_wh: int | None = None  # None until both sides' meters have read
    paid_to_seller: int | None = None  # base units

    @property
    def total_milli(self) -> int:
        """The trade's value as fixed, in thousandths of a base unit (exact)."""
        return self.wh * self.unit_price

    @property
    def total(self) -> float:
        """The trade's value as fixed, in currency units."""
        return self.total_milli / (WH_PER_KWH * MICRO)

    def side(self, me: str) -> str:
        """ "bought" or "sold" from `me`'s point of view (or "" if neither)."""
        if self.buyer.lower() == me.lower():
            return "bought"
        return "sold" if self.seller.lower() == me.lower() else ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "game": self.game,
            "buyer": self.buyer,
            "seller": self.seller,
            "energy_kwh": self.wh / WH_PER_KWH,
            "price_per_kwh": self.unit_price / MICRO,
            "energy_price_per_kwh": self.energy_price / MICRO,
            "hops": self.hops,
            "total": self.total,
            "date": self.date.isoformat(),
            "block": self.block,
            "tx": self.tx,
            "delivered_kwh": None if self.delivered_wh is None else self.delivered_wh / WH_PER_KWH,
            "paid_to_seller": None if self.paid_to_seller is None else self.paid_to_seller / MICRO,
        }


class Wallet:
    """Reads one prosumer's balances and trades from a deployment with settlement."""

    def __init__(self, w3: Web3, deployment: Deployment, address: str) -> None:
        if "Settlement" not in deployment.contracts:
            raise SettlementNotDeployed("the wallet")
        self.w3 = w3
        self.deployment = deployment
        self.address = Web3.to_checksum_address(address)
        self.settlement: Contract = deployment.contract(w3, "Settlement")
        self.token: Contract = deployment.contract(w3, "GridToken")
        self._timestamps: dict[int, int] = {}

    def balances(self) -> Balances:
        return Balances(
            address=self.address,
            wallet=int(self.token.functions.balanceOf(self.address).call()),
            escrow=int(self.settlement.functions.escrowOf(self.address).call()),
        )

    def history(self, game: int | None = None, from_block: int | None = None) -> list[Trade]:
        """Every trade the prosumer bought or sold, oldest first (optionally of one game)."""
        fixed = self._logs("TradeFixed", game, from_block)
        delivered: dict[tuple[int, str, str], tuple[int, int]] = {}
        for log in self._logs("TradeDelivered", game, from_block):
            args = log["args"]
            key = (int(args["gameId"]), args["buyer"], args["seller"])
            delivered[key] = (int(args["wh"]), int(args["sellerAmount"]))
        trades = []
        for log in fixed:
            args = log["args"]
            key = (int(args["gameId"]), args["buyer"], args["seller"])
            wh, paid = delivered.get(key, (None, None))
            trades.append(
                Trade(
                    game=key[0],
                    buyer=key[1],
                    seller=key[2],
                    wh=int(args["wh"]),
                    unit_price=int(args["unitPrice"]),
                    energy_price=int(args["energyPrice"]),
                    hops=int(args["hops"]),
                    date=self._date(int(log["blockNumber"])),
                    block=int(log["blockNumber"]),
                    tx=HexBytes(log["transactionHash"]).to_0x_hex(),
                    delivered_wh=wh,
                    paid_to_seller=paid,
                )
            )
        return trades

    def _logs(self, name: str, game: int | None, from_block: int | None) -> list[Any]:
        """The decoded `name` events with the prosumer as buyer or as seller, in chain order."""
        event = self.settlement.events[name]()
        topic = HexBytes(event.topic).to_0x_hex()
        me = "0x" + "00" * 12 + self.address[2:].lower()
        game_topic = None if game is None else "0x" + game.to_bytes(32, "big").hex()
        start = self.deployment.block if from_block is None else from_block
        end = self.w3.eth.block_number
        found: dict[tuple[int, int], Any] = {}
        for lo in range(start, end + 1, CHUNK):
            hi = min(lo + CHUNK - 1, end)
            for topics in ([topic, game_topic, me], [topic, game_topic, None, me]):
                logs = self.w3.eth.get_logs(
                    {
                        "fromBlock": lo,
                        "toBlock": hi,  # type: ignore[typeddict-item]
                        "address": self.settlement.address,
                        "topics": topics,
                    }
                )
                for log in logs:
                    found[(int(log["blockNumber"]), int(log["logIndex"]))] = event.process_log(log)
        return [found[k] for k in sorted(found)]

    def _date(self, block: int) -> datetime:
        if block not in self._timestamps:
            self._timestamps[block] = int(self.w3.eth.get_block(block)["timestamp"])
        return datetime.fromtimestamp(self._timestamps[block], tz=UTC)


# ---------------------------------------------------------------------- formatting


def format_balances(b: Balances) -> str:
    return (
        f"{b.address}\n"
        f"  wallet  {b.wallet / MICRO:>14.6f}\n"
        f"  escrow  {b.escrow / MICRO:>14.6f}  (locked in games)\n"
        f"  total   {b.total / MICRO:>14.6f}"
    )


def format_history(trades: list[Trade], me: str | None = None) -> str:
    """A table: date (UTC), game, side, buyer, seller, energy, price, total, delivered."""
    if not trades:
        return "no trades"
    headers = [
        "date (UTC)",
        "game",
        "side",
        "buyer",
        "seller",
        "energy kWh",
        "price/kWh",
        "total",
        "delivered kWh",
    ]
    rows = [
        [
            t.date.strftime("%Y-%m-%d %H:%M:%S"),
            str(t.game),
            t.side(me) if me else "",
            _short(t.buyer),
            _short(t.seller),
            f"{t.wh / WH_PER_KWH:.3f}",
            f"{t.unit_price / MICRO:.6f}",
            f"{t.total:.6f}",
            "-" if t.delivered_wh is None else f"{t.delivered_wh / WH_PER_KWH:.3f}",
        ]
        for t in trades
    ]
    widths = [max(len(h), *(len(r[k]) for r in rows)) for k, h in enumerate(headers)]
    lines = [
        "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)),
        "  ".join("-" * w for w in widths),
    ]
    for row in rows:
        cells = [
            c.ljust(w) if k < 5 else c.rjust(w)
            for k, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells))
    bought = sum(t.total_milli for t in trades if me and t.side(me) == "bought")
    sold = sum(t.total_milli for t in trades if me and t.side(me) == "sold")
    if me:
        lines.append(
            f"bought {bought / (WH_PER_KWH * MICRO):.6f}, "
            f"sold {sold / (WH_PER_KWH * MICRO):.6f} (as fixed, before delivery)"
        )
    return "\n".join(lines)


def _short(address: str) -> str:
    return address[:8] + "…" + address[-4:]
