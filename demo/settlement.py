"""A game's money, from its settlement events: payments to sellers, buyers' spending and refunds,
grid imports and exports, the operator's income, debts."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from web3 import Web3

from ledger_contracts import MICRO, Deployment, Event


def settlement_summary(
    w3: Web3, deployment: Deployment, game_id: int, events: list[Event], names: dict[str, str]
) -> dict[str, Any] | None:
    if "Settlement" not in deployment.contracts:
        return None
    people: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))

    def add(who: str, field: str, value: float) -> None:
        people[names.get(who, who)][field] += value

    income: dict[str, float] = {}
    debts = []
    for e in events:
        a = e.args
        if e.name == "TradeDelivered":
            add(a["seller"], "delivered_kwh", a["wh"] / 1000)
            add(a["buyer"], "received_kwh", a["wh"] / 1000)
        elif e.name == "SellerPaid":  # once per seller at close, for all its delivered energy
            add(a["seller"], "paid_for_energy", a["amount"] / MICRO)
        elif e.name == "EscrowReleased":
            add(a["buyer"], "spent_on_trades", a["spent"] / MICRO)
            add(a["buyer"], "paid_to_grid_from_escrow", a["toGrid"] / MICRO)
            add(a["buyer"], "refunded_at_close", a["refunded"] / MICRO)
        elif e.name == "BuyerTradesFixed":
            add(a["buyer"], "refunded_at_convergence", a["refunded"] / MICRO)
        elif e.name == "GridSettled":
            add(a["prosumer"], "grid_import_kwh", a["importWh"] / 1000)
            add(a["prosumer"], "grid_import_charge", a["importCharge"] / MICRO)
            add(a["prosumer"], "grid_export_kwh", a["exportWh"] / 1000)
            add(a["prosumer"], "grid_export_credit", a["exportCredit"] / MICRO)
        elif e.name == "GameIncomePaid":
            income = {
                "transmission": a["transmission"] / MICRO,
                "imports_from_escrow": a["imports"] / MICRO,
                "dust": a["dust"] / MICRO,
            }
        elif e.name == "DebtRecorded":
            debts.append(
                {
                    "debtor": names.get(a["debtor"], a["debtor"]),
                    "creditor": names.get(a["creditor"], a["creditor"]),
                    "amount": a["amount"] / MICRO,
                }
            )
    token = deployment.contract(w3, "GridToken")
    balances = {
        names.get(addr, addr): token.functions.balanceOf(addr).call() / MICRO for addr in names
    }
    return {
        "prosumers": {k: dict(v) for k, v in sorted(people.items())},
        "operator_income": income,
        "debts": debts,
        "wallets_after": balances,
        "closed": any(e.name == "GameClosed" for e in events),
    }


def format_settlement(s: dict[str, Any]) -> str:
    lines = [
        "Settlement (currency units)",
        "who      delivered kWh  paid/spent  grid import  grid export   refunded   wallet",
    ]
    for name, v in s["prosumers"].items():
        moved = v.get("paid_for_energy", 0.0) or v.get("spent_on_trades", 0.0)
        delivered = v.get("delivered_kwh", 0.0) or v.get("received_kwh", 0.0)
        grid_in = v.get("grid_import_charge", 0.0)
        grid_out = v.get("grid_export_credit", 0.0)
        refunded = v.get("refunded_at_convergence", 0.0) + v.get("refunded_at_close", 0.0)
        lines.append(
            f"{name:<8} {delivered:13.3f} {moved:11.4f} {grid_in:12.4f} "
            f"{grid_out:12.4f} {refunded:10.4f} {s['wallets_after'].get(name, 0):8.4f}"
        )
    inc = s["operator_income"]
    if inc:
        lines.append(
            f"Operator income: transmission {inc['transmission']:.4f}, grid imports "
            f"{inc['imports_from_escrow']:.4f}, rounding dust {inc['dust']:.6f}"
        )
    for d in s["debts"]:
        lines.append(f"Debt: {d['debtor']} owes {d['creditor']} {d['amount']:.4f}")
    return "\n".join(lines)
