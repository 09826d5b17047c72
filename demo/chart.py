"""A PNG of a game's convergence: seller loads per round, and how far each buyer's bid still is
from where it ended (log scale), from the per-round bids in the report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display needed

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def convergence_chart(report: dict[str, Any], path: str | Path) -> Path:
    rounds = np.array(report["convergence"], dtype=float)  # rounds x buyers x sellers
    if rounds.size == 0:
        raise ValueError(f"game {report['game']} has no bids to chart")
    n = np.arange(1, rounds.shape[0] + 1)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 8), sharex=True)

    loads = rounds.sum(axis=1)  # rounds x sellers
    for j, seller in enumerate(report["sellers"]):
        top.plot(
            n,
            loads[:, j],
            marker="o",
            ms=3,
            label=f"{seller['name']} ({seller['capacity_kwh']:g} kWh @ {seller['price']:g})",
        )
        top.axhline(seller["capacity_kwh"], color=top.lines[-1].get_color(), ls=":", lw=0.8)
    top.set_ylabel("seller load (kWh)")
    top.set_title(f"Game {report['game']}: {report['end_reason']} after {report['rounds']} rounds")
    top.legend(fontsize=8, loc="best")

    final = rounds[-1]
    for i, buyer in enumerate(report["buyers"]):
        distance = np.abs(rounds[:, i, :] - final[i]).sum(axis=1)
        bottom.semilogy(n, np.maximum(distance, 1e-4), marker=".", label=buyer["name"])
    bottom.set_xlabel("round")
    bottom.set_ylabel("|bid - final bid| (kWh)")
    bottom.legend(fontsize=7, ncol=4, loc="best")
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
